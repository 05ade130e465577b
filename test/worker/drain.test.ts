/**
 * The drain of fcgi-spawn/worker on the stop signal, connection by connection: a request in flight is answered
 * (with `Connection: close`), a client that sends its next request on its kept-alive connection right after the
 * signal is answered rather than reset, a kept-alive connection that stays quiet is closed once the idle grace
 * has passed, and the worker then exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
  readonly socket: Socket;
  /** The request went out on a kept-alive connection. */
  readonly reused: boolean;
}

function get(port: number, path: string, agent: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body, socket: request.socket as Socket, reused: request.reusedSocket }));
    });
    request.once('timeout', () => request.destroy(new Error(`no answer to ${path}`)));
    request.once('error', reject);
  });
}

function closed(socket: Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : new Promise((resolve) => socket.once('close', () => resolve()));
}

test('on TERM: in flight answered, the next request on a kept-alive connection answered, a quiet one closed, exit 0', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '--ready', 'notify', '--', process.execPath, join(FIXTURES, 'worker', 'http.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [pid] = pool.liveWorkers();
  assert.ok(pid !== undefined);
  // Three kept-alive connections, each accepted and served once before the signal.
  const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  t.after(() => agents.forEach((agent) => agent.destroy()));
  const [quiet, busy, next] = await Promise.all(agents.map((agent) => get(port, '/', agent)));
  for (const answer of [quiet, busy, next]) assert.equal(answer?.body, `pid=${pid}\n`);

  // On an accepted connection it is answered whether it arrives before the signal or after (then with close at once).
  const inFlight = get(port, '/?sleep=1000', agents[1]!);
  process.kill(pid, 'SIGTERM');
  const again = await get(port, '/', agents[2]!);
  assert.equal(again.status, 200, 'the request sent after the signal on a kept-alive connection is answered, not reset');
  assert.ok(again.reused);
  assert.equal(again.body, `pid=${pid}\n`);

  const answered = await inFlight;
  assert.equal(answered.status, 200);
  assert.ok(answered.reused);
  assert.equal(answered.connection, 'close', 'an answer after the signal ends its connection');
  assert.equal(answered.body, `pid=${pid}\n`);

  // The quiet connection, never used again, is closed by the worker (after the idle grace), with no answer on it.
  await closed(quiet!.socket);
  await closed(again.socket);
  const exited = await pool.waitForLine(new RegExp(`worker ${pid} \\(slot 0, generation 1\\) ready→exited`));
  assert.match(exited, /\(exit status 0\)/);
  assert.equal((await pool.stop()).code, 0);
  assert.deepEqual(pool.strays(), []);
});
