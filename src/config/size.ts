/**
 * Sizes as typed on the command line or in a config file: `10M`, `512K`, `1G`, `4096`.
 * Units are powers of 1024 (as logrotate's `size 10M`); an optional trailing `B` or `iB` is accepted
 * (`10MB`, `10MiB`) because people type it, and it means the same.
 */
const UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

const SIZE_PATTERN = /^(\d+)([KMG]?)(?:I?B)?$/i;

/** Parses a size; throws a one-line error quoting the value when it is not a positive whole number of bytes. */
export function parseSize(text: string): number {
  const match = SIZE_PATTERN.exec(text);
  const digits = match?.[1];
  const unit = UNITS[(match?.[2] ?? '').toUpperCase()];
  if (digits === undefined || unit === undefined) {
    throw new Error(`invalid size ${JSON.stringify(text)}: expected a number of bytes, optionally with K, M or G (e.g. 10M)`);
  }
  const bytes = Number(digits) * unit;
  if (bytes === 0) throw new Error(`invalid size ${JSON.stringify(text)}: expected a size greater than 0`);
  if (!Number.isSafeInteger(bytes)) throw new Error(`invalid size ${JSON.stringify(text)}: too large`);
  return bytes;
}

/** `10485760` → `10M`, for messages and help text; exact values only, otherwise bytes. */
export function formatSize(bytes: number): string {
  for (const unit of ['G', 'M', 'K'] as const) {
    const factor = UNITS[unit] ?? 1;
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}
