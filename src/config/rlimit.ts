/**
 * Resource limits as a pool gives them (`rlimit-nofile`, `rlimit-core`, php-fpm's rlimit_files and rlimit_core):
 * one value sets the soft and the hard limit alike, as php-fpm and `prlimit --nofile=N` do; `SOFT:HARD` sets each;
 * either may be `unlimited`. Sizes take K, M, G (powers of 1024). Plain data: options.ts loads this on every command.
 */
import { formatSize, parseSize } from './size.js';

export type RlimitBound = number | 'unlimited';

export interface Rlimit {
  readonly soft: RlimitBound;
  readonly hard: RlimitBound;
}

/** What a limit counts: files (a plain number) or bytes (a size). */
export type RlimitUnit = 'count' | 'bytes';

export function rlimitExpected(unit: RlimitUnit): string {
  return unit === 'bytes'
    ? 'a size in bytes (K, M, G allowed), unlimited, or SOFT:HARD with the soft limit at most the hard one (e.g. 0:unlimited)'
    : 'a number, unlimited, or SOFT:HARD with the soft limit at most the hard one (e.g. 1024:4096)';
}

/** The same as a JSON Schema pattern (editors), for the string form. */
export function rlimitPattern(unit: RlimitUnit): RegExp {
  // No flags: a JSON Schema pattern carries none (parseSize takes k, kB, KiB alike).
  const one = unit === 'bytes' ? '(\\d+([KMGkmg]([iI]?[bB])?)?|unlimited)' : '(\\d+|unlimited)';
  return new RegExp(`^${one}(:${one})?$`);
}

function bound(text: string, unit: RlimitUnit): RlimitBound | undefined {
  if (text === 'unlimited') return 'unlimited';
  if (/^\d+$/.test(text)) return Number.isSafeInteger(Number(text)) ? Number(text) : undefined;
  if (unit !== 'bytes') return undefined;
  try {
    return parseSize(text);
  } catch {
    return undefined;
  }
}

/** Infinity for `unlimited`, for comparisons. */
export function boundValue(value: RlimitBound): number {
  return value === 'unlimited' ? Infinity : value;
}

/** `4096`, `unlimited`, `1024:4096`; undefined when the text is none of these, or the soft limit passes the hard. */
export function parseRlimit(text: string, unit: RlimitUnit): Rlimit | undefined {
  const parts = text.split(':');
  if (parts.length > 2) return undefined;
  const [softText = '', hardText = softText] = parts;
  const soft = bound(softText, unit);
  const hard = bound(hardText, unit);
  if (soft === undefined || hard === undefined) return undefined;
  return boundValue(soft) <= boundValue(hard) ? { soft, hard } : undefined;
}

function formatBound(value: RlimitBound, unit: RlimitUnit): string {
  return value === 'unlimited' ? value : unit === 'bytes' && value > 0 ? formatSize(value) : String(value);
}

/** As a file writes it: `4096`, `1024:4096`, `0:unlimited`. */
export function formatRlimit(limit: Rlimit, unit: RlimitUnit): string | number {
  if (limit.soft === limit.hard) return typeof limit.soft === 'number' && unit === 'count' ? limit.soft : formatBound(limit.soft, unit);
  return `${formatBound(limit.soft, unit)}:${formatBound(limit.hard, unit)}`;
}

/** prlimit(1)'s `--nofile=SOFT:HARD`: bytes and counts as plain numbers. */
export function prlimitValue(limit: Rlimit): string {
  return `${limit.soft}:${limit.hard}`;
}
