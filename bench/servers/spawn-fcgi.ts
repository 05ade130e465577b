/**
 * spawn-fcgi as a throughput reference, two ways:
 *  - bare: `spawn-fcgi -F N -P PIDFILE` binds, forks N workers and exits: no supervisor at all, the floor
 *    any supervisor is measured against (the workers are orphans; their pids come from the pidfile);
 *  - with multiwatch: `spawn-fcgi -n -- multiwatch -f N -- PROGRAM`: spawn-fcgi binds and execs multiwatch,
 *    which forks N workers and respawns them.
 * Ready when N worker processes sit in accept() on the socket. No reload: these rows are for throughput.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Upstream } from '../../test/helpers/nginx.js';
import { briefStat, isIdle, socketInode } from '../respawn/observe.js';
import { ServerProcess, signalPid } from './process.js';
import { failedReload, until, type Pool, type PoolContext, type ReloadSample } from './pool.js';

export interface SpawnFcgiSpec {
  readonly spawnFcgi: string;
  /** multiwatch's path to run it under spawn-fcgi -n, or undefined for bare spawn-fcgi -F. */
  readonly multiwatch: string | undefined;
  readonly workers: number;
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly upstream: (port: number) => Upstream;
}

export class SpawnFcgiPool implements Pool {
  readonly label: string;
  readonly command: string;
  readonly upstream: Upstream;
  readonly port: number;
  private server: ServerProcess | undefined;
  private orphans: number[] = [];
  private readonly args: string[];

  constructor(
    private readonly spec: SpawnFcgiSpec,
    private readonly context: PoolContext,
  ) {
    this.port = context.port;
    this.upstream = spec.upstream(context.port);
    const address = ['-a', '127.0.0.1', '-p', String(context.port)];
    if (spec.multiwatch) {
      this.label = `spawn-fcgi + multiwatch ×${spec.workers}`;
      this.args = ['-n', ...address, '--', spec.multiwatch, '-f', String(spec.workers), '--', ...spec.command];
    } else {
      this.label = `spawn-fcgi -F ${spec.workers} (no supervisor)`;
      this.args = [...address, '-F', String(spec.workers), '-P', join(context.dir, 'spawn-fcgi.pid'), '--', ...spec.command];
    }
    this.command = [spec.spawnFcgi, ...this.args].join(' ');
  }

  /** The worker processes: multiwatch's children, or the pids spawn-fcgi wrote. */
  private workers(): number[] {
    if (this.server) return this.context.ledger.adoptChildren(this.server.pid, `${this.label} worker`);
    return this.orphans.filter((pid) => {
      const stat = briefStat(pid);
      return stat !== undefined && stat.state !== 'Z';
    });
  }

  async start(): Promise<void> {
    if (this.spec.multiwatch) {
      this.server = new ServerProcess(this.label, this.spec.spawnFcgi, this.args, { env: this.spec.env }, this.context.ledger);
    } else {
      const run = spawnSync(this.spec.spawnFcgi, this.args, { env: this.spec.env, encoding: 'utf8', timeout: 30_000 });
      if (run.status !== 0) throw new Error(`${this.command}: ${run.error?.message ?? `exit status ${run.status}`}\n${run.stderr}`);
      const text = readFileSync(join(this.context.dir, 'spawn-fcgi.pid'), 'utf8');
      this.orphans = text.split(/\s+/).filter(Boolean).map(Number);
      // Each worker called setsid(): recorded as a group leader.
      for (const pid of this.orphans) this.context.ledger.adopt(pid, `${this.label} worker`, true);
    }
    const ready = await until(() => {
      const workers = this.workers();
      const inode = socketInode(workers[0] ?? 0, 0);
      return workers.length === this.spec.workers && inode !== undefined && workers.every((pid) => isIdle(pid, inode));
    }, 30_000, 10);
    if (!ready) throw new Error(`${this.label}: ${this.workers().length} of ${this.spec.workers} workers in accept() after 30 s${this.server ? `\n${this.server.tail()}` : ''}`);
  }

  async reload(): Promise<ReloadSample> {
    return failedReload(0, new Error(`${this.label} has no reload`));
  }

  supervisorPids(): number[] {
    return this.server?.running ? [this.server.pid] : [];
  }

  async stop(): Promise<string> {
    if (this.server) {
      this.workers();
      return this.server.stop('SIGTERM', 10_000);
    }
    const live = this.workers();
    for (const pid of live) signalPid(pid, 'SIGTERM');
    const gone = await until(() => this.workers().length === 0, 10_000, 10);
    if (gone) return '';
    const left = this.workers();
    for (const pid of left) signalPid(pid, 'SIGKILL');
    return `${this.label}: ${left.join(', ')} ignored SIGTERM: SIGKILL`;
  }
}
