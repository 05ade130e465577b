/**
 * gunicorn (Debian's package) with a tiny WSGI app, 2 sync workers, behind nginx's proxy_pass. A
 * post_worker_init hook logs `bench: worker PID ready` once a worker has loaded the app. Reload: HUP
 * (gunicorn forks new workers and sends TERM to the old ones, which finish the request they hold); done
 * when as many new workers as configured said ready and every old worker has exited.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Upstream } from '../../test/helpers/nginx.js';
import { briefStat } from '../respawn/observe.js';
import { ServerProcess } from './process.js';
import { failedReload, until, type Pool, type PoolContext, type ReloadSample } from './pool.js';

/** The same contract as test/fixtures/http-app.mjs: 200 `pid=N`, ?sleep=MS delays the answer. */
const APP = `import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    ms = int(parse_qs(environ.get('QUERY_STRING', '')).get('sleep', ['0'])[0])
    if ms > 0:
        time.sleep(ms / 1000)
    body = ('pid=%d\\n' % os.getpid()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
`;

const CONFIG = `def post_worker_init(worker):
    worker.log.info("bench: worker %s ready", worker.pid)
`;

const READY = /bench: worker (\d+) ready/;

export class GunicornPool implements Pool {
  readonly label: string;
  readonly command: string;
  readonly upstream: Upstream;
  readonly port: number;
  private server: ServerProcess | undefined;
  private readonly args: string[];

  constructor(
    private readonly program: string,
    private readonly workers: number,
    private readonly context: PoolContext,
  ) {
    this.label = `gunicorn ×${workers}`;
    this.port = context.port;
    this.upstream = { http: { address: `127.0.0.1:${context.port}` } };
    this.args = ['--chdir', context.dir, '-c', join(context.dir, 'bench_conf.py'), '-w', String(workers), '-b', `127.0.0.1:${context.port}`, '--log-level', 'info', 'bench_app:app'];
    this.command = [program, ...this.args].join(' ');
  }

  async start(): Promise<void> {
    writeFileSync(join(this.context.dir, 'bench_app.py'), APP);
    writeFileSync(join(this.context.dir, 'bench_conf.py'), CONFIG);
    this.server = new ServerProcess(this.label, this.program, this.args, { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } }, this.context.ledger);
    await this.readyWorkers(new Set(), 0, 30_000);
    this.context.ledger.adoptChildren(this.server.pid, `${this.label} worker`);
  }

  /** Waits for `workers` ready lines of pids not in `old`, from line index `from`; the time of the last. */
  private async readyWorkers(old: ReadonlySet<number>, from: number, timeoutMs: number): Promise<number> {
    const server = this.server as ServerProcess;
    const fresh = new Set<number>();
    let at = 0;
    let index = from;
    while (fresh.size < this.workers) {
      const found = await server.waitForLine(READY, index, timeoutMs);
      index = found.index + 1;
      const pid = Number(READY.exec(found.line.text)?.[1]);
      if (!old.has(pid)) fresh.add(pid);
      at = found.line.at;
    }
    return at;
  }

  async reload(): Promise<ReloadSample> {
    const server = this.server;
    const started = performance.now();
    if (!server) return failedReload(started, new Error('not started'));
    const old = new Set(this.context.ledger.adoptChildren(server.pid, `${this.label} worker`));
    const from = server.lines.length;
    server.signal('SIGHUP');
    try {
      const readyAt = await this.readyWorkers(old, from, 60_000);
      const gone = (): boolean => [...old].every((pid) => {
        const stat = briefStat(pid);
        return stat === undefined || stat.state === 'Z';
      });
      if (!(await until(gone, 60_000, 1))) return { ms: performance.now() - started, ok: false, note: 'old workers still running after 60 s' };
      this.context.ledger.adoptChildren(server.pid, `${this.label} worker`);
      return { ms: Math.max(readyAt, performance.now()) - started, ok: true };
    } catch (error) {
      return failedReload(started, error);
    }
  }

  supervisorPids(): number[] {
    return this.server?.running ? [this.server.pid] : [];
  }

  async stop(): Promise<string> {
    if (!this.server) return '';
    this.context.ledger.adoptChildren(this.server.pid, `${this.label} worker`);
    return this.server.stop('SIGTERM', 35_000);
  }
}
