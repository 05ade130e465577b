/**
 * fcgi-spawn/worker's listen() with node:http, Express, Fastify and Koa (from npm, devDependencies), ESM and
 * CommonJS: a pool with `ready: notify` and `drain: signal`, wrk straight at the pool (no nginx: its kept-alive
 * connections are the workers' own), a fast and a slow URL, reloads while it runs: no failed request, every
 * reload finished, nothing left behind. Kept-alive connections never leave a Node worker idle, so the old
 * generation is retired by the stop signal, which the helper turns into a drain that cuts nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { needs } from '../helpers/tools.js';
import { assertClean, runWrk } from '../helpers/wrk.js';
import { reloadRepeatedly } from '../helpers/reload.js';

const LOAD_SECONDS = 6;
const RELOADS = 4;

const FRAMEWORKS = [
  { name: 'node:http', fixture: 'http.mjs' },
  { name: 'Express', fixture: 'express.mjs', module: 'express' },
  { name: 'Express from CommonJS', fixture: 'express.cjs', module: 'express' },
  { name: 'Fastify', fixture: 'fastify.mjs', module: 'fastify' },
  { name: 'Koa', fixture: 'koa.mjs', module: 'koa' },
] as const;

function versionOf(module: string | undefined): string {
  if (module === undefined) return `Node ${process.version}`;
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', module, 'package.json'), 'utf8')) as { version: string };
  return `${module} ${manifest.version}`;
}

for (const framework of FRAMEWORKS) {
  test(`${framework.name}: reloads under keep-alive load straight from wrk fail no request`, needs('wrk'), async (t) => {
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '-F', '2', '--ready', 'notify', '--drain', 'signal', '--steer-grace', '0.2', '--', process.execPath, join(FIXTURES, 'worker', framework.fixture)]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    assert.equal(pool.lines.filter((l) => /starting→ready \(READY=1 on its ready pipe\)/.test(l)).length, 2, pool.log());
    const base = `http://127.0.0.1:${port}`;
    const first = await fetch(`${base}/`, { signal: AbortSignal.timeout(5_000) });
    assert.match(await first.text(), /^pid=\d+\n$/);
    const load = Promise.all([runWrk(`${base}/`, LOAD_SECONDS), runWrk(`${base}/?sleep=50`, LOAD_SECONDS)]);
    await reloadRepeatedly(pool, RELOADS, 800);
    const [fast, slow] = await load;
    assertClean(`${framework.name} 0 ms`, fast, pool);
    assertClean(`${framework.name} 50 ms`, slow, pool);
    assert.equal(pool.lines.filter((l) => /reload finished: generation \d+ serving/.test(l)).length, RELOADS);
    // Retired by the drain, not by the graceful timeout or a kill.
    assert.doesNotMatch(pool.log(), /reload failed|still busy at the graceful timeout|SIGKILL/);
    t.diagnostic(`${versionOf('module' in framework ? framework.module : undefined)}: ${fast.requests} fast + ${slow.requests} slow requests over ${RELOADS} reloads, max latency ${fast.maxLatencyMs} / ${slow.maxLatencyMs} ms`);
    assert.equal((await pool.stop()).code, 0);
    assert.deepEqual(pool.strays(), []);
  });
}
