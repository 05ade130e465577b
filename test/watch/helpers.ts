/** Shared by the watch tests: configurations with real paths, and a recorder of what the watcher reported. */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Configuration, PoolConfig, SupervisorConfig } from '../../src/config/types.js';
import type { WatchCallbacks } from '../../src/watch.js';
import { waitFor } from '../helpers/wait.js';

/** Debounce in tests: short, but long enough that one synchronous burst is one quiet period. */
export const DEBOUNCE_MS = 150;

/** A temporary directory (real path: /tmp may be a symlink), removed after the test. */
export function tempDir(t: TestContext): string {
  const dir = realpathSync(mkdtempSync(join(os.tmpdir(), 'fcgi-spawn-watch-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function pool(name: string, watch: Partial<Pick<PoolConfig, 'watch' | 'watchIgnore' | 'watchDebounceMs' | 'touchReload' | 'workerLog'>> = {}): PoolConfig {
  return {
    name,
    address: { kind: 'tcp', host: '127.0.0.1', port: 9000 },
    backlog: 511,
    socketMode: 0o660,
    workers: 1,
    program: 'true',
    programPath: '/bin/true',
    args: [],
    env: {},
    cwd: '/',
    fd: 0,
    blocking: 'auto',
    startRetries: 3,
    startTimeoutMs: 10_000,
    startSecsMs: 1_000,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    gracefulTimeoutMs: 30_000,
    steerGraceMs: 1_000,
    watch: [],
    watchIgnore: [],
    watchDebounceMs: DEBOUNCE_MS,
    ...watch,
  };
}

export function configuration(pools: readonly PoolConfig[], supervisor: Partial<Pick<SupervisorConfig, 'watchConfig' | 'configFile' | 'sourceFiles' | 'logFile'>> = {}): Configuration {
  return {
    supervisor: { name: 'watch-test', daemon: false, daemonized: false, logLevel: 'info', logFormat: 'text', watchConfig: false, sourceFiles: [], ...supervisor },
    pools,
  };
}

export type Report = { readonly kind: 'config'; readonly path: string } | { readonly kind: 'pool'; readonly pool: string; readonly path: string } | { readonly kind: 'warning'; readonly message: string };

/** Callbacks that record, in order, what the watcher reported. */
export class Recorder implements WatchCallbacks {
  readonly reports: Report[] = [];

  onConfigChanged(path: string): void {
    this.reports.push({ kind: 'config', path });
  }

  onPoolChanged(pool: string, path: string): void {
    this.reports.push({ kind: 'pool', pool, path });
  }

  onWarning(message: string): void {
    this.reports.push({ kind: 'warning', message });
  }

  get changes(): Report[] {
    return this.reports.filter((report) => report.kind !== 'warning');
  }

  get warnings(): string[] {
    return this.reports.flatMap((report) => (report.kind === 'warning' ? [report.message] : []));
  }

  /** Waits until `count` changes were reported; returns the last. */
  async change(count: number, what: string): Promise<Report> {
    return waitFor(`${what} (change report ${count}; so far ${JSON.stringify(this.changes)})`, () => this.changes[count - 1], { timeoutMs: 15_000 });
  }

  async warning(pattern: RegExp): Promise<string> {
    return waitFor(`a warning matching ${pattern} (so far ${JSON.stringify(this.warnings)})`, () => this.warnings.find((message) => pattern.test(message)), { timeoutMs: 15_000 });
  }
}
