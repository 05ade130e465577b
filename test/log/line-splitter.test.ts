import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter, type LineEnd } from '../../src/log/line-splitter.js';

type Line = [string, LineEnd];

function split(chunks: readonly Buffer[], limit?: number): Line[] {
  const splitter = new LineSplitter(limit);
  const lines: Line[] = [];
  const onLine = (buffer: Buffer, start: number, end: number, kind: LineEnd): void => {
    if (kind === 'newline') assert.equal(buffer[end], 10, 'a newline line is followed by its \\n in the buffer');
    lines.push([buffer.toString('utf8', start, end), kind]);
  };
  for (const chunk of chunks) splitter.push(chunk, onLine);
  splitter.end(onLine);
  return lines;
}

test('a line split across reads stays one line, whatever the read boundaries', () => {
  const text = Buffer.from('first line\nsecond ünïcode line €\n\nlast');
  const expected: Line[] = [
    ['first line', 'newline'],
    ['second ünïcode line €', 'newline'],
    ['', 'newline'],
    ['last', 'eof'],
  ];
  for (let size = 1; size <= text.length; size += 1) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < text.length; at += size) chunks.push(text.subarray(at, at + size));
    assert.deepEqual(split(chunks), expected, `reads of ${size} bytes`);
  }
});

test('a line longer than the limit is split into marked pieces, nothing dropped', () => {
  const long = 'x'.repeat(25);
  assert.deepEqual(split([Buffer.from(`${long}\nshort\n`)], 10), [
    ['x'.repeat(10), 'cut'],
    ['x'.repeat(10), 'cut'],
    ['x'.repeat(5), 'newline'],
    ['short', 'newline'],
  ]);
  // The same line arriving a byte at a time: the carried tail never exceeds the limit.
  const bytes = Buffer.from(`${long}\n`);
  const chunks = [...bytes].map((byte) => Buffer.from([byte]));
  assert.deepEqual(split(chunks, 10).map(([line]) => line).join(''), long);
});

test('a cut never falls inside a multi-byte character', () => {
  const line = '€'.repeat(10); // 3 bytes each
  for (const limit of [4, 5, 7, 16]) {
    const pieces = split([Buffer.from(`${line}\n`)], limit);
    assert.equal(pieces.map(([piece]) => piece).join(''), line, `limit ${limit}`);
    for (const [piece] of pieces) assert.ok(!piece.includes('\uFFFD'), `limit ${limit}: ${piece}`);
  }
});

test('invalid UTF-8 and NUL become U+FFFD, and newlines survive', () => {
  const binary = Buffer.from([0x61, 0xff, 0x00, 0x62, 0x0a, 0xc3, 0x0a, 0xe2, 0x82]);
  assert.deepEqual(split([binary]), [
    ['a\uFFFD\uFFFDb', 'newline'],
    ['\uFFFD', 'newline'],
    ['\uFFFD', 'eof'],
  ]);
});

test('random binary input always yields valid UTF-8 lines with the same newline count', () => {
  let seed = 42;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  const input = Buffer.from(Array.from({ length: 20000 }, random));
  const newlines = input.filter((byte) => byte === 10).length;
  const chunks = [input.subarray(0, 7777), input.subarray(7777, 13000), input.subarray(13000)];
  const lines = split(chunks, 64);
  assert.equal(lines.filter(([, kind]) => kind === 'newline').length, newlines);
  for (const [line] of lines) {
    assert.ok(!line.includes('\0') && !line.includes('\n'));
    assert.equal(Buffer.from(line).toString('utf8'), line);
  }
});

/** The lines of a splitter made with `runs: true`, each run of kind 'lines' taken apart at its newlines. */
function splitRuns(chunks: readonly Buffer[], limit: number): Line[] {
  const splitter = new LineSplitter(limit, true);
  const lines: Line[] = [];
  const onLine = (buffer: Buffer, start: number, end: number, kind: LineEnd): void => {
    if (kind !== 'lines') {
      lines.push([buffer.toString('utf8', start, end), kind]);
      return;
    }
    assert.equal(buffer[end], 10, 'a run ends where its last line\'s \\n is');
    for (const line of buffer.toString('utf8', start, end).split('\n')) {
      assert.ok(Buffer.byteLength(line) <= limit, `a line of ${Buffer.byteLength(line)} bytes in a run, limit ${limit}`);
      lines.push([line, 'newline']);
    }
  };
  for (const chunk of chunks) splitter.push(chunk, onLine);
  splitter.end(onLine);
  return lines;
}

test('runs of lines (raw) give the same lines, cuts and marks as one line at a time', () => {
  let seed = 7;
  const random = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  // Lines of 0 to 300 bytes (some over every limit below), some multi-byte characters, some invalid bytes.
  const parts: Buffer[] = [];
  for (let line = 0; line < 400; line += 1) {
    const length = random(4) === 0 ? random(300) : random(40);
    parts.push(Buffer.from(Array.from({ length }, () => [0x61 + random(26), 0xe2, 0x82, 0xac, 0xff, 0x00][random(6)] as number)), Buffer.from('\n'));
  }
  parts.push(Buffer.from('tail'));
  const input = Buffer.concat(parts);
  for (const limit of [4, 16, 64, 1000]) {
    for (const size of [1, 13, 100, 4096, input.length]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; at += size) chunks.push(input.subarray(at, at + size));
      assert.deepEqual(splitRuns(chunks, limit), split(chunks, limit), `limit ${limit}, reads of ${size} bytes`);
    }
  }
});
