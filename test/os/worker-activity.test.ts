/**
 * What a worker in poll() is doing, read from the pollfd array in its memory: waiting on the listening socket is
 * idle (Python's socketserver), waiting on anything else while holding the socket is busy (php-cgi polls the
 * connection it has just accepted, for up to 5 s, with fd 0 still the listening socket).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { readProcText } from '../../src/os/proc.js';
import { syscallNumbers } from '../../src/os/syscall-numbers.js';
import { workerActivity, workerReadiness } from '../../src/os/worker-activity.js';
import { killQuietly } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

// A listening socket at fd 0, then poll() on it ("socket") or on a pipe nobody writes ("pipe").
const POLLER = `
import os, select, socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); os.dup2(s.fileno(), 0)
r, w = os.pipe()
p = select.poll()
p.register(0 if sys.argv[1] == 'socket' else r, select.POLLIN)
p.poll()
`;

async function activityOf(mode: 'socket' | 'pipe') {
  const numbers = syscallNumbers();
  const child = spawn(findTool('python3') as string, ['-c', POLLER, mode], { detached: true, stdio: 'ignore' });
  const pid = child.pid as number;
  try {
    await waitFor(`python3 (${mode}) in poll()`, () => {
      const nr = Number((readProcText(`/proc/${pid}/syscall`) ?? '').split(' ')[0]);
      return numbers?.poll.includes(nr) === true;
    });
    const inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/0`))?.[1]);
    return workerActivity(pid, { inode });
  } finally {
    killQuietly(pid);
    await waitFor(`python3 ${pid} gone`, () => child.exitCode !== null || child.signalCode !== null);
  }
}

test('poll() on the listening socket is idle and ready; poll() on something else while holding it is busy', needs('python3'), async (t) => {
  if (!syscallNumbers()) return t.skip('no syscall numbers for this architecture');
  assert.deepEqual(await activityOf('socket'), { activity: 'idle', ready: 'poll' });
  assert.deepEqual(await activityOf('pipe'), { activity: 'busy' });
});

// A listening socket at the given fd, then accept() on it.
const ACCEPTER = `
import os, socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); fd = int(sys.argv[1]); os.dup2(s.fileno(), fd)
socket.socket(fileno=fd).accept()
`;

test('readiness: blocked in accept() on the socket is ready at the first look, at fd 0 or 3; on another socket it is not', needs('python3'), async (t) => {
  const numbers = syscallNumbers();
  if (!numbers) return t.skip('no syscall numbers for this architecture');
  for (const fd of [0, 3]) {
    const child = spawn(findTool('python3') as string, ['-c', ACCEPTER, String(fd)], { detached: true, stdio: 'ignore' });
    const pid = child.pid as number;
    try {
      await waitFor(`python3 in accept() on fd ${fd}`, () => {
        const [nr, first] = (readProcText(`/proc/${pid}/syscall`) ?? '').split(' ');
        return numbers.accept.includes(Number(nr)) && Number.parseInt(first ?? '', 16) === fd;
      });
      const inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1]);
      assert.equal(workerReadiness(pid, { inode }), 'accept');
      // The same answer as the full classification gives.
      assert.equal(workerActivity(pid, { inode })?.ready, 'accept');
      // Another socket's pool: this worker does not wait on it.
      assert.equal(workerReadiness(pid, { inode: inode + 1 }), undefined);
    } finally {
      killQuietly(pid);
      await waitFor(`python3 ${pid} gone`, () => child.exitCode !== null || child.signalCode !== null);
    }
  }
});

test('readiness: a worker in poll() on the socket is found by the full look (poll), not the accept() shortcut', needs('python3'), async (t) => {
  const numbers = syscallNumbers();
  if (!numbers) return t.skip('no syscall numbers for this architecture');
  const child = spawn(findTool('python3') as string, ['-c', POLLER, 'socket'], { detached: true, stdio: 'ignore' });
  const pid = child.pid as number;
  try {
    await waitFor('python3 in poll()', () => numbers.poll.includes(Number((readProcText(`/proc/${pid}/syscall`) ?? '').split(' ')[0])));
    const inode = Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/0`))?.[1]);
    assert.equal(workerReadiness(pid, { inode }), 'poll');
  } finally {
    killQuietly(pid);
    await waitFor(`python3 ${pid} gone`, () => child.exitCode !== null || child.signalCode !== null);
  }
});
