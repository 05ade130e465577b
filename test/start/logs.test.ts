/**
 * Logs of a real supervisor: worker output captured into a rotating file, reopened after an external rename
 * (logrotate create mode + SIGUSR1), the supervisor's own lifecycle in a file (text and JSON), start-up errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { checkContiguousTail, retainedFiles, tally } from '../log/helpers.js';

const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];
const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const CRASHER = join(FIXTURES, 'crasher.mjs');
/** How a worker killed after readiness is replaced: after a backoff within --start-secs of it (an early crash), at once later. */
const RESPAWNED = '(?: \\d+ ms after it became ready: early crash 1, retrying in 100 ms|: respawning)';
const TEXT_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z worker=(\d+) pid=(\d+) (stdout|stderr): (.*)$/;

/**
 * A worker that first writes COUNT numbered lines of LENGTH bytes to stdout and to stderr (the flooder, with its
 * worker's pid as the line prefix), then serves: it is ready only once it has written everything.
 */
function flooderWorker(count: number, length: number): string[] {
  const script = `"$0" "$1" ${count} ${length} both --id $$ && exec "$0" "$2"`;
  return ['/bin/sh', '-c', script, process.execPath, join(FIXTURES, 'flooder.mjs'), RESPONDER];
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function readLines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${file} does not end with a newline`);
  return text === '' ? [] : text.slice(0, -1).split('\n');
}

/** The flooder lines of a text worker log, checked against their marks (the prefix is the worker's pid). */
function payloads(lines: readonly string[]): string[] {
  return lines.map((line) => {
    const match = TEXT_LINE.exec(line);
    assert.ok(match, `not a marked worker line: ${JSON.stringify(line.slice(0, 200))}`);
    const [, , pid, stream, payload] = match as unknown as [string, string, string, string, string];
    assert.ok(payload.startsWith(`${pid} ${stream} `), `marked pid=${pid} ${stream} but says: ${payload.slice(0, 40)}`);
    return payload;
  });
}

/** Both streams of the worker wrote their last line (a wait condition; no rotation). */
function lastLinesWritten(file: string, pid: number, count: number): boolean {
  const text = readFileSync(file, 'utf8');
  return text.includes(`${pid} stdout ${count - 1} `) && text.includes(`${pid} stderr ${count - 1} `);
}

test('worker output through rotation at 64K × 5: every retained line once and intact, files within a line of the limit', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'workers.log');
  const count = 1500;
  const length = 100;
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--worker-log', file, '--log-max-size', '64K', '--log-max-files', '5', '--', ...flooderWorker(count, length)]);
  t.after(() => pool.cleanup());
  await pool.waitReady(20_000);
  assert.equal(pool.workerPids.length, 2, pool.log());
  // Ready means each worker has written everything; stopping then reads its pipes to the end and flushes.
  assert.equal((await pool.stop()).code, 0, pool.log());

  const names = retainedFiles(file, 5);
  assert.equal(names.length, 6, `expected PATH and PATH.1-5 after ~900 KB at 64K: ${names.join(', ')}`);
  assert.equal(existsSync(`${file}.6`), false);
  const lines: string[] = [];
  for (const name of names) {
    const size = statSync(name).size;
    assert.ok(size <= 64 * 1024, `${name}: ${size} bytes, over the limit`);
    const own = readLines(name);
    const longest = Math.max(...own.map((line) => Buffer.byteLength(line) + 1));
    // A rotated file was closed before the line that would not fit: within one line of the limit.
    if (name !== file) assert.ok(size > 64 * 1024 - longest, `${name}: ${size} bytes, more than one line under the limit`);
    lines.push(...own);
  }
  const { seen, malformed } = tally(payloads(lines), length);
  assert.deepEqual(malformed, [], 'lines cut, joined or altered');
  // The files are a suffix of one ordered stream: each writer's retained lines are its last ones, each once.
  for (const [key, bySeq] of seen) assert.equal(checkContiguousTail(bySeq, count), null, key);
  assert.ok(seen.size >= 2, `only ${[...seen.keys()].join(', ')} retained`);
  assert.ok(lines.length > 2000, `${lines.length} lines retained`);
});

test('SIGUSR1 after an external rename: both logs go on in new files, nothing more in the renamed ones', async (t) => {
  const dir = tempDir(t);
  const workerLog = join(dir, 'workers.log');
  const supervisorLog = join(dir, 'fcgi-spawn.log');
  const count = 300;
  const port = await freePort();
  const args = ['-p', String(port), '-F', '1', '--log-file', supervisorLog, '--worker-log', workerLog, '--', ...flooderWorker(count, 80)];
  const pool = startSupervisor(args, { logFile: supervisorLog });
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [first] = pool.workerPids;
  assert.ok(first !== undefined, pool.log());
  await waitFor('the first worker\'s lines', () => lastLinesWritten(workerLog, first, count));

  // logrotate's create mode: rename, create the new file, then signal.
  for (const name of [workerLog, supervisorLog]) {
    renameSync(name, `${name}.1`);
    writeFileSync(name, '', { mode: 0o640 });
  }
  process.kill(pool.pid, 'SIGUSR1');
  await pool.waitForLine(new RegExp(`info: log files reopened: ${supervisorLog}, ${workerLog}`));
  // A new worker writes its lines after the reopen.
  process.kill(first, 'SIGKILL');
  const second = await waitFor('a replacement worker', () => pool.workerPids.find((pid) => pid !== first));
  await waitFor('the replacement\'s lines', () => lastLinesWritten(workerLog, second, count));
  assert.equal((await pool.stop()).code, 0, pool.log());
  assert.deepEqual(pool.stderrLines, [], 'with --log-file nothing goes to stderr');

  for (const [name, pid] of [[`${workerLog}.1`, first], [workerLog, second]] as const) {
    const { seen, malformed } = tally(payloads(readLines(name)), 80);
    assert.deepEqual(malformed, []);
    assert.deepEqual([...seen.keys()].sort(), [`${pid} stderr`, `${pid} stdout`], `${name} holds the lines of worker ${pid} only`);
    for (const [key, bySeq] of seen) {
      assert.equal(checkContiguousTail(bySeq, count), null, key);
      assert.equal(bySeq.size, count, `${name}: every line of ${key}`);
    }
  }
  const before = readFileSync(`${supervisorLog}.1`, 'utf8');
  const after = readFileSync(supervisorLog, 'utf8');
  assert.match(before, /info: ready: 1 worker /);
  assert.doesNotMatch(before, /reopened|respawning/);
  assert.match(after, /info: log files reopened: /);
  // Killed within --start-secs of readiness it is an early crash (a short backoff), later it is respawned at once.
  assert.match(after, new RegExp(`worker ${first} \\(slot 0, generation 1\\) ready→exited \\(killed by SIGKILL\\)${RESPAWNED}`));
  assert.match(after, new RegExp(`worker ${second} \\(slot 0, generation 1\\) spawned`));
  assert.match(after, /info: stopped: every worker exited, socket closed/);
});

for (const format of ['text', 'json'] as const) {
  test(`--log-file --log-format ${format}: the supervisor's lifecycle with pids and exit statuses`, async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'fcgi-spawn.log');
    const port = await freePort();
    const pool = startSupervisor(['-p', String(port), '--log-file', file, '--log-format', format, '--', process.execPath, RESPONDER], { logFile: file });
    t.after(() => pool.cleanup());
    await pool.waitForLine(format === 'text' ? /info: ready: / : /"message":"ready: /);
    const [first] = pool.workerPids;
    assert.ok(first !== undefined, pool.log());
    process.kill(first, 'SIGKILL');
    await waitFor('the replacement ready', () => pool.log().split('starting→ready').length === 3);
    assert.equal((await pool.stop()).code, 0, pool.log());
    assert.deepEqual(pool.stderrLines, [], 'with --log-file nothing goes to stderr');
    const [, second] = pool.workerPids;
    const supervisor = pool.pid;
    const expected = [
      { message: new RegExp(`^listening on 127\\.0\\.0\\.1:${port}: starting 1 × `), fields: {} },
      { message: new RegExp(`^worker ${first} \\(slot 0, generation 1\\) spawned$`), fields: { pid: first } },
      { message: new RegExp(`^worker ${first} \\(slot 0, generation 1\\) starting→ready`), fields: {} },
      { message: new RegExp(`^ready: 1 worker on 127\\.0\\.0\\.1:${port}$`), fields: {} },
      { message: new RegExp(`^worker ${first} .* ready→exited \\(killed by SIGKILL\\)${RESPAWNED}$`), level: 'warn', fields: { signal: 'SIGKILL', code: null } },
      { message: new RegExp(`^worker ${second} \\(slot 0, generation 1\\) spawned$`), fields: { pid: second } },
      { message: /^SIGTERM: stopping every worker$/, fields: {} },
      { message: new RegExp(`^worker ${second} .* stopping→exited \\(exit status 0\\)$`), fields: { code: 0, signal: null } },
      { message: /^stopped: every worker exited, socket closed$/, fields: {} },
    ];
    const lines = readLines(file);
    let at = 0;
    for (const { message, fields, level = 'info' } of expected as { message: RegExp; fields: object; level?: string }[]) {
      const index = lines.findIndex((line, i) => i >= at && message.test(lineMessage(line, format)));
      assert.ok(index >= 0, `no line matching ${message} after line ${at}:\n${lines.join('\n')}`);
      const line = lines[index] as string;
      if (format === 'json') {
        const record = JSON.parse(line) as Record<string, unknown>;
        assert.equal(record['level'], level);
        assert.match(String(record['time']), /^\d{4}-\d\d-\d\dT/);
        // `pid` is the supervisor's in JSON (supervisor-log.ts); the worker's pid is in the message.
        assert.equal(record['pid'], supervisor);
        for (const [key, value] of Object.entries(fields)) if (key !== 'pid') assert.equal(record[key], value, `${key} in ${line}`);
      } else {
        assert.match(line, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z fcgi-spawn\\[${supervisor}\\]: ${level}: `));
        for (const [key, value] of Object.entries(fields)) assert.ok(line.includes(` ${key}=${value}`), `${key}=${value} in ${line}`);
      }
      at = index + 1;
    }
  });
}

function lineMessage(line: string, format: 'text' | 'json'): string {
  if (format === 'json') return String((JSON.parse(line) as { message: unknown }).message);
  return /: (?:info|warn|error|debug): (.*?)(?: [a-z_]+=\S+)*$/.exec(line)?.[1] ?? '';
}

test('a log directory that is missing: exit 2 with one line, no socket file, no worker', async (t) => {
  const dir = tempDir(t);
  const socket = join(dir, 'app.sock');
  for (const option of ['--log-file', '--worker-log']) {
    const missing = join(dir, 'missing', 'x.log');
    const result = await runCli(['start', '-n', '-s', socket, option, missing, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `fcgi-spawn: unable to open log file ${missing}: ENOENT (no such file or directory); create its directory or choose another ${option}\n`,
    );
    assert.equal(existsSync(socket), false, 'socket file left behind');
  }
});

test('a worker that fails to start is reported with its last stderr line from a worker log file, and without one for none', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'workers.log');
  const port = await freePort();
  const crasher = ['--start-retries', '0', ...ALLOW_ROOT, '--', process.execPath, CRASHER, '7'];
  const captured = await runCli(['start', '-n', '-p', String(port), '--worker-log', file, '--worker-log-format', 'json', ...crasher]);
  assert.equal(captured.code, 1, captured.stderr);
  const last = captured.stderr.trim().split('\n').at(-1) ?? '';
  assert.match(last, /^fcgi-spawn: start failed: slot 0 failed to start 1 times; .*; its last stderr line: crasher: failing on purpose \(exit 7\)$/);
  const records = readLines(file).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(records.length, 1, readFileSync(file, 'utf8'));
  assert.deepEqual({ ...records[0], time: 'T', pid: 'P' }, { time: 'T', worker: 0, pid: 'P', stream: 'stderr', line: 'crasher: failing on purpose (exit 7)' });

  const discarded = await runCli(['start', '-n', '-p', String(port), '--worker-log', 'none', ...crasher]);
  assert.equal(discarded.code, 1, discarded.stderr);
  assert.match(discarded.stderr, /start failed: slot 0 failed to start 1 times; last: exited before it was ready \(exit status 7\)\n$/);
  assert.doesNotMatch(discarded.stderr, /crasher:/);
});
