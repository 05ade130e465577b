/**
 * What is wrong with a configuration, every problem at once, each naming where it came from: a flag
 * (`--workers`), or a file with the key's path (`pools[1].workers`) and, for YAML and JSON, its line and column.
 * config/ throws ConfigError; commands/ alone turns its kind into an exit code.
 */

/** usage: a bad value or a missing one; permission: an unsafe file, a program not executable, root needed;
 *  not-found: a config file or worker program that does not exist. */
export type ProblemKind = 'usage' | 'permission' | 'not-found';

export interface ConfigProblem {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** `--workers`, `pools[1].workers`, or `` for the file as a whole. */
  readonly path: string;
  readonly message: string;
  readonly kind: ProblemKind;
}

export type Origin =
  | { readonly kind: 'flag'; readonly flag: string }
  | { readonly kind: 'file'; readonly file: string; readonly path: readonly PropertyKey[] }
  | { readonly kind: 'default' };

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Where a key path sits in a file; undefined where the format keeps no positions (JS) or the key is absent. */
export type Locate = (file: string, path: readonly PropertyKey[], at: 'key' | 'value') => Position | undefined;

export function formatProblem(problem: ConfigProblem): string {
  if (problem.file === undefined) return problem.message;
  const where = problem.line !== undefined ? `${problem.file}:${problem.line}:${problem.column ?? 1}` : problem.file;
  return `${where}: ${problem.message}`;
}

export class ConfigError extends Error {
  /** The first problem's kind: the one a single exit code reports. */
  readonly kind: ProblemKind;

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.kind = problems[0]?.kind ?? 'usage';
  }
}

/** `['pools', 1, 'workers']` → `pools[1].workers`. */
export function pathText(path: readonly PropertyKey[]): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
}

/** The name a message gives an origin: the flag, or the key path. */
export function label(origin: Origin, fallback = 'value'): string {
  if (origin.kind === 'flag') return origin.flag;
  if (origin.kind === 'file') return pathText(origin.path) || fallback;
  return fallback;
}

export function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

/** Problems as they are found; throw() when any. */
export class Problems {
  private readonly list: ConfigProblem[] = [];

  constructor(private readonly locate: Locate = () => undefined) {}

  get count(): number {
    return this.list.length;
  }

  add(origin: Origin, message: string, kind: ProblemKind = 'usage', at: 'key' | 'value' = 'value'): void {
    if (origin.kind !== 'file') {
      this.list.push({ path: label(origin, ''), message, kind });
      return;
    }
    const position = this.locate(origin.file, origin.path, at) ?? this.nearest(origin.file, origin.path);
    this.list.push({ file: origin.file, ...(position ? { line: position.line, column: position.column } : {}), path: pathText(origin.path), message, kind });
  }

  /** `invalid pools[1].workers 0: expected an integer from 1 to 4096`. */
  invalid(origin: Origin, value: unknown, expected: string): void {
    this.add(origin, `invalid ${label(origin)} ${quote(value)}: expected ${expected}`);
  }

  /** A problem of the file as a whole (not found, unreadable, unsafe, a syntax error at a position). */
  file(file: string, message: string, kind: ProblemKind = 'usage', position?: Position): void {
    this.list.push({ file, ...(position ? { line: position.line, column: position.column } : {}), path: '', message, kind });
  }

  /** The command line's problems first, then each file's in the order of its lines. */
  throwIfAny(): void {
    if (this.list.length === 0) return;
    const order = (problem: ConfigProblem): [string, number, number] => [problem.file ?? '', problem.line ?? 0, problem.column ?? 0];
    const sorted = [...this.list].sort((a, b) => {
      const [fa, la, ca] = order(a);
      const [fb, lb, cb] = order(b);
      return fa === fb ? la - lb || ca - cb : 0;
    });
    throw new ConfigError(sorted);
  }

  /** A key that is missing is reported where its mapping is. */
  private nearest(file: string, path: readonly PropertyKey[]): Position | undefined {
    for (let length = path.length - 1; length >= 0; length -= 1) {
      const position = this.locate(file, path.slice(0, length), 'value');
      if (position) return position;
    }
    return undefined;
  }
}
