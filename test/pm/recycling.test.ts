/**
 * Recycling and request-timeout with real workers under a real request loop: max-lifetime and max-rss replace
 * workers (the replacement first) with zero failed requests; request-timeout stops a Node worker stuck in a
 * synchronous call (its event loop blocked) while the other worker, holding a kept-alive connection and serving a
 * request loop, is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe, requestLoop } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

for (const [name, flags, reason] of [
  ['max-lifetime', ['--max-lifetime', '1.5s', '--max-lifetime-jitter', '0.5s'], /max-lifetime: up \d+ s: starting its replacement/],
  ['max-rss', ['--max-rss', '1M'], /max-rss: PSS \d+ KiB above 1024 KiB: starting its replacement/],
] as const) {
  test(`${name}: workers replaced under a request loop, zero failed requests`, async (t) => {
    const port = await freePort();
    const selector = ['-p', String(port)];
    const pool = startSupervisor([...selector, '-F', '2', ...flags, '--', process.execPath, RESPONDER]);
    t.after(() => pool.cleanup());
    await pool.waitReady();
    const first = (await statusJson(selector)).workers.map((w) => w.pid);
    let done = false;
    // A burst now and then keeps connections waiting a moment, so the queue watch sees the pool active.
    const loops = Promise.all([0, 1].map(() => requestLoop(`127.0.0.1:${port}`, '/?sleep=20', () => done)));
    await waitFor('both first workers replaced', async () => {
      await Promise.all(Array.from({ length: 10 }, () => probe(`127.0.0.1:${port}`, '/')));
      const now = (await statusJson(selector)).workers.map((w) => w.pid);
      // Replacements start first: for a moment there are more than 2.
      return now.length >= 2 && now.every((pid) => !first.includes(pid));
    }, { timeoutMs: 30_000 });
    done = true;
    const results = await loops;
    assert.deepEqual(results.flatMap((r) => r.failed), []);
    assert.ok(results.reduce((sum, r) => sum + r.ok, 0) > 10);
    assert.match(pool.log(), reason);
    assert.match(pool.log(), /recycled \(.*\), its replacement \d+ ready/);
    await pool.stop();
    assert.deepEqual(pool.strays(), []);
  });
}

test('request-timeout stops a worker stuck in a request; a keep-alive worker serving many requests is left alone', async (t) => {
  const port = await freePort();
  const selector = ['-p', String(port)];
  const pool = startSupervisor([...selector, '-F', '2', '--request-timeout', '2s', '--stop-timeout', '1s', '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const stuck = probe(`127.0.0.1:${port}`, '/?block=60000', {}, 60_000);
  let stuckPid = 0;
  await waitFor('one worker blocked', async () => {
    const busy = (await statusJson(selector)).workers.filter((w) => w.activity === 'busy');
    stuckPid = busy.length === 1 ? busy[0]!.pid : 0;
    return stuckPid !== 0;
  });
  // Held open without a request, for the whole test: a kept-alive connection, on the other worker (the blocked
  // one accepts nothing), which also serves every request below.
  const kept = connect(port, '127.0.0.1');
  t.after(() => kept.destroy());
  let keptPid = 0;
  await waitFor('the other worker holds the kept-alive connection', async () => {
    const busy = (await statusJson(selector)).workers.filter((w) => w.activity === 'busy' && w.pid !== stuckPid);
    keptPid = busy[0]?.pid ?? 0;
    return keptPid !== 0;
  });
  let done = false;
  const loop = requestLoop(`127.0.0.1:${port}`, '/', () => done);
  await waitFor('the stuck worker stopped', async () => {
    await Promise.all(Array.from({ length: 10 }, () => probe(`127.0.0.1:${port}`, '/')));
    return new RegExp(`request timeout: worker ${stuckPid} busy with the same connection for \\d+ ms, blocked in \\S+ \\(syscall \\d+\\): stopping it`).test(pool.log());
  }, { timeoutMs: 30_000 });
  done = true;
  const { ok, failed } = await loop;
  assert.deepEqual(failed, []);
  assert.ok(ok > 10);
  assert.notEqual((await stuck).code, 0, 'the stuck request was cut');
  const timeouts = pool.log().match(/request timeout: worker \d+/g) ?? [];
  assert.deepEqual(timeouts, [`request timeout: worker ${stuckPid}`], 'only the stuck worker');
  assert.ok((await statusJson(selector)).workers.some((w) => w.pid === keptPid), 'the keep-alive worker still serves');
  await waitFor('replaced', async () => (await statusJson(selector)).workers.filter((w) => w.state === 'ready').length === 2);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
