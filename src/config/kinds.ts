/**
 * The kinds of option values: what each accepts and what it becomes. Plain data, so that the option table
 * (options.ts), which cli.ts loads on every command, costs nothing; schema.ts turns a kind into a validator and a
 * JSON Schema when a configuration is actually loaded.
 */
import type { ListenAddress } from '../os/sockaddr.js';
import { rlimitExpected, type Rlimit, type RlimitUnit } from './rlimit.js';
import type { WorkerLogTarget } from './types.js';
import { durationExpected, SIGNAL_EXPECTED, type DurationRange } from './values.js';

export type KindType =
  | 'integer'
  | 'duration'
  | 'mode'
  | 'size'
  | 'signal'
  | 'choice'
  | 'host'
  | 'text'
  | 'path'
  | 'boolean'
  | 'list'
  | 'env-names'
  | 'env'
  | 'argv'
  | 'listen'
  | 'worker-log'
  | 'rlimit';

export interface Kind<T> {
  readonly type: KindType;
  /** How a message ends: `invalid --workers '0': expected <this>`. */
  readonly expected: string;
  /** commander's placeholder: `--workers <n>`; undefined for a switch. */
  readonly arg?: string;
  /** A list on the command line is the flag repeated. */
  readonly repeatable?: boolean;
  /** Relative paths in this value are relative to the file that set it (or the working directory for a flag). */
  readonly relative?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly range?: DurationRange;
  readonly choices?: readonly (string | number)[];
  readonly unit?: RlimitUnit;
  /** Phantom: the type the value becomes. */
  readonly parsed?: (value: T) => T;
}

export type ValueOf<K> = K extends Kind<infer T> ? T : never;

export const integer = (min: number, max: number, arg = 'n'): Kind<number> => ({ type: 'integer', expected: `an integer from ${min} to ${max}`, arg, min, max });

/** Milliseconds once parsed. */
export const duration = (range: DurationRange = {}): Kind<number> => ({ type: 'duration', expected: durationExpected(range), arg: 'duration', range });

export const mode = (max: number): Kind<number> => ({
  type: 'mode',
  expected: `an octal mode as a string such as '0660' (at most ${max.toString(8).padStart(4, '0')})`,
  arg: 'mode',
  max,
});

export const size: Kind<number> = { type: 'size', expected: 'a size in bytes, optionally with K, M or G (e.g. 10M)', arg: 'size' };

export const signal: Kind<NodeJS.Signals> = { type: 'signal', expected: SIGNAL_EXPECTED, arg: 'signal' };

/** A signal, or `generation`: retire through a new generation (programs that cut a request on every signal). */
export const retireSignal: Kind<NodeJS.Signals | 'generation'> = { type: 'signal', expected: `${SIGNAL_EXPECTED}, or generation`, arg: 'signal|generation', choices: ['generation'] };

export const choice = <T extends string | number>(choices: readonly T[], arg: string): Kind<T> => ({
  type: 'choice',
  expected: `one of ${choices.join(', ')}`,
  arg,
  choices,
});

export const host: Kind<string> = { type: 'host', expected: 'an IPv4 or IPv6 literal (e.g. 127.0.0.1 or ::1)', arg: 'addr' };

export const text = (arg: string, expected = 'a non-empty value'): Kind<string> => ({ type: 'text', expected, arg });

export const path = (arg = 'path'): Kind<string> => ({ type: 'path', expected: 'a path', arg, relative: true });

export const boolean: Kind<boolean> = { type: 'boolean', expected: 'true or false' };

export const list = (arg: string, relative: boolean): Kind<readonly string[]> => ({
  type: 'list',
  expected: relative ? 'a path, or a list of paths' : 'a pattern, or a list of patterns',
  arg,
  repeatable: true,
  relative,
});

export const envNames: Kind<readonly string[]> = { type: 'env-names', expected: 'a variable name, or a list of them', arg: 'NAME', repeatable: true };

/** KEY=VALUE on the command line (repeated), a map in a file. */
export const env: Kind<Readonly<Record<string, string>>> = {
  type: 'env',
  expected: 'a map of variable names (letters, digits and _) to values',
  arg: 'KEY=VALUE',
  repeatable: true,
};

/** The worker's argv: after `--` on the command line, a list in a file (never a shell string). */
export const argv: Kind<readonly string[]> = { type: 'argv', expected: 'the program and its arguments as a list, e.g. [php-cgi, -c, /etc/php/php.ini]', relative: true };

export const LISTEN_EXPECTED = 'HOST:PORT, [IPV6]:PORT or a Unix socket path (with a /)';

export const listen: Kind<ListenAddress> = { type: 'listen', expected: LISTEN_EXPECTED, arg: 'address', relative: true };

export const workerLog: Kind<WorkerLogTarget> = { type: 'worker-log', expected: 'a file path, inherit or none', arg: 'path|inherit|none', relative: true };

/** A resource limit: one value for soft and hard, or SOFT:HARD; `unlimited` (rlimit.ts). */
export const rlimit = (unit: RlimitUnit): Kind<Rlimit> => ({ type: 'rlimit', expected: rlimitExpected(unit), arg: unit === 'bytes' ? 'size' : 'n', unit });
