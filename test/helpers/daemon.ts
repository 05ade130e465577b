/**
 * Daemons in tests: each test gets its own run and log directories (FCGI_SPAWN_RUN_DIR,
 * FCGI_SPAWN_LOG_DIR), runs the real CLI, and its cleanup ends every process the instances it
 * started recorded — supervisors and worker groups — by pid, then removes the directories.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './supervisor.js';
import { groupMembers, isAlive, killQuietly } from './processes.js';
import { waitFor } from './wait.js';

export interface RecordedInstance {
  readonly name: string;
  readonly supervisor: { readonly pid: number; readonly startTime: number };
  readonly workers: ReadonlyArray<{ readonly pid: number; readonly startTime: number }>;
  readonly argv: readonly string[];
}

/** A sandbox for one test, cleaned up after it. */
export function daemonSandbox(t: { after: (fn: () => Promise<void>) => void }): DaemonSandbox {
  const box = new DaemonSandbox();
  t.after(() => box.cleanup());
  return box;
}

export class DaemonSandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-daemon-'));
  readonly runDir = join(this.dir, 'run');
  readonly logDir = join(this.dir, 'log');
  private readonly seen = new Set<number>();

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, FCGI_SPAWN_RUN_DIR: this.runDir, FCGI_SPAWN_LOG_DIR: this.logDir };
  }

  async cli(args: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const result = await runCli(args, { env: this.env, timeoutMs });
    this.remember();
    return result;
  }

  records(): RecordedInstance[] {
    let files: string[] = [];
    try {
      files = readdirSync(this.runDir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return files.map((f) => JSON.parse(readFileSync(join(this.runDir, f), 'utf8')) as RecordedInstance);
  }

  record(name: string): RecordedInstance | undefined {
    return this.records().find((r) => r.name === name);
  }

  /** Every pid recorded so far (supervisors and workers), so that cleanup can reach them. */
  remember(): void {
    for (const record of this.records()) {
      this.seen.add(record.supervisor.pid);
      for (const worker of record.workers) this.seen.add(worker.pid);
    }
  }

  log(name: string): string {
    try {
      return readFileSync(join(this.logDir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  /** Processes started under this sandbox: they carry its run directory in their environment. */
  marked(): number[] {
    const marker = `FCGI_SPAWN_RUN_DIR=${this.runDir}`;
    const found: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        if (readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0').includes(marker)) found.push(Number(entry));
      } catch {
        // Gone, or not ours to read.
      }
    }
    return found.filter(isAlive);
  }

  /**
   * Supervisors first (they stop their own workers, including any they respawned meanwhile), then
   * whatever still carries this sandbox's marker, by pid and process group.
   */
  async cleanup(): Promise<void> {
    this.remember();
    const supervisors = this.records().map((r) => r.supervisor.pid).filter(isAlive);
    for (const pid of supervisors) killQuietly(pid, 'SIGTERM');
    try {
      await waitFor('supervisors gone', () => supervisors.every((pid) => !isAlive(pid)), { timeoutMs: 15_000 });
    } catch {
      for (const pid of supervisors) killQuietly(pid, 'SIGKILL');
    }
    const leftovers = [...new Set([...[...this.seen].filter(isAlive), ...this.marked()])];
    for (const pid of leftovers) {
      killQuietly(pid, 'SIGKILL');
      if (groupMembers(pid).length > 0) killQuietly(-pid, 'SIGKILL');
    }
    await waitFor('every sandbox process gone', () => this.marked().length === 0 && leftovers.every((pid) => !isAlive(pid)), { timeoutMs: 10_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
