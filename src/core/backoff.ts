/** Respawn delay after failed starts: 100 ms doubling per consecutive failure, capped at 30 s. */
export const BACKOFF_INITIAL_MS = 100;
export const BACKOFF_MAX_MS = 30_000;

export function backoffDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.min(failures - 1, 20));
}
