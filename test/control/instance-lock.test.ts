/**
 * One instance per name. Before, two `start --name X` at the same moment both exited 0 (neither had
 * published its record when the other looked) and one of them was unreachable by name afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../helpers/supervisor.js';
import { DaemonSandbox, daemonSandbox } from '../helpers/daemon.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ROOT_FLAG = process.geteuid?.() === 0 ? ['--allow-root'] : [];
const ROUNDS = 10;
const WAVE = 5;

async function twoPorts(): Promise<[number, number]> {
  const first = await freePort();
  for (;;) {
    const second = await freePort();
    if (second !== first) return [first, second];
  }
}

function openFiles(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
  } catch {
    return [];
  }
}

/** One round under its own name: two starts of it at once, then a look at the survivor, then stop. */
async function round(box: DaemonSandbox, name: string): Promise<void> {
  const ports = await twoPorts();
  const results = await Promise.all(ports.map((port) => box.cli(['start', '--name', name, '-p', String(port), ...ROOT_FLAG, '--', process.execPath, RESPONDER])));
  const said = results.map((r, i) => `start on ${ports[i]}: exit ${r.code}\n${r.stdout}${r.stderr}`).join('\n');
  assert.deepEqual(results.map((r) => r.code).sort(), [0, 5], `${name}:\n${said}`);
  const winner = results.findIndex((r) => r.code === 0);
  const loser = results[1 - winner] as { stderr: string };
  const pid = Number(/ready \(pid (\d+)\)/.exec(results[winner]?.stdout ?? '')?.[1]);
  // The holder's pid is named when it had written it already; never another pid.
  const named = new RegExp(`^fcgi-spawn: ${name} is already running(?: \\(pid (\\d+)\\))?; see 'fcgi-spawn status --name ${name}'$`, 'm').exec(loser.stderr);
  assert.ok(named, `${name}: ${loser.stderr}`);
  if (named[1] !== undefined) assert.equal(Number(named[1]), pid);
  const status = await box.cli(['status', '--name', name, '--json']);
  assert.equal(status.code, 0, `${name}: ${status.stdout}${status.stderr}`);
  const json = JSON.parse(status.stdout) as { pid: number; address: string; workers: Array<{ pid: number }> };
  assert.equal(json.pid, pid);
  assert.equal(json.address, `127.0.0.1:${ports[winner]}`);
  assert.equal((await probe(`127.0.0.1:${ports[winner]}`)).code, 0);
  assert.equal((await probe(`127.0.0.1:${ports[1 - winner]}`)).code, 3, 'the refused start bound its port');
  // The lock stays with the supervisor: workers do not inherit it (close-on-exec).
  const lock = join(box.runDir, `${name}.lock`);
  assert.ok(openFiles(pid).includes(lock), `the supervisor does not hold ${lock}`);
  for (const worker of json.workers) assert.ok(!openFiles(worker.pid).includes(lock), `worker ${worker.pid} inherited the lock`);
  const stop = await box.cli(['stop', '--name', name]);
  assert.equal(stop.code, 0, stop.stderr);
}

test(`two starts of one name at once, ${ROUNDS} times: one exits 0, the other 5 naming it, and the survivor answers by name`, async (t) => {
  const box = daemonSandbox(t);
  // Rounds of different names run side by side, WAVE at a time: one name must not disturb another.
  for (let first = 1; first <= ROUNDS; first += WAVE) {
    const names = Array.from({ length: Math.min(WAVE, ROUNDS - first + 1) }, (_, i) => `twin-${first + i}`);
    await Promise.all(names.map((name) => round(box, name)));
  }
  assert.deepEqual(readdirSync(box.runDir), [], 'a stopped instance leaves nothing in the run directory');
});
