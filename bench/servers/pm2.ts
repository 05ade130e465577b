/**
 * PM2 (installed with npm into a temp dir) in cluster mode with N instances of bench/apps/http-app.js on
 * PORT, its daemon under a PM2_HOME of our own. Reload: `pm2 reload NAME` (for each worker in turn: fork a new
 * one, wait for it to listen, SIGINT the old one, wait for its exit or SIGKILL it after kill_timeout);
 * done when the command returns, so the duration includes the pm2 CLI's own start-up. Stop: `pm2 kill`
 * with our PM2_HOME, then the daemon's process group is checked and SIGKILLed if anything is left.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Upstream } from '../../test/helpers/nginx.js';
import { briefStat } from '../respawn/observe.js';
import { signalPid } from './process.js';
import { answers, failedReload, until, type Pool, type PoolContext, type ReloadSample } from './pool.js';

const NAME = 'bench-http';

export class Pm2Pool implements Pool {
  readonly label: string;
  readonly command: string;
  readonly upstream: Upstream;
  readonly port: number;
  private readonly home: string;
  private daemon: { pid: number; startTime: number } | undefined;

  constructor(
    private readonly pm2: string,
    private readonly app: string,
    private readonly instances: number,
    private readonly context: PoolContext,
  ) {
    this.label = `PM2 cluster ×${instances}`;
    this.port = context.port;
    this.home = join(context.dir, 'pm2-home');
    this.upstream = { http: { address: `127.0.0.1:${context.port}` } };
    this.command = `PM2_HOME=${this.home} pm2 start ${join(context.dir, 'ecosystem.json')} (exec_mode cluster, instances ${instances}, ${app}, PORT=${context.port})`;
  }

  /** Runs the pm2 CLI with our PM2_HOME; resolves with its output, rejects on a non-zero exit. */
  private run(args: readonly string[], timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.pm2, [...args], { env: { ...process.env, PM2_HOME: this.home }, timeout: timeoutMs, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`pm2 ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`));
        else resolve(stdout);
      });
    });
  }

  private workers(): number[] {
    if (!this.daemon) return [];
    return this.context.ledger.adoptChildren(this.daemon.pid, `${this.label} worker`);
  }

  async start(): Promise<void> {
    const ecosystem = {
      apps: [{ name: NAME, script: this.app, exec_mode: 'cluster', instances: this.instances, env: { PORT: String(this.port) }, merge_logs: true }],
    };
    const file = join(this.context.dir, 'ecosystem.json');
    writeFileSync(file, `${JSON.stringify(ecosystem, null, 2)}\n`);
    try {
      await this.run(['start', file]);
    } finally {
      this.recordDaemon();
    }
    const ready = await until(async () => this.workers().length === this.instances && (await answers(this.port)), 30_000, 50);
    if (!ready) throw new Error(`${this.label}: ${this.workers().length} workers, port ${this.port} not answering after 30 s`);
  }

  /** PM2's daemon (God) detaches into a session of its own: recorded as a group leader. */
  private recordDaemon(): void {
    if (this.daemon) return;
    try {
      const pid = Number(readFileSync(join(this.home, 'pm2.pid'), 'utf8').trim());
      const stat = briefStat(pid);
      if (!stat) return;
      this.daemon = { pid, startTime: stat.startTime };
      this.context.ledger.add(pid, stat.startTime, 'PM2 daemon', true);
    } catch {
      // No daemon started.
    }
  }

  async reload(): Promise<ReloadSample> {
    const started = performance.now();
    const old = this.workers();
    try {
      await this.run(['reload', NAME]);
      const done = performance.now();
      const now = this.workers();
      const stale = now.filter((pid) => old.includes(pid));
      if (stale.length > 0 || now.length !== this.instances) {
        return { ms: done - started, ok: false, note: `after reload: ${now.length} workers, ${stale.length} of them old` };
      }
      return { ms: done - started, ok: true };
    } catch (error) {
      return failedReload(started, error);
    }
  }

  supervisorPids(): number[] {
    return this.daemon ? [this.daemon.pid] : [];
  }

  async stop(): Promise<string> {
    const notes: string[] = [];
    this.recordDaemon();
    this.workers();
    try {
      await this.run(['kill'], 30_000);
    } catch (error) {
      notes.push(`pm2 kill failed: ${(error as Error).message.split('\n')[0]}`);
    }
    const daemon = this.daemon;
    if (daemon) {
      const gone = (): boolean => {
        const stat = briefStat(daemon.pid);
        return stat === undefined || stat.state === 'Z' || stat.startTime !== daemon.startTime;
      };
      if (!(await until(gone, 10_000, 10))) {
        notes.push(`PM2 daemon ${daemon.pid} still running after pm2 kill: SIGKILL`);
        signalPid(daemon.pid, 'SIGKILL');
      }
      const left = this.context.ledger.groupMembers(daemon.pid, daemon.startTime);
      if (left.length > 0) {
        notes.push(`PM2 left ${left.join(', ')} in its daemon's group: SIGKILL`);
        for (const pid of left) signalPid(pid, 'SIGKILL');
        await this.context.ledger.waitGone(left, 5_000);
      }
    }
    return notes.join('; ');
  }
}
