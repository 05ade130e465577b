/**
 * What the throughput benchmark compares: groups of pools running the same workers, each group with the
 * pool its target is measured against and the ways the load reaches them (through nginx, or wrk straight
 * at the pool's port with keep-alive connections).
 */
import { join } from 'node:path';
import type { Upstream } from '../../test/helpers/nginx.js';
import { FcgiSpawnPool } from '../servers/fcgi-spawn.js';
import { Pm2Pool } from '../servers/pm2.js';
import type { Pool, PoolContext } from '../servers/pool.js';
import { pathOf, type Found, type Wanted } from '../servers/programs.js';
import { SpawnFcgiPool } from '../servers/spawn-fcgi.js';

export const PROGRAMS: readonly Wanted[] = [
  { program: 'nginx', package: 'nginx' },
  { program: 'wrk', package: 'wrk' },
  { program: 'php-cgi', package: 'php-cgi' },
  { program: 'spawn-fcgi', package: 'spawn-fcgi' },
  { program: 'multiwatch', package: 'multiwatch' },
];

export type Mode = 'nginx' | 'direct';

export interface Member {
  readonly key: string;
  readonly label: string;
  make(context: PoolContext): Pool | { missing: string };
}

export interface Group {
  readonly key: string;
  readonly title: string;
  readonly modes: readonly Mode[];
  readonly members: readonly Member[];
  /** The member under test and the one it is measured against, with the target ratio of requests/s (mode: nginx). */
  readonly target: { readonly subject: string; readonly reference: string; readonly atLeast: number };
}

export interface Installed {
  readonly found: Readonly<Record<string, Found>>;
  readonly pm2: { pm2: string; version: string } | { missing: string };
  readonly repo: string;
}

const WORKERS = 2;

export function groups(installed: Installed): Group[] {
  const { found, repo } = installed;
  const need = (name: string): string | { missing: string } => {
    const entry = found[name];
    return pathOf(entry) ?? { missing: entry && 'missing' in entry ? entry.missing : `${name} not found` };
  };
  const php = join(repo, 'test', 'fixtures', 'php', 'hello.php');
  const app = join(repo, 'dist', 'bench', 'apps', 'http-app.js');
  const fastcgi = (port: number): Upstream => ({ fastcgi: { address: `127.0.0.1:${port}`, scripts: { '/': php } } });
  const http = (port: number): Upstream => ({ http: { address: `127.0.0.1:${port}` } });
  // php-cgi exits after 500 requests unless told otherwise: no recycling in any of the PHP pools.
  const phpEnv = { ...process.env, PHP_FCGI_MAX_REQUESTS: '0' };
  const spawnFcgi = (multiwatch: boolean) => (context: PoolContext): Pool | { missing: string } => {
    const [sf, mw, cgi] = [need('spawn-fcgi'), multiwatch ? need('multiwatch') : '', need('php-cgi')];
    for (const value of [sf, mw, cgi]) if (typeof value !== 'string') return value;
    return new SpawnFcgiPool({ spawnFcgi: sf as string, multiwatch: multiwatch ? (mw as string) : undefined, workers: WORKERS, command: [cgi as string], env: phpEnv, upstream: fastcgi }, context);
  };
  return [
    {
      key: 'php',
      title: `nginx → ${WORKERS} php-cgi workers (PHP_FCGI_MAX_REQUESTS=0), test/fixtures/php/hello.php`,
      modes: ['nginx'],
      target: { subject: 'fcgi-spawn', reference: 'spawn-fcgi', atLeast: 0.98 },
      members: [
        {
          key: 'fcgi-spawn',
          label: `fcgi-spawn -F ${WORKERS}`,
          make: (context) => {
            const cgi = need('php-cgi');
            if (typeof cgi !== 'string') return cgi;
            return new FcgiSpawnPool({ label: `fcgi-spawn -F ${WORKERS}`, repo, workers: WORKERS, options: ['-e', 'PHP_FCGI_MAX_REQUESTS=0'], command: [cgi], upstream: fastcgi }, context);
          },
        },
        { key: 'spawn-fcgi', label: `spawn-fcgi -F ${WORKERS} (exits; no supervisor)`, make: spawnFcgi(false) },
        { key: 'multiwatch', label: `spawn-fcgi -n + multiwatch -f ${WORKERS}`, make: spawnFcgi(true) },
      ],
    },
    {
      key: 'node',
      title: `Node HTTP app ×${WORKERS} (bench/apps/http-app.ts): through nginx (a new upstream connection per request), and wrk straight at the pool (keep-alive)`,
      modes: ['nginx', 'direct'],
      target: { subject: 'fcgi-spawn', reference: 'pm2', atLeast: 1.3 },
      members: [
        {
          key: 'fcgi-spawn',
          label: `fcgi-spawn -F ${WORKERS}`,
          make: (context) => new FcgiSpawnPool({ label: `fcgi-spawn -F ${WORKERS}`, repo, workers: WORKERS, options: [], command: [process.execPath, app], upstream: http }, context),
        },
        {
          key: 'pm2',
          label: `PM2 cluster ×${WORKERS}`,
          make: (context) => ('pm2' in installed.pm2 ? new Pm2Pool(installed.pm2.pm2, app, WORKERS, context) : installed.pm2),
        },
      ],
    },
  ];
}
