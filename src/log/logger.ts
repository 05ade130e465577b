/**
 * The supervisor's own log. Everything outside log/ depends on this interface only, so the backend
 * (stderr now, winston with rotation later) can change without touching the supervisor.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Structured facts that go with a message (pid, slot, exit code, …). */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Reopen files after an external rename (logrotate create mode, SIGUSR1). */
  reopen(): void;
  /** Flush and release; resolves when everything written so far has reached its sink. */
  close(): Promise<void>;
}

function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
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

export interface StderrLoggerOptions {
  readonly level: LogLevel;
  /** Under systemd (JOURNAL_STREAM set) the journal stamps lines itself. */
  readonly timestamps: boolean;
  readonly write?: (line: string) => void;
}

/** The foreground logger: one text line per event on stderr. */
export function createStderrLogger(options: StderrLoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const threshold = levelRank(options.level);
  return {
    log(level, message, fields) {
      if (levelRank(level) > threshold) return;
      const stamp = options.timestamps ? `${new Date().toISOString()} ` : '';
      write(`${stamp}fcgi-spawn[${process.pid}]: ${level}: ${message}${formatFields(fields)}\n`);
    },
    reopen() {},
    close() {
      return Promise.resolve();
    },
  };
}
