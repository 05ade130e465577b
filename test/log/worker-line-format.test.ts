import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/log/line-splitter.js';
import { createLineFormatter, type WorkerLogFormat } from '../../src/log/worker-line-format.js';

const ORIGIN = { workerIndex: 1, pid: 4211, stream: 'stdout' } as const;

/** Feeds the reads through a splitter and a formatter as worker-output.ts does; returns what take() gave per read. */
function format(kind: WorkerLogFormat, reads: readonly Buffer[]): Buffer[][] {
  const splitter = new LineSplitter(16);
  const formatter = createLineFormatter(kind, ORIGIN);
  return reads.map((read) => {
    formatter.start('2026-12-06T00:00:00.000Z');
    splitter.push(read, formatter.add);
    return [...formatter.take()];
  });
}

test('raw: a line carried over from the previous read and the rest of the read are handed over as whole lines, the rest uncopied', () => {
  const second = Buffer.from('ne one\nline two\nline three\npart');
  const [first, next] = format('raw', [Buffer.from('li'), second]);
  assert.deepEqual(first, [], 'nothing whole in the first read');
  assert.deepEqual(next?.map(String), ['line one\n', 'line two\nline three\n']);
  const rest = next?.[1] as Buffer;
  assert.equal(rest.buffer, second.buffer, 'the run of whole lines is a view of the read buffer');
  assert.equal(rest.byteOffset, second.byteOffset + 'ne one\n'.length);
});

test('raw: a cut piece carries its backslash, every buffer handed over ends with a newline', () => {
  const reads = [Buffer.from('short\n0123456789abcdefXYZ\nend\n')];
  const [out] = format('raw', reads);
  assert.deepEqual(out?.map(String), ['short\n', '0123456789abcdef\\\n', 'XYZ\nend\n']);
  for (const buffer of out ?? []) assert.equal(buffer[buffer.length - 1], 0x0a);
});

test('text and json: one buffer of whole lines per read', () => {
  const [text] = format('text', [Buffer.from('a\nb\n')]);
  assert.deepEqual(text?.map(String), ['2026-12-06T00:00:00.000Z worker=1 pid=4211 stdout: a\n2026-12-06T00:00:00.000Z worker=1 pid=4211 stdout: b\n']);
  const [json] = format('json', [Buffer.from('a\n')]);
  assert.equal(json?.length, 1);
  assert.deepEqual(JSON.parse(String(json?.[0])), { time: '2026-12-06T00:00:00.000Z', worker: 1, pid: 4211, stream: 'stdout', line: 'a' });
});
