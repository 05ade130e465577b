/**
 * The pools the pm benchmark runs. Stepped load: fcgi-spawn `pm: dynamic` running php-cgi beside php-fpm
 * `pm = dynamic` with the same numbers (workers ↔ pm.max_children, start-workers ↔ pm.start_servers, min/max-spare
 * ↔ pm.min/max_spare_servers), and both static at `workers` as the baseline, on the same PHP script. Retiring under
 * load: a dynamic fcgi-spawn pool of each program, with the retire signal it is documented to need, and fcgiwrap on
 * TERM as the counter-example.
 */
import { join } from 'node:path';
import type { Upstream } from '../../test/helpers/nginx.js';
import { FcgiSpawnPool } from '../servers/fcgi-spawn.js';
import { PhpFpmPool } from '../servers/php-fpm.js';
import type { Pool, PoolContext } from '../servers/pool.js';
import { pathOf, type Found, type Wanted } from '../servers/programs.js';
import type { Phase } from './retire.js';

export const PROGRAMS: readonly Wanted[] = [
  { program: 'nginx', package: 'nginx' },
  { program: 'wrk', package: 'wrk' },
  { program: 'php-cgi', package: 'php-cgi' },
  { program: 'php-fpm', pattern: /^php-fpm[\d.]*$/, package: 'php-fpm' },
  { program: 'fcgiwrap', package: 'fcgiwrap' },
];

export interface Numbers {
  readonly workers: number;
  readonly startWorkers: number;
  readonly minSpare: number;
  readonly maxSpare: number;
}

export interface SteppedContender {
  readonly key: string;
  /** The contender whose figures this one's are divided by ('' for php-fpm itself). */
  readonly versus: string;
  /** fcgi-spawn's workers lead their own process groups. */
  readonly leaders: boolean;
  make(context: PoolContext): Pool | { missing: string };
}

type Need = (name: string) => string | { missing: string };

function needer(found: Readonly<Record<string, Found>>): Need {
  return (name) => {
    const entry = found[name];
    return pathOf(entry) ?? { missing: entry && 'missing' in entry ? entry.missing : `${name} not found` };
  };
}

const fastcgi = (script: string) => (port: number): Upstream => ({ fastcgi: { address: `127.0.0.1:${port}`, scripts: { '/': script } } });

/** In the order they run: fcgi-spawn and php-fpm alternate (ABBA), so neither always follows the other. */
export function steppedContenders(found: Readonly<Record<string, Found>>, repo: string, n: Numbers): SteppedContender[] {
  const need = needer(found);
  const php = join(repo, 'test', 'fixtures', 'php', 'hello.php');
  const spawnPhp = (label: string, pm: readonly string[]) => (context: PoolContext): Pool | { missing: string } => {
    const program = need('php-cgi');
    // No recycling after 500 requests (php-cgi's default), like php-fpm's pm.max_requests = 0.
    const options = ['--worker-log', 'none', '-e', 'PHP_FCGI_MAX_REQUESTS=0', ...pm];
    return typeof program === 'string' ? new FcgiSpawnPool({ label, repo, workers: n.workers, options, command: [program], upstream: fastcgi(php) }, context) : program;
  };
  const fpm = (dynamic: boolean) => (context: PoolContext): Pool | { missing: string } => {
    const program = need('php-fpm');
    if (typeof program !== 'string') return program;
    return new PhpFpmPool(program, php, n.workers, context, dynamic ? { start: n.startWorkers, minSpare: n.minSpare, maxSpare: n.maxSpare } : undefined);
  };
  const dynamicFlags = ['--pm', 'dynamic', '--start-workers', String(n.startWorkers), '--min-spare', String(n.minSpare), '--max-spare', String(n.maxSpare)];
  return [
    { key: 'fcgi-dynamic', versus: 'fpm-dynamic', leaders: true, make: spawnPhp(`fcgi-spawn php-cgi dynamic ≤${n.workers}`, dynamicFlags) },
    { key: 'fpm-dynamic', versus: '', leaders: false, make: fpm(true) },
    { key: 'fpm-static', versus: '', leaders: false, make: fpm(false) },
    { key: 'fcgi-static', versus: 'fpm-static', leaders: true, make: spawnPhp(`fcgi-spawn php-cgi ×${n.workers}`, []) },
  ];
}

export interface RetireContender {
  readonly key: string;
  /** What the pool retires with, for the report. */
  readonly retireSignal: string;
  readonly burst: Phase;
  readonly calm: Phase;
  make(context: PoolContext): FcgiSpawnPool | { missing: string };
}

export interface RetireShape {
  readonly workers: number;
  readonly burstConnections: number;
  readonly burstSeconds: number;
  readonly calmConnections: number;
  readonly calmSeconds: number;
}

export function retireContenders(found: Readonly<Record<string, Found>>, repo: string, shape: RetireShape): RetireContender[] {
  const need = needer(found);
  const php = join(repo, 'test', 'fixtures', 'php', 'hello.php');
  const cgi = join(repo, 'test', 'fixtures', 'cgi', 'hello.sh');
  const node = join(repo, 'test', 'fixtures', 'http-app.mjs');
  const http = (port: number): Upstream => ({ http: { address: `127.0.0.1:${port}` } });
  // Small spares, so that each calm stretch retires several workers.
  const pm = ['--worker-log', 'none', '--pm', 'dynamic', '--start-workers', '1', '--min-spare', '1', '--max-spare', '2'];
  const pool = (label: string, retire: string | undefined, program: string | { missing: string }, args: readonly string[], upstream: (port: number) => Upstream, extra: readonly string[] = []) =>
    (context: PoolContext): FcgiSpawnPool | { missing: string } =>
      typeof program === 'string'
        ? new FcgiSpawnPool({ label, repo, workers: shape.workers, options: [...pm, ...extra, ...(retire ? ['--retire-signal', retire] : [])], command: [program, ...args], upstream }, context)
        : program;
  const phases = (slow: string) => ({
    burst: { path: slow, connections: shape.burstConnections, seconds: shape.burstSeconds },
    calm: { path: '/', connections: shape.calmConnections, seconds: shape.calmSeconds },
  });
  return [
    { key: 'php-cgi', retireSignal: 'TERM', ...phases('/?sleep=50'), make: pool('php-cgi', 'TERM', need('php-cgi'), [], fastcgi(php), ['-e', 'PHP_FCGI_MAX_REQUESTS=0']) },
    { key: 'fcgiwrap', retireSignal: 'generation (its default)', ...phases('/?sleep=0.05'), make: pool('fcgiwrap', undefined, need('fcgiwrap'), [], fastcgi(cgi)) },
    { key: 'fcgiwrap-term', retireSignal: 'TERM (the counter-example)', ...phases('/?sleep=0.05'), make: pool('fcgiwrap', 'TERM', need('fcgiwrap'), [], fastcgi(cgi)) },
    { key: 'node', retireSignal: 'TERM (default)', ...phases('/?sleep=50'), make: pool('Node http-app.mjs', undefined, process.execPath, [node], http) },
  ];
}
