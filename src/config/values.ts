/**
 * Parsers for option values as typed. Each one accepts exactly what it documents and otherwise
 * throws a one-line message quoting the value and saying what is expected.
 */
import { constants as osConstants } from 'node:os';

export class InvalidValueError extends Error {
  constructor(option: string, value: string, expected: string) {
    super(`invalid ${option} '${value}': expected ${expected}`);
    this.name = 'InvalidValueError';
  }
}

export function parseInteger(option: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new InvalidValueError(option, value, `an integer from ${min} to ${max}`);
  }
  return Number(value);
}

export function parsePort(value: string): number {
  return parseInteger('--port', value, 1, 65535);
}

/** Seconds, with decimals allowed (`0.5`), returned in milliseconds. */
export function parseSeconds(option: string, value: string, max = 86_400): number {
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || seconds > max) {
    throw new InvalidValueError(option, value, `a number of seconds from 0 to ${max}`);
  }
  return Math.round(seconds * 1000);
}

export function parseOctalMode(option: string, value: string, max = 0o7777): number {
  if (!/^0?[0-7]{1,4}$/.test(value.trim()) || parseInt(value, 8) > max) {
    throw new InvalidValueError(option, value, `an octal mode such as 0660 (at most ${max.toString(8).padStart(4, '0')})`);
  }
  return parseInt(value, 8);
}

export function parseSignal(option: string, value: string): NodeJS.Signals {
  const upper = value.trim().toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (!(name in osConstants.signals) || name === 'SIGSTOP') {
    throw new InvalidValueError(option, value, 'a signal name such as TERM, QUIT, INT or USR1');
  }
  return name;
}

export function parseEnvAssignment(value: string, option = '--env'): [string, string] {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(value);
  if (!match) throw new InvalidValueError(option, value, 'KEY=VALUE with KEY made of letters, digits and _');
  return [match[1] as string, match[2] as string];
}

export function parseChoice<T extends string>(option: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidValueError(option, value, `one of ${choices.join(', ')}`);
  }
  return value as T;
}
