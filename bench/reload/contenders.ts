/**
 * The pools the reload benchmark compares, in the order they run: each fcgi-spawn pool next to the tool
 * that hosts the same kind of worker. Each has a key (for --only), the URL path of its instant request
 * and of its 50 ms one, and a factory that says why not when its program is missing.
 */
import { join } from 'node:path';
import type { Upstream } from '../../test/helpers/nginx.js';
import { FcgiSpawnPool } from '../servers/fcgi-spawn.js';
import { GunicornPool } from '../servers/gunicorn.js';
import { PhpFpmPool } from '../servers/php-fpm.js';
import { Pm2Pool } from '../servers/pm2.js';
import type { Pool, PoolContext } from '../servers/pool.js';
import { pathOf, type Found, type Wanted } from '../servers/programs.js';

export const PROGRAMS: readonly Wanted[] = [
  { program: 'nginx', package: 'nginx' },
  { program: 'wrk', package: 'wrk' },
  { program: 'php-cgi', package: 'php-cgi' },
  { program: 'fcgiwrap', package: 'fcgiwrap' },
  { program: 'php-fpm', pattern: /^php-fpm[\d.]*$/, package: 'php-fpm' },
  { program: 'gunicorn', package: 'gunicorn' },
];

export interface Installed {
  readonly found: Readonly<Record<string, Found>>;
  readonly pm2: { pm2: string; version: string } | { missing: string };
  readonly repo: string;
  readonly steerGrace: number;
}

export interface Contender {
  readonly key: string;
  readonly label: string;
  readonly fast: string;
  readonly slow: string;
  make(context: PoolContext): Pool | { missing: string };
}

const WORKERS = 2;

export function contenders(installed: Installed): Contender[] {
  const { found, repo } = installed;
  const php = join(repo, 'test', 'fixtures', 'php', 'hello.php');
  const cgi = join(repo, 'test', 'fixtures', 'cgi', 'hello.sh');
  const app = join(repo, 'dist', 'bench', 'apps', 'http-app.js');
  const workerApp = join(repo, 'dist', 'bench', 'apps', 'worker-app.js');
  const fastcgi = (script: string) => (port: number): Upstream => ({ fastcgi: { address: `127.0.0.1:${port}`, scripts: { '/': script } } });
  const http = (port: number): Upstream => ({ http: { address: `127.0.0.1:${port}` } });
  const steer = ['--steer-grace', String(installed.steerGrace)];
  const need = (name: string): string | { missing: string } => {
    const entry = found[name];
    return pathOf(entry) ?? { missing: entry && 'missing' in entry ? entry.missing : `${name} not found` };
  };
  const fcgiSpawn = (label: string, options: readonly string[], program: string | { missing: string }, args: readonly string[], upstream: (port: number) => Upstream) =>
    (context: PoolContext): Pool | { missing: string } =>
      typeof program === 'string' ? new FcgiSpawnPool({ label, repo, workers: WORKERS, options: [...steer, ...options], command: [program, ...args], upstream }, context) : program;
  return [
    {
      key: 'fcgi-php',
      label: `fcgi-spawn php-cgi ×${WORKERS}`,
      fast: '/',
      slow: '/?sleep=50',
      // No recycling after 500 requests (php-cgi's default), like php-fpm's pm.max_requests = 0 below.
      make: fcgiSpawn(`fcgi-spawn php-cgi ×${WORKERS}`, ['-e', 'PHP_FCGI_MAX_REQUESTS=0'], need('php-cgi'), [], fastcgi(php)),
    },
    {
      key: 'php-fpm',
      label: `php-fpm ×${WORKERS} (USR2)`,
      fast: '/',
      slow: '/?sleep=50',
      make: (context) => {
        const program = need('php-fpm');
        return typeof program === 'string' ? new PhpFpmPool(program, php, WORKERS, context) : program;
      },
    },
    {
      key: 'fcgi-cgi',
      label: `fcgi-spawn fcgiwrap ×${WORKERS}`,
      fast: '/',
      slow: '/?sleep=0.05',
      make: fcgiSpawn(`fcgi-spawn fcgiwrap ×${WORKERS}`, [], need('fcgiwrap'), [], fastcgi(cgi)),
    },
    {
      key: 'gunicorn',
      label: `gunicorn ×${WORKERS} (HUP)`,
      fast: '/',
      slow: '/?sleep=50',
      make: (context) => {
        const program = need('gunicorn');
        return typeof program === 'string' ? new GunicornPool(program, WORKERS, context) : program;
      },
    },
    {
      key: 'pm2',
      label: `PM2 cluster ×${WORKERS} (pm2 reload)`,
      fast: '/',
      slow: '/?sleep=50',
      make: (context) => ('pm2' in installed.pm2 ? new Pm2Pool(installed.pm2.pm2, app, WORKERS, context) : installed.pm2),
    },
    {
      key: 'fcgi-node',
      label: `fcgi-spawn Node HTTP ×${WORKERS}`,
      fast: '/',
      slow: '/?sleep=50',
      make: fcgiSpawn(`fcgi-spawn Node HTTP ×${WORKERS}`, [], process.execPath, [app], http),
    },
    {
      key: 'fcgi-node-worker',
      label: `fcgi-spawn Node HTTP ×${WORKERS}, fcgi-spawn/worker, ready: notify, drain: signal`,
      fast: '/',
      slow: '/?sleep=50',
      make: fcgiSpawn(`fcgi-spawn Node HTTP ×${WORKERS}, fcgi-spawn/worker, ready: notify, drain: signal`, ['--ready', 'notify', '--drain', 'signal'], process.execPath, [workerApp], http),
    },
  ];
}
