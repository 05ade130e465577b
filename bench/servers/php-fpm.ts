/**
 * php-fpm (Debian's php-fpm package) as a benchmark pool: its own master with its own configuration in a temp
 * dir, in the foreground (-F), on a free port — never the system service. `pm = static` with `children` children
 * (or `pm = dynamic` with max_children = `children` and the spares given) and pm.max_requests = 0, the rest
 * Debian's defaults (process_control_timeout = 0). Its log is a file we follow.
 * Reload: USR2 (the master finishes its children, re-executes itself keeping the socket, forks new ones);
 * done at its next `ready to handle connections` line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Upstream } from '../../test/helpers/nginx.js';
import { ServerProcess } from './process.js';
import { failedReload, type Pool, type PoolContext, type ReloadSample } from './pool.js';

/** php-fpm's `pm = dynamic`: pm.start_servers, pm.min_spare_servers, pm.max_spare_servers. */
export interface PhpFpmDynamic {
  readonly start: number;
  readonly minSpare: number;
  readonly maxSpare: number;
}

export class PhpFpmPool implements Pool {
  readonly label: string;
  readonly command: string;
  readonly upstream: Upstream;
  readonly port: number;
  private server: ServerProcess | undefined;
  private readonly args: string[];

  constructor(
    private readonly program: string,
    script: string,
    private readonly children: number,
    private readonly context: PoolContext,
    private readonly dynamic?: PhpFpmDynamic,
  ) {
    this.label = dynamic ? `php-fpm dynamic ≤${children}` : `php-fpm ×${children}`;
    this.port = context.port;
    this.upstream = { fastcgi: { address: `127.0.0.1:${context.port}`, scripts: { '/': script } } };
    const root = process.geteuid?.() === 0;
    this.args = ['-F', ...(root ? ['-R'] : []), '-y', join(context.dir, 'php-fpm.conf'), '-p', context.dir];
    this.command = [program, ...this.args].join(' ');
  }

  private config(): string {
    const root = process.geteuid?.() === 0;
    return [
      '[global]',
      `pid = ${join(this.context.dir, 'php-fpm.pid')}`,
      `error_log = ${join(this.context.dir, 'php-fpm.log')}`,
      'log_level = notice',
      'daemonize = no',
      '',
      '[bench]',
      ...(root ? ['user = root', 'group = root'] : []),
      `listen = 127.0.0.1:${this.port}`,
      'listen.backlog = 1024',
      ...(this.dynamic
        ? ['pm = dynamic', `pm.start_servers = ${this.dynamic.start}`, `pm.min_spare_servers = ${this.dynamic.minSpare}`, `pm.max_spare_servers = ${this.dynamic.maxSpare}`]
        : ['pm = static']),
      `pm.max_children = ${this.children}`,
      'pm.max_requests = 0',
      'clear_env = no',
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    writeFileSync(join(this.context.dir, 'php-fpm.conf'), this.config());
    writeFileSync(join(this.context.dir, 'php-fpm.log'), '');
    this.server = new ServerProcess(this.label, this.program, this.args, {}, this.context.ledger);
    this.server.followFile(join(this.context.dir, 'php-fpm.log'));
    await this.server.waitForLine(/ready to handle connections/, 0, 30_000);
    this.context.ledger.adoptChildren(this.server.pid, `${this.label} child`);
  }

  async reload(): Promise<ReloadSample> {
    const server = this.server;
    const started = performance.now();
    if (!server) return failedReload(started, new Error('not started'));
    const from = server.lines.length;
    server.signal('SIGUSR2');
    try {
      const { line } = await server.waitForLine(/ready to handle connections|ERROR|ALERT/, from, 60_000);
      this.context.ledger.adoptChildren(server.pid, `${this.label} child`);
      const ok = /ready to handle connections/.test(line.text);
      return ok ? { ms: line.at - started, ok } : { ms: line.at - started, ok, note: line.text };
    } catch (error) {
      return failedReload(started, error);
    }
  }

  supervisorPids(): number[] {
    return this.server?.running ? [this.server.pid] : [];
  }

  async stop(): Promise<string> {
    if (!this.server) return '';
    this.context.ledger.adoptChildren(this.server.pid, `${this.label} child`);
    return this.server.stop('SIGTERM', 10_000);
  }
}
