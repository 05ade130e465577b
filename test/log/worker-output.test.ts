import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { openRotatingFile } from '../../src/log/rotating-file.js';
import { StreamSink } from '../../src/log/stream-sink.js';
import type { WorkerLogFormat } from '../../src/log/worker-line-format.js';
import { captureWorkerOutput, type CaptureResult } from '../../src/log/worker-output.js';
import type { LineSink } from '../../src/log/sink.js';
import {
  checkContiguousTail,
  expectedLine,
  killChildren,
  readRetained,
  startFlooder,
  tally,
  tempDir,
  trackChild,
  waitFor,
  type Flooder,
} from './helpers.js';

after(killChildren);

/** Captures both pipes of a flooder into `sink`; resolves when both pipes ended. */
function capture(flooder: Flooder, index: number, sink: LineSink, format: WorkerLogFormat): Promise<CaptureResult[]> {
  const { child, pid } = flooder;
  const captures = (['stdout', 'stderr'] as const).map((streamName) => {
    const stream = streamName === 'stdout' ? child.stdout : child.stderr;
    if (stream === null) throw new Error(`flooder ${pid} has no ${streamName} pipe`);
    return captureWorkerOutput({ stream, streamName, workerIndex: index, pid, sink, format }).done;
  });
  return Promise.all(captures);
}

async function runFlooders(file: string, format: WorkerLogFormat, argsList: readonly string[][], rotation = { maxSize: 0, maxFiles: 0 }): Promise<number[]> {
  const sink = await openRotatingFile({ path: file, ...rotation });
  const flooders = argsList.map((args) => startFlooder(args));
  await Promise.all(flooders.map((flooder, index) => capture(flooder, index, sink, format)));
  const codes = await Promise.all(flooders.map((flooder) => flooder.exited));
  await sink.end();
  return codes.map((code) => (typeof code === 'number' ? code : -1));
}

test('several workers through rotation at 64K × 5: every retained line present exactly once and intact', async () => {
  const dir = tempDir('flood');
  const file = path.join(dir, 'workers.log');
  const count = 5000;
  const ids = ['w0', 'w1', 'w2'];
  await runFlooders(file, 'raw', ids.map((id) => [String(count), '100', 'both', '--id', id]), { maxSize: 64 * 1024, maxFiles: 5 });
  const names = fs.readdirSync(dir).sort();
  assert.deepEqual(names, ['workers.log', 'workers.log.1', 'workers.log.2', 'workers.log.3', 'workers.log.4', 'workers.log.5']);
  for (const name of names) {
    const size = fs.statSync(path.join(dir, name)).size;
    assert.ok(size <= 64 * 1024 && (name === 'workers.log' || size > 64 * 1024 - 101), `${name}: ${size} bytes`);
  }
  const { seen, malformed } = tally(readRetained(file, 5), 100);
  assert.deepEqual(malformed, [], 'no line cut or joined');
  // A writer that finished early may have rotated out entirely; every one still present must end intact.
  assert.ok(seen.size >= 2, `${seen.size} writers in the retained files`);
  for (const [writer, bySeq] of seen) assert.equal(checkContiguousTail(bySeq, count), null, writer);
  fs.rmSync(dir, { recursive: true });
});

test('nothing lost or repeated across 40+ rotations: with enough files kept, every line is there once', async () => {
  const dir = tempDir('flood-all');
  const file = path.join(dir, 'workers.log');
  const count = 5000;
  const ids = ['a0', 'a1', 'a2'];
  await runFlooders(file, 'raw', ids.map((id) => [String(count), '100', 'both', '--id', id]), { maxSize: 64 * 1024, maxFiles: 60 });
  const { seen, malformed } = tally(readRetained(file, 60), 100);
  assert.ok(fs.existsSync(`${file}.40`), 'rotated at least 40 times');
  assert.deepEqual(malformed, []);
  for (const id of ids) {
    for (const stream of ['stdout', 'stderr']) {
      const bySeq = seen.get(`${id} ${stream}`);
      assert.equal(checkContiguousTail(bySeq, count), null, `${id} ${stream}`);
      assert.equal(bySeq?.size, count, `${id} ${stream}: all ${count} lines`);
    }
  }
  fs.rmSync(dir, { recursive: true });
});

test('text format marks time, worker index, pid and stream; a partial last line is flushed at end', async () => {
  const dir = tempDir('text');
  const file = path.join(dir, 'workers.log');
  const sink = await openRotatingFile({ path: file });
  const flooder = startFlooder(['300', '60', 'both', '--id', 'p', '--partial-last']);
  await capture(flooder, 7, sink, 'text');
  await sink.end();
  const pattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) worker=7 pid=(\d+) (stdout|stderr): (.*)$/;
  const records = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((line) => pattern.exec(line));
  assert.equal(records.length, 602);
  const byStream = { stdout: [] as string[], stderr: [] as string[] };
  for (const record of records) {
    assert.ok(record !== null);
    assert.equal(Number(record[2]), flooder.pid);
    byStream[record[3] as 'stdout' | 'stderr'].push(record[4] ?? '');
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    const lines = byStream[stream];
    assert.deepEqual(lines.slice(0, 300), Array.from({ length: 300 }, (_, seq) => expectedLine('p', stream, seq, 60)));
    assert.equal(lines[300], `p ${stream} partial-last`);
  }
  fs.rmSync(dir, { recursive: true });
});

test('a worker that exits mid-line: its half line is kept, and the capture ends with the pipe', async () => {
  const dir = tempDir('midline');
  const file = path.join(dir, 'workers.log');
  const [code] = await runFlooders(file, 'json', [['50', '80', 'stderr', '--id', 'm', '--exit-mid-line']]);
  assert.equal(code, 3);
  const records = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(records.length, 51);
  assert.equal(records[49]?.['line'], expectedLine('m', 'stderr', 49, 80));
  assert.equal(records[50]?.['line'], expectedLine('m', 'stderr', 50, 80).slice(0, 40));
  assert.equal(records[50]?.['stream'], 'stderr');
  fs.rmSync(dir, { recursive: true });
});

test('a line longer than 16 KiB is split into marked pieces that join back to the line', async () => {
  const dir = tempDir('longline');
  const file = path.join(dir, 'workers.log');
  await runFlooders(file, 'text', [['3', '40000', 'stdout', '--id', 'L']]);
  const records = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
  assert.equal(records.length, 9, '3 lines of 40000 bytes: 16384 + 16384 + 7232 each');
  for (let seq = 0; seq < 3; seq += 1) {
    const pieces = records.slice(seq * 3, seq * 3 + 3).map((record) => /^\S+ worker=0 pid=\d+ (stdout\+?): (.*)$/.exec(record));
    assert.deepEqual(pieces.map((piece) => piece?.[1]), ['stdout+', 'stdout+', 'stdout']);
    assert.equal(pieces.map((piece) => piece?.[2]).join(''), expectedLine('L', 'stdout', seq, 40000));
  }
  fs.rmSync(dir, { recursive: true });
});

test('binary output cannot break the file: every JSON record parses, the text file is UTF-8 without NUL', async () => {
  const dir = tempDir('binary');
  for (const format of ['json', 'text'] as const) {
    const file = path.join(dir, `${format}.log`);
    const sink = await openRotatingFile({ path: file });
    const script = 'const b=Buffer.alloc(300000);for(let i=0;i<b.length;i++)b[i]=(i*7919+i*i)%256;process.stdout.write(b)';
    const child = trackChild(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] }));
    if (child.stdout === null || child.pid === undefined) throw new Error('no child');
    const result = await captureWorkerOutput({ stream: child.stdout, streamName: 'stdout', workerIndex: 0, pid: child.pid, sink, format }).done;
    assert.equal(result.bytes, 300000);
    await sink.end();
    const bytes = fs.readFileSync(file);
    assert.ok(!bytes.includes(0), `${format}: no NUL`);
    assert.equal(Buffer.from(bytes.toString('utf8')).equals(bytes), true, `${format}: valid UTF-8`);
    const lines = bytes.toString('utf8').split('\n').slice(0, -1);
    assert.ok(lines.length > 100, `${lines.length} records`);
    if (format === 'json') for (const line of lines) JSON.parse(line);
  }
  fs.rmSync(dir, { recursive: true });
});

test("output after the child's exit is still captured: the capture ends at the pipe's 'end'", async () => {
  const dir = tempDir('late');
  const file = path.join(dir, 'workers.log');
  const sink = await openRotatingFile({ path: file });
  // The background subshell keeps stdout open after sh exits, and writes once it reads a line on fd 3. Not stdin:
  // sh gives a background job /dev/null as stdin, and Node destroys a child's stdin at its exit, which made the
  // subshell read EOF and write at once (a race this test lost under load).
  const script = '(read go <&3; echo late) & echo early';
  const child = trackChild(spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] }));
  const go = child.stdio[3] as Writable | null;
  if (child.stdout === null || go === null || child.pid === undefined) throw new Error('no child');
  const capture = captureWorkerOutput({ stream: child.stdout, streamName: 'stdout', workerIndex: 0, pid: child.pid, sink, format: 'raw' });
  let ended = false;
  void capture.done.then(() => (ended = true));
  await new Promise((resolve) => child.once('exit', resolve));
  await waitFor('the early line', async () => (await sink.flush(), fs.readFileSync(file, 'utf8') === 'early\n'));
  assert.equal(ended, false, 'the pipe is still open after exit');
  go.end('go\n');
  await capture.done;
  await sink.end();
  assert.equal(fs.readFileSync(file, 'utf8'), 'early\nlate\n');
  assert.equal(capture.lastLine(), 'late');
  fs.rmSync(dir, { recursive: true });
});

test('one slow sink holds back only its own worker; memory stays bounded', async (t) => {
  const dir = tempDir('slow');
  const received = path.join(dir, 'received');
  // A reader draining its stdin at 1 MB/s, into a file.
  const reader = trackChild(spawn(process.execPath, ['-e', SLOW_READER, String(1_000_000), received], { stdio: ['pipe', 'ignore', 'inherit'] }));
  if (reader.stdin === null) throw new Error('no reader stdin');
  const slowSink = new StreamSink(reader.stdin, { endStream: true });
  const fastFile = path.join(dir, 'fast.log');
  const fastSink = await openRotatingFile({ path: fastFile, maxSize: 1024 * 1024, maxFiles: 5 });
  const slow = startFlooder(['20000', '100', 'stdout', '--id', 'slow']);
  const fast = startFlooder(['40000', '100', 'stdout', '--id', 'fast']);
  let maxQueued = 0;
  const sampler = setInterval(() => (maxQueued = Math.max(maxQueued, slowSink.stats().queuedBytes)), 5);
  t.after(() => clearInterval(sampler));
  const captures = [capture(slow, 0, slowSink, 'raw'), capture(fast, 1, fastSink, 'raw')];
  await fast.exited;
  assert.equal(slow.child.exitCode, null, '4 MB to a file finished while 2 MB through a 1 MB/s pipe had not');
  await Promise.all(captures);
  clearInterval(sampler);
  await Promise.all([slowSink.end(), fastSink.end()]);
  await new Promise((resolve) => (reader.exitCode !== null ? resolve(null) : reader.once('exit', resolve)));
  assert.ok(maxQueued <= 256 * 1024 + 128 * 1024, `slow sink queued at most ${maxQueued} bytes`);
  const slowTally = tally(fs.readFileSync(received, 'utf8').split('\n').slice(0, -1), 100);
  assert.equal(checkContiguousTail(slowTally.seen.get('slow stdout'), 20000), null);
  assert.equal(slowTally.seen.get('slow stdout')?.size, 20000, 'the slow sink lost nothing');
  assert.equal(checkContiguousTail(tally(readRetained(fastFile, 5), 100).seen.get('fast stdout'), 40000), null);
  fs.rmSync(dir, { recursive: true });
});

/** Reads stdin in 16 KiB reads at RATE bytes/s into FILE (argv: RATE FILE). */
const SLOW_READER = `
const fs = require('fs');
const rate = Number(process.argv[1]);
const out = fs.openSync(process.argv[2], 'w');
const buffer = Buffer.alloc(16384);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  let n;
  try { n = fs.readSync(0, buffer); } catch (error) {
    if (error.code === 'EAGAIN') { Atomics.wait(pause, 0, 0, 5); continue; }
    throw error;
  }
  if (n === 0) break;
  fs.writeSync(out, buffer, 0, n);
  Atomics.wait(pause, 0, 0, (n / rate) * 1000);
}`;

test('blank lines read after an unterminated line do not hide it as the last line, in every format', async () => {
  const dir = tempDir('last-line-split');
  for (const format of ['raw', 'text', 'json'] as const) {
    const file = path.join(dir, `${format}.log`);
    const sink = await openRotatingFile({ path: file });
    // Two writes 200 ms apart, so two reads: the line is carried over the first, and the second brings its end and
    // blank lines (a raw run of blank lines once replaced it).
    const script = "process.stderr.write('php: bad config'); setTimeout(() => process.stderr.write('\\n\\n\\n'), 200)";
    const child = trackChild(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }));
    if (child.stderr === null || child.pid === undefined) throw new Error('no stderr pipe');
    const capture = captureWorkerOutput({ stream: child.stderr, streamName: 'stderr', workerIndex: 0, pid: child.pid, sink, format });
    await capture.done;
    await sink.end();
    assert.equal(capture.lastLine(), 'php: bad config', format);
  }
  fs.rmSync(dir, { recursive: true });
});

test('the last line told is the last non-empty one, in every format', async () => {
  const dir = tempDir('last-line');
  for (const format of ['raw', 'text', 'json'] as const) {
    const file = path.join(dir, `${format}.log`);
    const sink = await openRotatingFile({ path: file });
    const child = trackChild(spawn(process.execPath, ['-e', "process.stderr.write('first\\nsecond\\nthe last\\n\\n\\n')"], { stdio: ['ignore', 'ignore', 'pipe'] }));
    if (child.stderr === null || child.pid === undefined) throw new Error('no stderr pipe');
    const capture = captureWorkerOutput({ stream: child.stderr, streamName: 'stderr', workerIndex: 0, pid: child.pid, sink, format });
    await capture.done;
    await sink.end();
    assert.equal(capture.lastLine(), 'the last', format);
    assert.equal(fs.readFileSync(file, 'utf8').split('\n').length, 6, `${format}: five lines and the final newline`);
  }
  fs.rmSync(dir, { recursive: true });
});
