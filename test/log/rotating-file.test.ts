import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { openRotatingFile } from '../../src/log/rotating-file.js';
import type { LineSink, SinkRecovery } from '../../src/log/sink.js';
import { captureWorkerOutput } from '../../src/log/worker-output.js';
import { killChildren, readRetained, retainedFiles, startFlooder, tally, tempDir, waitFor, type Flooder } from './helpers.js';

after(killChildren);

function numbered(from: number, count: number, width = 40): string {
  let text = '';
  for (let seq = from; seq < from + count; seq += 1) text += `${String(seq).padStart(8, '0')} ${'x'.repeat(width)}\n`;
  return text;
}

function seqs(lines: readonly string[]): number[] {
  return lines.map((line) => Number(line.slice(0, 8)));
}

/** Every number from `first` to `last` once, in order. */
function assertRun(numbers: readonly number[], first: number, last: number): void {
  assert.equal(numbers.length, last - first + 1, `expected ${first}..${last}, got ${numbers.length} lines`);
  numbers.forEach((seq, index) => assert.equal(seq, first + index));
}

test('rotates by renaming at line boundaries, each file within the size limit, the newest lines kept in order', async () => {
  const dir = tempDir('rotate');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file, maxSize: 1000, maxFiles: 3 });
  // 50-byte lines in writes of 7 lines (350 bytes): a write never ends where a file must.
  for (let seq = 0; seq < 700; seq += 7) sink.write(numbered(seq, 7));
  await sink.end();
  assert.deepEqual(retainedFiles(file, 5).map((name) => path.basename(name)), ['w.log.3', 'w.log.2', 'w.log.1', 'w.log']);
  for (const name of retainedFiles(file, 3)) {
    const size = fs.statSync(name).size;
    assert.ok(size <= 1000 && size > 1000 - 50, `${name} is ${size} bytes`);
  }
  const numbers = seqs(readRetained(file, 3));
  assertRun(numbers, 700 - numbers.length, 699);
  assert.equal(sink.stats().rotations, 700 / 20 - 1);
  fs.rmSync(dir, { recursive: true });
});

test('a line longer than the limit goes whole into a file of its own', async () => {
  const dir = tempDir('long');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file, maxSize: 100, maxFiles: 2 });
  sink.write('short\n');
  sink.write(`${'y'.repeat(250)}\n`);
  sink.write('after\n');
  await sink.end();
  assert.equal(fs.readFileSync(`${file}.2`, 'utf8'), 'short\n');
  assert.equal(fs.readFileSync(`${file}.1`, 'utf8'), `${'y'.repeat(250)}\n`);
  assert.equal(fs.readFileSync(file, 'utf8'), 'after\n');
  fs.rmSync(dir, { recursive: true });
});

test('maxFiles 0 starts a new file without keeping the old one', async () => {
  const dir = tempDir('nokeep');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file, maxSize: 60, maxFiles: 0 });
  sink.write(numbered(0, 3));
  await sink.end();
  assert.deepEqual(fs.readdirSync(dir), ['w.log']);
  assertRun(seqs(readRetained(file, 0)), 2, 2);
  fs.rmSync(dir, { recursive: true });
});

test('reopen() after an external rename (logrotate create mode) writes on in a new file, nothing lost', async () => {
  const dir = tempDir('reopen');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file });
  sink.write(numbered(0, 100));
  await sink.flush();
  fs.renameSync(file, `${file}.rotated`);
  // Lines written after the rename and before reopen() still go to the renamed file: that is logrotate's
  // create mode; after reopen() resolves nothing more goes there.
  sink.write(numbered(100, 50));
  const reopened = sink.reopen();
  sink.write(numbered(150, 50));
  await reopened;
  const sizeAfterReopen = fs.statSync(`${file}.rotated`).size;
  sink.write(numbered(200, 100));
  await sink.end();
  assert.equal(fs.statSync(`${file}.rotated`).size, sizeAfterReopen);
  const old = seqs(fs.readFileSync(`${file}.rotated`, 'utf8').split('\n').slice(0, -1));
  const current = seqs(fs.readFileSync(file, 'utf8').split('\n').slice(0, -1));
  assertRun([...old, ...current], 0, 299);
  assert.ok(old.length >= 100 && current.length >= 100);
  fs.rmSync(dir, { recursive: true });
});

test('write() returns false past the high-water mark and emits drain; memory stays bounded', async () => {
  const dir = tempDir('drain');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file, maxSize: 64 * 1024, maxFiles: 2, highWaterMark: 4096 });
  let maxQueued = 0;
  let refusals = 0;
  for (let seq = 0; seq < 5000; seq += 10) {
    if (!sink.write(numbered(seq, 10))) {
      refusals += 1;
      maxQueued = Math.max(maxQueued, sink.stats().queuedBytes);
      await new Promise((resolve) => sink.once('drain', resolve));
    }
  }
  await sink.end();
  assert.ok(refusals > 0, 'the sink said it was full at least once');
  assert.ok(maxQueued < 4096 + 500, `queued ${maxQueued} bytes`);
  const numbers = seqs(readRetained(file, 2));
  assertRun(numbers, 5000 - numbers.length, 4999);
  assert.equal(sink.stats().droppedLines, 0);
  fs.rmSync(dir, { recursive: true });
});

test('a vanished directory is reported once, lines are dropped whole, and writing resumes when it is back', async () => {
  const dir = tempDir('vanish');
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir);
  const file = path.join(logDir, 'w.log');
  const errors: string[] = [];
  const recoveries: SinkRecovery[] = [];
  const sink = await openRotatingFile({
    path: file,
    maxSize: 500,
    maxFiles: 2,
    retryMs: 20,
    maxRetryMs: 40,
    onError: (error) => errors.push(error.code ?? error.message),
    onRecover: (recovery) => recoveries.push(recovery),
  });
  fs.rmSync(logDir, { recursive: true });
  for (let seq = 0; seq < 100; seq += 5) assert.equal(sink.write(numbered(seq, 5)), true);
  await waitFor('the fault report', () => errors.length > 0);
  for (let seq = 100; seq < 200; seq += 5) sink.write(numbered(seq, 5));
  fs.mkdirSync(logDir);
  await waitFor('recovery', () => recoveries.length > 0, 5000);
  sink.write(numbered(200, 5));
  await sink.end();
  assert.deepEqual(errors, ['ENOENT'], 'reported once');
  const numbers = seqs(readRetained(file, 2));
  assert.ok(numbers.includes(204), 'writing resumed');
  assert.deepEqual([...numbers].sort((a, b) => a - b), numbers, 'in order, none repeated');
  assert.ok(new Set(numbers).size === numbers.length);
  fs.rmSync(dir, { recursive: true });
});

test('start-up error names the file and the cause in one line', async () => {
  await assert.rejects(openRotatingFile({ path: '/nonexistent-dir/w.log' }), {
    message: 'unable to open log file /nonexistent-dir/w.log: ENOENT (no such file or directory)',
  });
});

test('a full filesystem: reported once, workers keep running, whole lines only, resumes when space is freed', async (t) => {
  const dir = tempDir('enospc');
  const reason = tryMountTmpfs(dir);
  if (reason !== null) {
    t.skip(`needs root and a 256k tmpfs mount: ${reason}`);
    fs.rmSync(dir, { recursive: true });
    return;
  }
  t.after(() => {
    execFileSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true });
  });
  const filler = path.join(dir, 'filler');
  fillUp(filler);
  const file = path.join(dir, 'w.log');
  const errors: string[] = [];
  const recoveries: SinkRecovery[] = [];
  const sink = await openRotatingFile({
    path: file,
    maxSize: 32 * 1024,
    maxFiles: 2,
    maxQueued: 16 * 1024,
    retryMs: 20,
    maxRetryMs: 50,
    onError: (error) => errors.push(error.code ?? error.message),
    onRecover: (recovery) => recoveries.push(recovery),
  });
  // A worker writing 1 MB while nothing can be written: it must run to its end, not block on its pipe.
  const during = startFlooder(['10000', '100', 'both', '--id', 'full']);
  await captureBoth(during, sink);
  assert.equal(await during.exited, 0);
  assert.deepEqual(errors, ['ENOSPC'], 'reported once');
  assert.ok(sink.stats().droppedLines > 0, 'lines past the bounded queue were dropped');
  fs.rmSync(filler);
  await waitFor('recovery', () => recoveries.length > 0, 5000);
  const afterwards = startFlooder(['100', '100', 'stdout', '--id', 'after']);
  await captureBoth(afterwards, sink);
  await sink.end();
  const { seen, malformed } = tally(readRetained(file, 2), 100);
  assert.deepEqual(malformed, [], 'whole lines only');
  assert.equal(seen.get('after stdout')?.size, 100, 'writing resumed');
  const stats = sink.stats();
  assert.equal(recoveries[0]?.droppedLines, stats.droppedLines);
  const kept = [...seen.values()].reduce((sum, bySeq) => sum + bySeq.size, 0);
  assert.equal(kept + stats.droppedLines, 20_100, 'every line written or counted as dropped');
  for (const bySeq of seen.values()) assert.ok([...bySeq.values()].every((times) => times === 1), 'nothing repeated');
});

function captureBoth(flooder: Flooder, sink: LineSink): Promise<unknown> {
  const { child, pid } = flooder;
  return Promise.all(
    (['stdout', 'stderr'] as const).map((streamName) => {
      const stream = streamName === 'stdout' ? child.stdout : child.stderr;
      if (stream === null) throw new Error('no pipe');
      return captureWorkerOutput({ stream, streamName, workerIndex: 0, pid, sink, format: 'raw' }).done;
    }),
  );
}

/** null when a 256k tmpfs is mounted on `dir`, else why not. */
function tryMountTmpfs(dir: string): string | null {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (error) {
    return `mount failed: ${(error as Error).message.split('\n')[0] ?? ''}`;
  }
}

function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 0x2e));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
}

test('writes are gathered: a lone line waits for the delay, a full batch and flush() do not', async () => {
  const dir = tempDir('coalesce');
  const file = path.join(dir, 'w.log');
  const content = (): string => fs.readFileSync(file, 'utf8');
  // A delay no test run reaches: only the batch size and flush() can start these writes.
  const sink = await openRotatingFile({ path: file, coalescing: { minBytes: 64 * 1024, delayMs: 3_600_000 } });
  sink.write(numbered(0, 1));
  sink.write(numbered(1, 2000));
  await waitFor('the full batch written', () => content().length === numbered(0, 2001).length);
  assert.deepEqual(seqs(content().split('\n').slice(0, -1)), Array.from({ length: 2001 }, (_, seq) => seq));
  sink.write(numbered(2001, 1));
  await sink.flush();
  assert.equal(content().split('\n').slice(-2)[0]?.slice(0, 8), '00002001', 'flush() wrote the lone line');
  sink.write(numbered(2002, 1));
  await sink.end();
  assert.equal(content().split('\n').slice(-2)[0]?.slice(0, 8), '00002002', 'end() wrote the lone line');
  fs.rmSync(dir, { recursive: true });
});

test('a lone line reaches the file by itself after the delay, without flush()', async () => {
  const dir = tempDir('coalesce-delay');
  const file = path.join(dir, 'w.log');
  const sink = await openRotatingFile({ path: file, coalescing: { minBytes: 64 * 1024, delayMs: 20 } });
  sink.write(numbered(0, 1));
  await waitFor('the lone line', () => fs.readFileSync(file, 'utf8') === numbered(0, 1));
  await sink.end();
  fs.rmSync(dir, { recursive: true });
});
