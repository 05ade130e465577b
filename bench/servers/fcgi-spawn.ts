/**
 * fcgi-spawn in the foreground (`start -n`) as a benchmark pool. Ready: its `info: ready:` line. Reload:
 * SIGHUP, done at its `reload finished: generation N serving` line (the old generation retired), failed at
 * `reload failed`. Its run directory is a temp dir (FCGI_SPAWN_RUN_DIR), so no other instance is touched.
 */
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Upstream } from '../../test/helpers/nginx.js';
import { ServerProcess, type Line } from './process.js';
import { failedReload, type Pool, type PoolContext, type ReloadSample } from './pool.js';

export interface FcgiSpawnSpec {
  readonly label: string;
  readonly repo: string;
  readonly workers: number;
  /** fcgi-spawn options before `--` (the port, -F and --allow-root are added). */
  readonly options: readonly string[];
  readonly command: readonly string[];
  readonly upstream: (port: number) => Upstream;
}

export class FcgiSpawnPool implements Pool {
  readonly label: string;
  readonly command: string;
  readonly upstream: Upstream;
  readonly port: number;
  private server: ServerProcess | undefined;
  private readonly args: string[];

  constructor(
    private readonly spec: FcgiSpawnSpec,
    private readonly context: PoolContext,
  ) {
    this.label = spec.label;
    this.port = context.port;
    this.upstream = spec.upstream(context.port);
    const root = process.geteuid?.() === 0 ? ['--allow-root'] : [];
    this.args = [join(spec.repo, 'bin', 'fcgi-spawn.js'), 'start', '-n', '-p', String(context.port), '-F', String(spec.workers), ...root, ...spec.options, '--', ...spec.command];
    const cli = relative(process.cwd(), this.args[0] as string) || (this.args[0] as string);
    this.command = ['node', cli, ...this.args.slice(1)].join(' ');
  }

  async start(): Promise<void> {
    const runDir = join(this.context.dir, 'run');
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const env = { ...process.env, FCGI_SPAWN_RUN_DIR: runDir };
    this.server = new ServerProcess(this.label, process.execPath, this.args, { env, cwd: this.spec.repo }, this.context.ledger);
    await this.server.waitForLine(/info: ready: /, 0, 30_000);
    this.recordWorkers();
  }

  /** Each worker leads its own process group (fcgi-spawn signals groups): recorded as a leader. */
  private recordWorkers(): void {
    if (!this.server) return;
    for (const pid of this.context.ledger.adoptChildren(this.server.pid, `${this.label} worker`)) {
      this.context.ledger.adopt(pid, `${this.label} worker`, true);
    }
  }

  async reload(): Promise<ReloadSample> {
    const server = this.server;
    const started = performance.now();
    if (!server) return failedReload(started, new Error('not started'));
    const from = server.lines.length;
    server.signal('SIGHUP');
    try {
      const { line } = await server.waitForLine(/reload (finished|failed)/, from, 60_000);
      this.recordWorkers();
      const ok = /reload finished/.test(line.text);
      return ok ? { ms: line.at - started, ok } : { ms: line.at - started, ok, note: line.text };
    } catch (error) {
      return failedReload(started, error);
    }
  }

  /** What the supervisor has logged so far (its decisions: workers started, retired). */
  get log(): readonly Line[] {
    return this.server?.lines ?? [];
  }

  supervisorPids(): number[] {
    return this.server?.running ? [this.server.pid] : [];
  }

  async stop(): Promise<string> {
    if (!this.server) return '';
    this.recordWorkers();
    const notes = [await this.server.stop('SIGTERM', 20_000)];
    const status = this.server.exitStatus;
    if (status !== 'exit status 0') notes.push(`${this.label} ended with ${status}`);
    return notes.filter(Boolean).join('; ');
  }
}
