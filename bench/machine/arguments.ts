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

/** A benchmark option's number: `fallback` when not given; a one-line message (`TAG: --NAME 'x' is not …`) otherwise. */
export function numberArgument(tag: string, name: string, text: string | undefined, fallback: number, min: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${tag}: ${name} '${text}' is not ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return value;
}
