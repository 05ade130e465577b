/**
 * pm dynamic and ondemand with real workers and real clients: a dynamic pool of php-cgi under concurrent slow
 * requests grows to `workers` and no further, then shrinks back to max-spare; an ondemand pool starts from zero
 * on the first request and returns to zero after idle-timeout. Worker counts are read from `status --json`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { statusJson } from '../helpers/status.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const PHP = join(FIXTURES, 'php', 'hello.php');
const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

test('dynamic: php-cgi grows to workers under concurrent slow requests, no further, then shrinks to max-spare', needs('php-cgi'), async (t) => {
  const port = await freePort();
  const selector = ['-p', String(port)];
  const pool = startSupervisor([...selector, '-F', '4', '--pm', 'dynamic', '--start-workers', '1', '--min-spare', '1', '--max-spare', '2', '--', findTool('php-cgi') as string]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal((await statusJson(selector)).workers.length, 1, 'start-workers');
  let most = 0;
  let sampling = true;
  const counting = (async () => {
    while (sampling) most = Math.max(most, (await statusJson(selector)).workers.length);
  })();
  // 8 requests of 3 s at once: more than the 4 workers may take.
  const answers = await Promise.all(Array.from({ length: 8 }, () => probe(`127.0.0.1:${port}`, `${PHP}?sleep=3000`, {}, 30_000)));
  sampling = false;
  await counting;
  assert.deepEqual(answers.map((a) => a.code), Array(8).fill(0), answers.map((a) => a.err).join(''));
  assert.equal(most, 4, 'grew to workers and no further');
  assert.equal(new Set(answers.map((a) => /pid (\d+)/.exec(a.out)?.[1])).size, 4, 'four workers served');
  await waitFor('back to max-spare', async () => (await statusJson(selector)).workers.length === 2, { timeoutMs: 20_000 });
  assert.match(pool.log(), /waiting in the listen queue: starting \d worker\(s\)/);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});

test('ondemand: no worker until the first request, served within a start-up, back to zero after idle-timeout', async (t) => {
  const port = await freePort();
  const selector = ['-p', String(port)];
  const pool = startSupervisor([...selector, '-F', '3', '--pm', 'ondemand', '--idle-timeout', '1s', '--', process.execPath, RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal((await statusJson(selector)).workers.length, 0);
  const answer = await probe(`127.0.0.1:${port}`, '/first', {}, 10_000);
  assert.equal(answer.code, 0, answer.err);
  // One worker started for it (read from the log: with idle-timeout 1s, status may already see it retired).
  assert.equal(pool.log().match(/ spawned pid=/g)?.length, 1, 'one worker started for the first request');
  await waitFor('back to zero', async () => (await statusJson(selector)).workers.length === 0, { timeoutMs: 15_000 });
  assert.match(pool.log(), /idle for \d+ ms \(idle-timeout 1000 ms\)/);
  const again = await probe(`127.0.0.1:${port}`, '/again', {}, 10_000);
  assert.equal(again.code, 0, again.err);
  await pool.stop();
  assert.deepEqual(pool.strays(), []);
});
