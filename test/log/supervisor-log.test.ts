import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Logger } from '../../src/log/logger.js';
import { createSupervisorLogger, type SupervisorLogOptions } from '../../src/log/supervisor-log.js';
import { readRetained, retainedFiles, tempDir, waitFor } from './helpers.js';

function collector(): { stream: Writable; lines: () => string[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, lines: () => text.split('\n').slice(0, -1) };
}

async function logged(options: Omit<SupervisorLogOptions, 'stream'>, entries: (logger: Logger) => void): Promise<string[]> {
  const { stream, lines } = collector();
  const logger = await createSupervisorLogger({ ...options, stream });
  entries(logger);
  await logger.close();
  return lines();
}

test('text lines carry time, pid, level, message and fields; levels below the threshold are left out', async () => {
  const lines = await logged({ level: 'info', format: 'text', journal: false }, (logger) => {
    logger.log('info', 'worker ready', { pid: 4211, slot: 0, cmd: 'php-cgi -b x' });
    logger.log('debug', 'not shown');
    logger.log('error', 'unable to bind', { code: 'EADDRINUSE' });
  });
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? '', new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z fcgi-spawn\\[${process.pid}\\]: info: worker ready pid=4211 slot=0 cmd="php-cgi -b x"$`));
  assert.match(lines[1] ?? '', /: error: unable to bind code=EADDRINUSE$/);
});

test('under systemd text lines have no timestamp and start with the syslog priority', async () => {
  const lines = await logged({ level: 'debug', format: 'text', journal: true }, (logger) => {
    logger.log('warn', 'backoff', { wait_ms: 1500 });
    logger.log('debug', 'tick');
  });
  assert.deepEqual(lines, ['<4>warn: backoff wait_ms=1500', '<7>debug: tick']);
});

test('json: one object per line; the fields cannot override time, level or message', async () => {
  const lines = await logged({ level: 'info', format: 'json', journal: false }, (logger) => {
    logger.log('info', 'worker exited', { pid: 7, code: 0, level: 'fake', signal: null });
  });
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.equal(record['level'], 'info');
  assert.equal(record['message'], 'worker exited');
  assert.equal(record['pid'], process.pid, 'our pid, a field of the same name loses');
  assert.equal(record['code'], 0);
  assert.equal(record['signal'], null);
  assert.match(String(record['time']), /^\d{4}-/);
});

test('to a file: rotates by size at line boundaries, reopen() follows an external rename, close() flushes all', async () => {
  const dir = tempDir('suplog');
  const file = path.join(dir, 'fcgi-spawn.log');
  const logger = await createSupervisorLogger({ level: 'info', format: 'text', journal: true, file: { path: file, maxSize: 4096, maxFiles: 3 } });
  for (let seq = 0; seq < 500; seq += 1) logger.log('info', 'event', { seq });
  await logger.close();
  const names = retainedFiles(file, 3);
  assert.equal(names.length, 4);
  for (const name of names) assert.ok(fs.statSync(name).size <= 4096);
  const lines = readRetained(file, 3);
  assert.match(lines[0] ?? '', /^\d{4}-.* fcgi-spawn\[\d+\]: info: event seq=\d+$/, 'a file gets timestamps even under systemd');
  const seqs = lines.map((line) => Number(/seq=(\d+)$/.exec(line)?.[1]));
  assert.equal(seqs.at(-1), 499);
  seqs.forEach((seq, index) => assert.equal(seq, 500 - seqs.length + index));

  const second = await createSupervisorLogger({ level: 'info', format: 'json', journal: false, file: { path: file } });
  second.log('info', 'before');
  await waitFor('the first line on disk', () => fs.readFileSync(file, 'utf8').includes('"before"'));
  fs.renameSync(file, `${file}.old`);
  second.reopen();
  await waitFor('the new file', () => fs.existsSync(file));
  second.log('info', 'after');
  await second.close();
  assert.ok(!fs.readFileSync(`${file}.old`, 'utf8').includes('"after"'));
  assert.match(fs.readFileSync(file, 'utf8'), /"message":"after"/);
  fs.rmSync(dir, { recursive: true });
});

test('a log file that cannot be opened is a one-line start-up error', async () => {
  await assert.rejects(
    createSupervisorLogger({ level: 'info', format: 'text', journal: false, file: { path: '/nonexistent-dir/x.log' } }),
    { message: 'unable to open log file /nonexistent-dir/x.log: ENOENT (no such file or directory)' },
  );
});
