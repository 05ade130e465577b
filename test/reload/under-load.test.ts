/**
 * The hardest promise: nginx → pool, wrk load on a fast (0 ms) and a slow (50 ms) URL, five reloads
 * (SIGHUP) while it runs: zero non-2xx responses and zero socket errors, for workers that do not
 * cooperate (fcgiwrap, php-cgi with and without children) and for a Node HTTP app.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { startNginx, type Upstream } from '../helpers/nginx.js';
import { assertClean, runWrk } from '../helpers/wrk.js';
import { reloadRepeatedly } from '../helpers/reload.js';

const LOAD_SECONDS = 8;
const RELOADS = 5;

interface Scenario {
  readonly name: string;
  readonly tools: string[];
  readonly command: (port: number) => string[];
  readonly upstream: (port: number) => Upstream;
  readonly fast: string;
  readonly slow: string;
}

const CGI = join(FIXTURES, 'cgi', 'hello.sh');
const PHP = join(FIXTURES, 'php', 'hello.php');
/** A socket path per test port, in the temp dir (nginx's workers run as root in these tests: they can reach it). */
const unixPath = (port: number): string => join(tmpdir(), `fcgi-spawn-reload-${port}.sock`);
const fastcgiUpstream = (script: string) => (port: number): Upstream => ({ fastcgi: { address: `127.0.0.1:${port}`, scripts: { '/': script } } });

const scenarios: Scenario[] = [
  {
    name: 'fcgiwrap ×2',
    tools: ['fcgiwrap', 'nginx', 'wrk'],
    command: (port) => ['-p', String(port), '-F', '2', '--', findTool('fcgiwrap') as string],
    upstream: fastcgiUpstream(CGI),
    fast: '/',
    slow: '/?sleep=0.05',
  },
  {
    name: 'fcgiwrap ×2 on a Unix socket',
    tools: ['fcgiwrap', 'nginx', 'wrk'],
    command: (port) => ['-s', unixPath(port), '-F', '2', '--', findTool('fcgiwrap') as string],
    upstream: (port) => ({ fastcgi: { address: `unix:${unixPath(port)}`, scripts: { '/': CGI } } }),
    fast: '/',
    slow: '/?sleep=0.05',
  },
  {
    name: 'php-cgi ×2 (no children)',
    tools: ['php-cgi', 'nginx', 'wrk'],
    command: (port) => ['-p', String(port), '-F', '2', '--', findTool('php-cgi') as string],
    upstream: fastcgiUpstream(PHP),
    fast: '/',
    slow: '/?sleep=50',
  },
  {
    name: 'php-cgi ×1 with PHP_FCGI_CHILDREN=2',
    tools: ['php-cgi', 'nginx', 'wrk'],
    command: (port) => ['-p', String(port), '-F', '1', '-C', '2', '--', findTool('php-cgi') as string],
    upstream: fastcgiUpstream(PHP),
    fast: '/',
    slow: '/?sleep=50',
  },
  {
    name: 'Node HTTP app ×2',
    tools: ['nginx', 'wrk'],
    command: (port) => ['-p', String(port), '-F', '2', '--', process.execPath, join(FIXTURES, 'http-app.mjs')],
    upstream: (port) => ({ http: { address: `127.0.0.1:${port}` } }),
    fast: '/',
    slow: '/?sleep=50',
  },
];

for (const scenario of scenarios) {
  test(`reload under load drops nothing: ${scenario.name}`, needs(...scenario.tools), async (t) => {
    const port = await freePort();
    const pool = startSupervisor(['--steer-grace', '0.2', ...scenario.command(port)]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    const nginx = await startNginx(scenario.upstream(port));
    t.after(() => nginx.stop());
    const base = `http://127.0.0.1:${nginx.port}`;
    const load = Promise.all([runWrk(`${base}${scenario.fast}`, LOAD_SECONDS), runWrk(`${base}${scenario.slow}`, LOAD_SECONDS)]);
    await reloadRepeatedly(pool, RELOADS, 800);
    const [fast, slow] = await load;
    assertClean(`${scenario.name} 0 ms`, fast, pool);
    assertClean(`${scenario.name} 50 ms`, slow, pool);
    assert.equal(pool.lines.filter((l) => /reload finished/.test(l)).length, RELOADS);
    assert.doesNotMatch(pool.log(), /reload failed/);
    t.diagnostic(`${scenario.name}: ${fast.requests} fast + ${slow.requests} slow requests, max latency ${fast.maxLatencyMs} / ${slow.maxLatencyMs} ms`);
    const exit = await pool.stop();
    assert.equal(exit.code, 0);
    assert.deepEqual(pool.strays(), []);
    // A master's children exit a moment after it on every reload and stop: normal, so not worth a warning.
    assert.doesNotMatch(pool.log(), /outlived its leader/);
  });
}
