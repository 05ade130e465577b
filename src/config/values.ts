/**
 * Parsers for option values as typed. Each one accepts exactly what it documents and otherwise throws a one-line
 * message quoting the value and saying what is expected. Nothing is trimmed: `-p ' 80'` is refused, not read as
 * 80, because a value that only works by accident (a stray space from a quoted shell variable) hides a mistake.
 */
import { constants as osConstants } from 'node:os';

export class InvalidValueError extends Error {
  constructor(
    readonly option: string,
    readonly value: string,
    /** What was expected, as it ends the message: `an integer from 1 to 65535`. */
    readonly expected: string,
  ) {
    super(`invalid ${option} '${value}': expected ${expected}`);
    this.name = 'InvalidValueError';
  }
}

export function parseInteger(option: string, value: string, min: number, max: number): number {
  // A sign only where the range has negatives (nice, oom-score-adj); `-0` is a typo, not 0.
  if (!(min < 0 ? /^(-?[1-9]\d*|\d+)$/ : /^\d+$/).test(value) || Number(value) < min || Number(value) > max) {
    throw new InvalidValueError(option, value, `an integer from ${min} to ${max}`);
  }
  return Number(value);
}

export function parsePort(value: string, option = '--port'): number {
  return parseInteger(option, value, 1, 65535);
}

export interface DurationRange {
  /** Milliseconds; the smallest allowed (0 unless said). */
  readonly minMs?: number;
  /** Seconds; the largest allowed (a day unless said). */
  readonly max?: number;
}

/** What parseDuration accepts, as messages and help text say it. */
export function durationExpected(range: DurationRange = {}): string {
  const max = range.max ?? 86_400;
  const min = (range.minMs ?? 0) > 0 ? 'more than 0' : 'from 0';
  return `a duration ${min} to ${max}s: seconds (1.5), or with a unit (1.5s, 500ms)`;
}

/** A duration: `1.5s`, `500ms`, or a bare number of seconds (`30`, `0.5`); returned in milliseconds. */
export function parseDuration(option: string, value: string, range: DurationRange = {}): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  const ms = match ? Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : 1000)) : NaN;
  if (!match || ms < (range.minMs ?? 0) || ms > (range.max ?? 86_400) * 1000) throw new InvalidValueError(option, value, durationExpected(range));
  return ms;
}

/** Seconds as the control commands take them (`--timeout 30`); units accepted as in parseDuration. */
export function parseSeconds(option: string, value: string, max = 86_400): number {
  return parseDuration(option, value, { max });
}

export function parseOctalMode(option: string, value: string, max = 0o7777): number {
  if (!/^0?[0-7]{1,4}$/.test(value) || parseInt(value, 8) > max) {
    throw new InvalidValueError(option, value, `an octal mode such as 0660 (at most ${max.toString(8).padStart(4, '0')})`);
  }
  return parseInt(value, 8);
}

/**
 * Signals whose default action does not end a process: ignored (CHLD, WINCH, CONT, URG) or stopping it (STOP,
 * TSTP, TTIN, TTOU). As a stop signal every stop would wait for --stop-timeout and end in SIGKILL.
 */
const NOT_ENDING = new Set(['SIGCHLD', 'SIGWINCH', 'SIGCONT', 'SIGURG', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

export const SIGNAL_EXPECTED = 'a signal that ends a process, such as TERM, QUIT, INT or USR1';

export function parseSignal(option: string, value: string): NodeJS.Signals {
  const upper = value.toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!/^SIG[A-Z0-9]+$/.test(name) || !(name in osConstants.signals)) throw new InvalidValueError(option, value, SIGNAL_EXPECTED);
  if (NOT_ENDING.has(name)) {
    const action = ['SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'].includes(name) ? 'stops a process' : 'is ignored';
    throw new InvalidValueError(option, value, `${SIGNAL_EXPECTED} (${name} ${action} by default: every stop would wait for the stop timeout)`);
  }
  return name;
}

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseEnvAssignment(value: string, option = '--env'): [string, string] {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value);
  if (!match) throw new InvalidValueError(option, value, 'KEY=VALUE with KEY made of letters, digits and _');
  return [match[1] as string, match[2] as string];
}

export function parseEnvName(value: string, option: string): string {
  if (!ENV_NAME.test(value)) throw new InvalidValueError(option, value, 'a variable name made of letters, digits and _');
  return value;
}

export function parseChoice<T extends string>(option: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidValueError(option, value, `one of ${choices.join(', ')}`);
  }
  return value as T;
}

/** A name, a path, a pattern: anything but empty, and no NUL (which no path or name can hold). */
export function parseText(option: string, value: string, expected = 'a non-empty value'): string {
  if (value === '' || value.includes('\0')) throw new InvalidValueError(option, value, `${expected} without NUL bytes`);
  return value;
}
