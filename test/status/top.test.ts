/**
 * `fcgi-spawn top` without a terminal: one frame per second on stdout, each with every pool's workers by state,
 * queue and spawns per second; it ends on SIGTERM (exit 0), or after --iterations frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BIN, FIXTURES, runCli, startSupervisor, testEnvironment } from '../helpers/supervisor.js';
import { freePort, killQuietly } from '../helpers/processes.js';
import { statusJson } from '../helpers/status.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

/** The frames printed so far: each starts with the instance's line and ends with a blank line. */
function frames(output: string): string[] {
  return output.split('\n\n').filter((frame) => frame.includes('POOL'));
}

/** The pool's row of a frame, by column name. */
function row(frame: string, pool: string): Record<string, string> {
  const lines = frame.split('\n');
  const header = (lines.find((line) => line.startsWith('POOL')) ?? '').split(/\s+/);
  const cells = (lines.find((line) => line.startsWith(`${pool} `)) ?? '').split(/\s+/);
  return Object.fromEntries(header.map((name, i) => [name, cells[i] ?? '']));
}

test('top without a terminal prints a frame per second, shows a respawn as spawns/s, and quits on SIGTERM', async (t) => {
  const port = await freePort();
  const supervisor = startSupervisor(['-p', String(port), '-F', '2', '--', process.execPath, RESPONDER]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const top = spawn(process.execPath, [BIN, 'top', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: testEnvironment() });
  const exited = new Promise<number | null>((resolve) => top.once('exit', (code) => resolve(code)));
  t.after(() => killQuietly(top.pid as number));
  let output = '';
  top.stdout.on('data', (data: Buffer) => (output += data.toString()));
  const started = Date.now();
  await waitFor('two frames', () => frames(output).length >= 2, { timeoutMs: 15_000 });
  const [first] = frames(output);
  assert.ok(first);
  assert.match(first, new RegExp(`^127\\.0\\.0\\.1-${port}: running, pid ${supervisor.pid}, up `));
  const cells = row(first, 'default');
  assert.equal(cells.LISTEN, '2', first);
  assert.equal(cells.QUEUE, '0', first);
  assert.equal(cells['SPAWNS/S'], '-', 'no rate before a second frame');
  assert.ok(Date.now() - started >= 900, 'frames come once a second, not at once');
  // A worker killed: the frame after its replacement shows a spawn rate above 0.
  const { workers } = await statusJson(['-p', String(port)]);
  killQuietly(workers[0]?.pid as number, 'SIGKILL');
  await waitFor('a frame with a spawn rate above 0', () => frames(output).some((frame) => Number(row(frame, 'default')['SPAWNS/S']) > 0), { timeoutMs: 15_000 });
  top.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('top --iterations 2 prints two frames and exits 0; not running exits 3', async (t) => {
  const port = await freePort();
  const supervisor = startSupervisor(['-p', String(port), '--', process.execPath, RESPONDER]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const result = await runCli(['top', '-p', String(port), '--iterations', '2']);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(frames(result.stdout).length, 2, result.stdout);
  const stopped = await runCli(['top', '-p', String(await freePort())]);
  assert.equal(stopped.code, 3);
  const bad = await runCli(['top', '-p', String(port), '--iterations', '0']);
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /^fcgi-spawn: invalid --iterations '0': expected a whole number from 1\n$/);
});
