/**
 * What log/ takes from config/ about the logs beyond SupervisorConfig and PoolConfig. The log options themselves
 * are rows of the option table (options.ts); what only the mode can decide (stderr or a file, inherit or a file)
 * is left undefined there and resolved by log/setup.ts, which knows whether it runs in the foreground.
 */
export type { WorkerLogTarget } from './types.js';

/** Rotated files kept when --log-max-files is not given (PATH.1 … PATH.5). */
export const DEFAULT_LOG_MAX_FILES = 5;
