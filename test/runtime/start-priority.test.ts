import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { getPriority, setPriority } from 'node:os';
import { after, test } from 'node:test';
import { groupDescendants, numericEntries } from '../../src/os/proc.js';
import { START_NICE_STEP, StartPriority } from '../../src/runtime/start-priority.js';
import { killQuietly } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const children: ChildProcess[] = [];
// Each worker leads its own group (detached): the group goes, its sleep child with it, whatever the test left.
after(() => {
  for (const child of children) killQuietly(-(child.pid as number), 'SIGKILL');
});

/** A real worker-like process: a Node program with its threads (libuv's pool, V8's), and a child of its own; a group leader, as workers are. */
async function startWorker(): Promise<{ pid: number; child: number }> {
  const program = `
    const { spawn } = require('node:child_process');
    const child = spawn('sleep', ['60'], { stdio: 'ignore' });
    process.stdout.write(String(child.pid) + '\\n');
    setInterval(() => {}, 1000);
    process.on('SIGTERM', () => { child.kill('SIGKILL'); process.exit(0); });`;
  const worker = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  children.push(worker);
  const [line] = (await once(worker.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const child = Number(String(line).trim());
  return { pid: worker.pid as number, child };
}

async function stop(pid: number): Promise<void> {
  const worker = children.find((c) => c.pid === pid);
  if (!worker || worker.exitCode !== null) return;
  const exited = once(worker, 'exit');
  worker.kill('SIGTERM');
  await exited;
}

/** The niceness of every thread of these processes. */
function niceness(pids: readonly number[]): number[] {
  return pids.flatMap((pid) => numericEntries(`/proc/${pid}/task`).map((tid) => getPriority(tid)));
}

test('a starting worker runs lower, and every thread of it and of its children gets the target back', async (t) => {
  if (process.geteuid?.() !== 0) return t.skip('giving a niceness back needs root (CAP_SYS_NICE)');
  const base = getPriority(0);
  const priority = new StartPriority(true);
  // Lowered before it starts its child: the child inherits the lowered value, as php-cgi's children would.
  const worker = spawn(process.execPath, ['-e', `setTimeout(() => { require('node:child_process').spawn('sleep', ['60'], { stdio: 'ignore' }); setInterval(() => {}, 1000); }, 300)`], { stdio: 'ignore', detached: true });
  children.push(worker);
  const pid = worker.pid as number;
  assert.equal(priority.lower(2, pid, base), true);
  assert.equal(getPriority(pid), Math.min(19, base + START_NICE_STEP));
  const descendants = await waitFor('the worker started its child', () => {
    const found = groupDescendants(pid);
    return found.length > 0 ? found : undefined;
  }, { timeoutMs: 10_000 });
  const lowered = niceness([pid, ...descendants]);
  assert.ok(lowered.some((value) => value === base + START_NICE_STEP), `some thread runs lowered: ${lowered.join(' ')}`);
  priority.restore(2);
  assert.deepEqual(new Set(niceness([pid, ...descendants])), new Set([base]), 'every thread back at the target');
  for (const child of descendants) process.kill(child, 'SIGKILL');
  worker.kill('SIGKILL');
  await once(worker, 'exit');
});

test('a thread that set its own niceness keeps it; a generation restored twice is left alone', async (t) => {
  if (process.geteuid?.() !== 0) return t.skip('giving a niceness back needs root (CAP_SYS_NICE)');
  const base = getPriority(0);
  const { pid, child } = await startWorker();
  const priority = new StartPriority(true);
  assert.equal(priority.lower(3, pid, base), true);
  const own = Math.min(19, base + START_NICE_STEP + 2);
  const [tid] = numericEntries(`/proc/${pid}/task`).filter((id) => id !== pid);
  assert.ok(tid !== undefined, 'the worker has threads besides its main one');
  setPriority(tid, own);
  priority.restore(3);
  assert.equal(getPriority(pid), base);
  assert.equal(getPriority(tid), own, 'its own choice is kept');
  priority.restore(3);
  assert.equal(getPriority(tid), own);
  process.kill(child, 'SIGKILL');
  await stop(pid);
});

test('where the priority could not be given back (not root), nothing is lowered', async () => {
  const { pid, child } = await startWorker();
  const before = getPriority(pid);
  const priority = new StartPriority(false);
  assert.equal(priority.lower(4, pid, before), false);
  assert.equal(getPriority(pid), before);
  priority.restore(4);
  process.kill(child, 'SIGKILL');
  await stop(pid);
});
