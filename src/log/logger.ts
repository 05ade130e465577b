/**
 * The supervisor's own log. Everything outside log/ depends on this interface only, so the backend
 * (winston into a rotating file or stderr: supervisor-log.ts, assembled by setup.ts) can change without
 * touching the supervisor.
 */
import type { LogLevel } from '../config/log-values.js';

export { LOG_LEVELS, type LogLevel } from '../config/log-values.js';

/** Structured facts that go with a message (pid, slot, exit code, …). */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Reopen files after an external rename (logrotate create mode, SIGUSR1). */
  reopen(): void;
  /** Flush and release; resolves when everything written so far has reached its sink. */
  close(): Promise<void>;
}

/** ` key=value key2="with space"`, or '' without fields (shared with supervisor-log.ts). */
export function formatFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(`${key}=${typeof value === 'string' && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`);
  }
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}
