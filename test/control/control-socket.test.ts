/**
 * The control socket holds no connection for long and not too many at once: a client that connects
 * and says nothing (or trickles bytes) is dropped, and at most 64 connections are open at a time.
 * Before, 300 idle connections were held open for ever: 300 descriptors of the supervisor, which
 * needs descriptors to spawn workers and reopen logs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/supervisor.js';
import { DaemonSandbox, daemonSandbox } from '../helpers/daemon.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];
const CAP = 64;
const HELD = 300;

interface Client {
  readonly socket: Socket;
  closed: boolean;
}

function open(path: string): Client {
  const client: Client = { socket: connect(path), closed: false };
  client.socket.on('error', () => undefined);
  client.socket.once('close', () => (client.closed = true));
  return client;
}

function descriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

async function daemon(t: { after: (fn: () => Promise<void>) => void }): Promise<{ box: DaemonSandbox; pid: number; control: string }> {
  const box = daemonSandbox(t);
  const start = await box.cli(['start', '--name', 'ctl', '-p', String(await freePort()), ...ROOT_FLAG, '--', process.execPath, RESPONDER]);
  assert.equal(start.code, 0, start.stderr);
  return { box, pid: box.record('ctl')?.supervisor.pid as number, control: join(box.runDir, 'ctl.ctl') };
}

// Both tests wait out the supervisor's fixed control idle timeout (5 s, not a flag) on daemons of their own
// (separate sandboxes, ports and run directories), so they wait side by side; neither measures time.
describe('control connections that stay idle', { concurrency: 2 }, () => {
  test('a control client that says nothing, or trickles a byte at a time, is dropped', async (t) => {
    const { box, control } = await daemon(t);
    const silent = open(control);
    const trickler = open(control);
    const drip = setInterval(() => trickler.socket.write(' '), 200);
    t.after(() => {
      clearInterval(drip);
      silent.socket.destroy();
      trickler.socket.destroy();
    });
    await waitFor('the silent client dropped', () => silent.closed, { timeoutMs: 20_000 });
    await waitFor('the trickling client dropped', () => trickler.closed, { timeoutMs: 20_000 });
    const status = await box.cli(['status', '--name', 'ctl']);
    assert.equal(status.code, 0, status.stdout);
  });

  test(`${HELD} idle control connections: at most ${CAP} are held, all are dropped, and status answers after`, async (t) => {
    const { box, pid, control } = await daemon(t);
    const before = descriptors(pid);
    const clients = Array.from({ length: HELD }, () => open(control));
    t.after(() => {
      for (const client of clients) client.socket.destroy();
    });
    // The most descriptors the supervisor had at once, sampled until every connection is gone.
    let most = before;
    await waitFor('every connection dropped by the supervisor', () => {
      most = Math.max(most, descriptors(pid));
      return clients.every((client) => client.closed);
    }, { timeoutMs: 30_000, intervalMs: 10 });
    // A few over the cap: a connection past it is accepted, then closed at once.
    assert.ok(most - before <= CAP + 4, `the supervisor held ${most - before} control connections at once (cap ${CAP})`);
    const status = await box.cli(['status', '--name', 'ctl']);
    assert.equal(status.code, 0, status.stdout);
  });
});
