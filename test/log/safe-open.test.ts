/**
 * Log files are opened only where no other user can swap them (log/safe-open.ts): a symlink, a link to a
 * missing path, a FIFO, a hard link or a foreign file in the place of the log is refused before a byte is
 * written, at start (an error) and on reopen or rotation (reported once, the previous file stays in use).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openRotatingFile, type RotatingFile } from '../../src/log/rotating-file.js';
import { ensureLogDirectory, LogFileRefusedError } from '../../src/log/safe-open.js';
import { NOBODY, NOGROUP, rootOnlyFile, assertUntouched } from '../helpers/attacker.js';
import { killQuietly } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

const asRoot = process.geteuid?.() === 0;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join('/tmp', 'fcgi-spawn-safe-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function refusal(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LogFileRefusedError, `not a refusal: ${String(error)}`);
    assert.match(error.message, reason);
    return true;
  });
}

/** A file with a known content, to show that nothing reached it. */
function precious(dir: string): string {
  const file = path.join(dir, 'precious');
  fs.writeFileSync(file, 'precious\n', { mode: 0o600 });
  return file;
}

test('start: a symlink in the place of the log is refused, its target untouched; a link to a missing path creates nothing', async (t) => {
  const dir = tempDir(t);
  const target = precious(dir);
  const log = path.join(dir, 'w.log');
  fs.symlinkSync(target, log);
  await refusal(openRotatingFile({ path: log }), /^refusing log file .*\/w\.log: it is a symbolic link$/);
  assert.equal(fs.readFileSync(target, 'utf8'), 'precious\n');
  fs.unlinkSync(log);
  const missing = path.join(dir, 'crontab');
  fs.symlinkSync(missing, log);
  await refusal(openRotatingFile({ path: log }), /it is a symbolic link/);
  assert.equal(fs.existsSync(missing), false, 'root created the file the link points to');
});

test('start: a FIFO in the place of the log is refused at once, with or without a reader', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'w.log');
  execFileSync('mkfifo', [log]);
  await refusal(openRotatingFile({ path: log }), /it is not a regular file \(a FIFO\)/);
  // A reader holding the other end: the open succeeds, fstat tells.
  const reader = spawn('sh', ['-c', 'exec 3<>"$0"; echo open; exec sleep 60', log], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => killQuietly(reader.pid as number, 'SIGKILL'));
  await new Promise((resolve) => reader.stdout.once('data', resolve));
  await refusal(openRotatingFile({ path: log }), /it is not a regular file \(a FIFO\)/);
});

test('start: a hard link to another file is refused (two links), the file untouched', async (t) => {
  const dir = tempDir(t);
  const target = precious(dir);
  const log = path.join(dir, 'w.log');
  fs.linkSync(target, log);
  await refusal(openRotatingFile({ path: log }), /it is a file with 2 links/);
  assert.equal(fs.readFileSync(target, 'utf8'), 'precious\n');
});

test('start: a log directory others can write, or reached through one, is refused; a trusted link to it is followed', async (t) => {
  const dir = tempDir(t);
  const open = path.join(dir, 'open');
  fs.mkdirSync(open);
  fs.chmodSync(open, 0o777);
  await refusal(openRotatingFile({ path: path.join(open, 'w.log') }), /its directory .*\/open is writable by every user \(mode 0777\) without the sticky bit/);
  fs.mkdirSync(path.join(open, 'logs'));
  await refusal(openRotatingFile({ path: path.join(open, 'logs', 'w.log') }), /the directory .*\/open is writable by every user/);
  assert.deepEqual(fs.readdirSync(path.join(open, 'logs')), [], 'nothing created');
  // Sticky, as /tmp: others cannot rename or remove what is ours there.
  fs.chmodSync(open, 0o1777);
  const sink = await openRotatingFile({ path: path.join(open, 'w.log') });
  await sink.end();
  // A link owned by us to a trusted directory is followed.
  fs.mkdirSync(path.join(dir, 'real'));
  fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'via'));
  const linked = await openRotatingFile({ path: path.join(dir, 'via', 'w.log') });
  linked.write('through a link\n');
  await linked.end();
  assert.equal(fs.readFileSync(path.join(dir, 'real', 'w.log'), 'utf8'), 'through a link\n');
});

test('start: a log directory owned by the worker user, or a link of theirs on the way, is refused', { skip: asRoot ? false : 'needs root: another user owns the directory' }, async (t) => {
  const dir = tempDir(t);
  const theirs = path.join(dir, 'theirs');
  fs.mkdirSync(theirs, { mode: 0o755 });
  fs.chownSync(theirs, NOBODY, NOGROUP);
  await refusal(openRotatingFile({ path: path.join(theirs, 'w.log') }), new RegExp(`its directory ${theirs} is owned by uid ${NOBODY}, not by root or uid 0`));
  assert.deepEqual(fs.readdirSync(theirs), []);
  // In a sticky directory anyone may plant a link: one that is not ours or root's is not followed.
  const sticky = path.join(dir, 'sticky');
  fs.mkdirSync(sticky, { mode: 0o1777 });
  fs.chmodSync(sticky, 0o1777);
  fs.mkdirSync(path.join(dir, 'real'));
  fs.symlinkSync(path.join(dir, 'real'), path.join(sticky, 'logs'));
  fs.lchownSync(path.join(sticky, 'logs'), NOBODY, NOGROUP);
  await refusal(openRotatingFile({ path: path.join(sticky, 'logs', 'w.log') }), /its directory .*\/sticky\/logs is a symbolic link owned by uid 65534/);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'real')), []);
});

test('ensureLogDirectory makes missing directories only inside trusted ones', { skip: asRoot ? false : 'needs root: another user owns the directory' }, async (t) => {
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o755);
  const made = await ensureLogDirectory(path.join(dir, 'a', 'b'), 0o750);
  assert.equal(made, path.join(dir, 'a', 'b'));
  assert.equal(fs.statSync(made).mode & 0o777, 0o750);
  const theirs = path.join(dir, 'theirs');
  fs.mkdirSync(theirs, { mode: 0o755 });
  fs.chownSync(theirs, NOBODY, NOGROUP);
  await refusal(ensureLogDirectory(path.join(theirs, 'fcgi-spawn'), 0o750), /^refusing log directory .*\/theirs\/fcgi-spawn: the directory .*\/theirs on the way is owned by uid 65534/);
  assert.equal(fs.existsSync(path.join(theirs, 'fcgi-spawn')), false, 'created inside a directory of another user');
});

/** Opens `log` with a refusal recorder; `maxSize` small so that rotation would be due at every line. */
async function held(log: string, maxSize: number): Promise<{ sink: RotatingFile; refusals: string[] }> {
  const refusals: string[] = [];
  const sink = await openRotatingFile({ path: log, maxSize, maxFiles: 3, onRefused: (error) => refusals.push(error.message) });
  return { sink, refusals };
}

test('reopen: a symlink planted after logrotate moved the file is refused once; writing goes on in the moved file', async (t) => {
  const dir = tempDir(t);
  const secret = asRoot ? rootOnlyFile(path.join(dir, 'secret'), 'shadow') : precious(dir);
  const log = path.join(dir, 'w.log');
  const { sink, refusals } = await held(log, 0);
  sink.write('before\n');
  await sink.flush();
  fs.renameSync(log, `${log}.1`);
  fs.symlinkSync(secret, log);
  await sink.reopen();
  sink.write('after\n');
  await sink.flush();
  assert.deepEqual(refusals, [`refusing log file ${log}: it is a symbolic link`]);
  assert.equal(fs.readFileSync(`${log}.1`, 'utf8'), 'before\nafter\n');
  if (asRoot) assertUntouched(secret, assert);
  else assert.equal(fs.readFileSync(secret, 'utf8'), 'precious\n');
  // Once PATH is a file of ours again, the next reopen takes it.
  fs.unlinkSync(log);
  await sink.reopen();
  sink.write('fixed\n');
  await sink.end();
  assert.equal(fs.readFileSync(log, 'utf8'), 'fixed\n');
  assert.equal(refusals.length, 1);
});

test('rotation renames only the file it holds: a link in its place stays put, is refused once, rotation waits for a good open', async (t) => {
  const dir = tempDir(t);
  const target = precious(dir);
  const log = path.join(dir, 'w.log');
  const { sink, refusals } = await held(log, 100);
  sink.write(`${'a'.repeat(60)}\n`);
  await sink.flush();
  // Moved away without a reopen, and a link put in its place.
  fs.renameSync(log, path.join(dir, 'moved.log'));
  fs.symlinkSync(target, log);
  for (let i = 0; i < 20; i += 1) sink.write(`${String(i).padStart(3, '0')} ${'b'.repeat(56)}\n`);
  await sink.flush();
  assert.deepEqual(refusals, [`refusing log file ${log}: it is a symbolic link`], 'reported once, not per line');
  assert.ok(fs.lstatSync(log).isSymbolicLink(), 'the link was renamed');
  assert.equal(fs.existsSync(`${log}.1`), false, 'something was rotated');
  assert.equal(fs.readFileSync(target, 'utf8'), 'precious\n');
  assert.equal(fs.readFileSync(path.join(dir, 'moved.log'), 'utf8').split('\n').length - 1, 21, 'every line in the held file');
  assert.equal(sink.stats().droppedLines, 0);
  // Fixed: the next reopen takes a new PATH and rotation by size resumes.
  fs.unlinkSync(log);
  await sink.reopen();
  for (let i = 0; i < 4; i += 1) sink.write(`${String(i).padStart(3, '0')} ${'c'.repeat(56)}\n`);
  await sink.end();
  assert.ok(fs.existsSync(`${log}.1`), 'rotation resumed');
  assert.equal(refusals.length, 1);
});

test('a FIFO planted for a reopen does not hang the sink', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'w.log');
  const { sink, refusals } = await held(log, 0);
  fs.renameSync(log, `${log}.1`);
  execFileSync('mkfifo', [log]);
  await sink.reopen();
  sink.write('still here\n');
  await waitFor('the line written', () => fs.readFileSync(`${log}.1`, 'utf8') === 'still here\n');
  await sink.end();
  assert.deepEqual(refusals, [`refusing log file ${log}: it is not a regular file (a FIFO)`]);
});
