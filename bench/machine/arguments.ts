/** A benchmark's command line: its options, or the exit code after printing the usage (--help: 0, a bad option: 2). */
export type Parsed<T> = { readonly options: T } | { readonly exit: number };

/** `parse` returns undefined for --help and throws a one-line message for anything it does not accept. */
export function parseArguments<T>(argv: readonly string[], parse: (argv: string[]) => T | undefined, usage: string): Parsed<T> {
  let options: T | undefined;
  try {
    options = parse([...argv]);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}\n`);
    return { exit: 2 };
  }
  if (options === undefined) {
    process.stdout.write(`${usage}\n`);
    return { exit: 0 };
  }
  return { options };
}
