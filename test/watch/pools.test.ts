/**
 * A pool's `watch` paths and `touch-reload`: a change reloads that pool only, once per burst; ignore
 * patterns honoured; a swapped `current` release followed; a missing path is a warning; update().
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { startWatching } from '../../src/watch.js';
import { configuration, pool, Recorder, tempDir } from './helpers.js';

function write(path: string, text = 'x'): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

test('a burst of 300 file changes in one pool is one change for that pool and none for another', async (t) => {
  const dir = tempDir(t);
  const files = Array.from({ length: 300 }, (_, index) => join(dir, 'a', `src${index % 10}`, `file${index}.php`));
  for (const file of files) write(file, 'v1');
  write(join(dir, 'b', 'index.php'));
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('a', { watch: [join(dir, 'a')] }), pool('b', { watch: [join(dir, 'b')] })]), recorder);
  t.after(() => watching.close());
  for (const file of files) writeFileSync(file, 'v2'); // a checkout
  const burst = await recorder.change(1, 'the burst');
  assert.ok(burst.kind === 'pool' && burst.pool === 'a' && files.includes(burst.path), JSON.stringify(burst));
  write(join(dir, 'a', 'marker.php'));
  await recorder.change(2, 'the marker in pool a');
  write(join(dir, 'b', 'marker.php'));
  await recorder.change(3, 'the marker in pool b');
  assert.deepEqual(recorder.reports, [
    burst,
    { kind: 'pool', pool: 'a', path: join(dir, 'a', 'marker.php') },
    { kind: 'pool', pool: 'b', path: join(dir, 'b', 'marker.php') },
  ]);
});

test('ignored: .git, node_modules, *.log, the pool\'s own log file and a custom pattern; ! re-includes', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'app');
  const workerLog = join(root, 'var', 'worker-output');
  const supervisorLog = join(root, 'var', 'supervisor');
  for (const path of ['.git/HEAD', 'node_modules/x/index.js', 'var/app.log', 'cache/page.html', 'lib/keep.log', 'lib/deep/old.log', 'index.php']) write(join(root, path));
  write(workerLog);
  write(supervisorLog);
  const recorder = new Recorder();
  const app = pool('app', { watch: [root], watchIgnore: ['/cache/', '*.tmp', '!keep.log'], workerLog: { kind: 'file', path: workerLog } });
  const watching = await startWatching(configuration([app], { logFile: supervisorLog }), recorder);
  t.after(() => watching.close());
  // Each of these would be reported as the first path of the burst if it were not ignored.
  write(join(root, '.git', 'HEAD'), 'ref: refs/heads/next');
  write(join(root, '.git', 'objects', 'ab', 'cdef'));
  write(join(root, 'node_modules', 'x', 'index.js'), 'changed');
  write(join(root, 'node_modules', 'y', 'index.js'));
  write(join(root, 'var', 'app.log'), 'a line');
  write(join(root, 'lib', 'deep', 'trace.log'));
  appendFileSync(workerLog, 'a worker line\n');
  write(`${workerLog}.1`, 'rotated');
  appendFileSync(supervisorLog, 'a supervisor line\n');
  write(join(root, 'cache', 'page.html'), 'changed');
  write(join(root, 'cache', 'new', 'page.html'));
  write(join(root, 'upload.tmp'));
  write(join(root, 'index.php'), 'changed');
  await recorder.change(1, 'the marker');
  appendFileSync(join(root, 'lib', 'keep.log'), 'kept\n');
  await recorder.change(2, 'keep.log, re-included by !keep.log');
  assert.deepEqual(recorder.reports, [
    { kind: 'pool', pool: 'app', path: join(root, 'index.php') },
    { kind: 'pool', pool: 'app', path: join(root, 'lib', 'keep.log') },
  ]);
});

test('a swapped `current` release symlink is followed: the swap is a change, then the new release is watched', async (t) => {
  const dir = tempDir(t);
  for (const release of ['r1', 'r2']) write(join(dir, 'releases', release, 'index.php'), release);
  const current = join(dir, 'current');
  symlinkSync('releases/r1', current);
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('app', { watch: [current] })]), recorder);
  t.after(() => watching.close());
  write(join(current, 'index.php'), 'r1 edited');
  await recorder.change(1, 'an edit in r1 through current');
  execFileSync('ln', ['-sfn', 'releases/r2', current]);
  await recorder.change(2, 'the swap');
  write(join(dir, 'releases', 'r2', 'index.php'), 'r2 edited');
  await recorder.change(3, 'an edit in r2');
  // r1 is no longer current: its edits are not changes (the marker after it proves none came).
  write(join(dir, 'releases', 'r1', 'index.php'), 'old release edited');
  write(join(dir, 'releases', 'r2', 'marker.php'));
  await recorder.change(4, 'the marker in r2');
  assert.deepEqual(recorder.reports, [
    { kind: 'pool', pool: 'app', path: join(dir, 'releases', 'r1', 'index.php') },
    { kind: 'pool', pool: 'app', path: current },
    { kind: 'pool', pool: 'app', path: join(dir, 'releases', 'r2', 'index.php') },
    { kind: 'pool', pool: 'app', path: join(dir, 'releases', 'r2', 'marker.php') },
  ]);
});

test('touch-reload: creating or touching the file is a change, whatever watch says; removing it is not', async (t) => {
  const dir = tempDir(t);
  const touch = join(dir, 'reload.touch');
  write(join(dir, 'src', 'index.php'));
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('app', { touchReload: touch }), pool('other', { watch: [join(dir, 'src')] })]), recorder);
  t.after(() => watching.close());
  writeFileSync(touch, '');
  await recorder.change(1, 'the touch file created');
  const later = new Date(Date.now() + 60_000);
  utimesSync(touch, later, later);
  await recorder.change(2, 'the touch file touched');
  rmSync(touch);
  write(join(dir, 'src', 'index.php'), 'marker');
  await recorder.change(3, 'the marker in the other pool');
  assert.deepEqual(recorder.reports, [
    { kind: 'pool', pool: 'app', path: touch },
    { kind: 'pool', pool: 'app', path: touch },
    { kind: 'pool', pool: 'other', path: join(dir, 'src', 'index.php') },
  ]);
});

test('a watched file (not a directory) saved by rename twice is two changes', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'app.ini');
  write(file, 'a=1\n');
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('app', { watch: [file] })]), recorder);
  t.after(() => watching.close());
  execFileSync('sed', ['-i', 's/1/2/', file]);
  await recorder.change(1, 'the first save');
  execFileSync('sed', ['-i', 's/2/3/', file]);
  await recorder.change(2, 'the second save');
  write(join(dir, 'beside.ini'));
  appendFileSync(file, 'marker=1\n');
  await recorder.change(3, 'the marker');
  assert.deepEqual(recorder.reports, [1, 2, 3].map(() => ({ kind: 'pool', pool: 'app', path: file })));
});

test('a missing watch path is a warning naming it, then watched for: created, it is a change and is watched', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'later');
  const orphan = join(dir, 'no', 'such', 'dir');
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('app', { watch: [missing, orphan] })]), recorder);
  t.after(() => watching.close());
  assert.deepEqual(recorder.warnings, [
    `watch: ${missing} (watch of pool app) does not exist; watching ${dir} for it to appear`,
    `watch: ${orphan} (watch of pool app) does not exist; its directory ${dirname(orphan)} does not exist either: not watched until the configuration is reloaded`,
  ]);
  mkdirSync(missing);
  await recorder.change(1, 'the missing directory created');
  write(join(missing, 'index.php'));
  await recorder.change(2, 'a file in it');
  assert.deepEqual(recorder.changes, [
    { kind: 'pool', pool: 'app', path: missing },
    { kind: 'pool', pool: 'app', path: join(missing, 'index.php') },
  ]);
});

test('update(): newly named paths are watched, paths no longer named are not, removed pools report nothing', async (t) => {
  const dir = tempDir(t);
  for (const name of ['one', 'two', 'three']) write(join(dir, name, 'index.php'));
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('a', { watch: [join(dir, 'one')] }), pool('b', { watch: [join(dir, 'three')] })]), recorder);
  t.after(() => watching.close());
  write(join(dir, 'one', 'index.php'), 'before');
  await recorder.change(1, 'a change under one');
  await watching.update(configuration([pool('a', { watch: [join(dir, 'two')] })]));
  write(join(dir, 'one', 'index.php'), 'no longer watched');
  write(join(dir, 'three', 'index.php'), 'pool b is gone');
  write(join(dir, 'two', 'index.php'), 'marker');
  await recorder.change(2, 'a change under two');
  assert.deepEqual(recorder.reports, [
    { kind: 'pool', pool: 'a', path: join(dir, 'one', 'index.php') },
    { kind: 'pool', pool: 'a', path: join(dir, 'two', 'index.php') },
  ]);
});
