/**
 * watch-config: a change of the config file or an included file is one onConfigChanged, whatever way
 * the editor saved it, save after save; a symlinked config file follows its link.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { test } from 'node:test';
import { startWatching } from '../../src/watch.js';
import { configuration, DEBOUNCE_MS, pool, Recorder, tempDir } from './helpers.js';

async function watchConfig(t: import('node:test').TestContext, file: string, sourceFiles: string[] = [file]): Promise<Recorder> {
  const recorder = new Recorder();
  const watching = await startWatching(configuration([pool('app')], { watchConfig: true, configFile: file, sourceFiles }), recorder, { configDebounceMs: DEBOUNCE_MS });
  t.after(() => watching.close());
  return recorder;
}

test('watch-config: two saves by rename over the file (atomic write) are two changes', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'fcgi-spawn.yaml');
  writeFileSync(file, 'workers: 1\n');
  const recorder = await watchConfig(t, file);
  for (const workers of [2, 3]) {
    writeFileSync(`${file}.tmp`, `workers: ${workers}\n`);
    renameSync(`${file}.tmp`, file);
    await recorder.change(workers - 1, `save ${workers - 1} by rename`);
  }
  appendFileSync(file, '# marker\n');
  await recorder.change(3, 'the marker edit in place');
  assert.deepEqual(recorder.reports, [1, 2, 3].map(() => ({ kind: 'config', path: file })));
});

test('watch-config: sed -i twice, then vim-style saves (rename away, write, delete the backup) twice', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'fcgi-spawn.yaml');
  writeFileSync(file, 'workers: 1\n');
  const recorder = await watchConfig(t, file);
  execFileSync('sed', ['-i', 's/1/2/', file]);
  await recorder.change(1, 'the first sed -i');
  execFileSync('sed', ['-i', 's/2/3/', file]);
  await recorder.change(2, 'the second sed -i');
  for (const [index, workers] of [[3, 4], [4, 5]] as const) {
    // vim with backupcopy=no: the file is renamed to its backup, and for a moment the name is missing.
    renameSync(file, `${file}~`);
    await setImmediate(); // one turn of the loop with the name missing: the watcher sees the rename alone
    writeFileSync(file, `workers: ${workers}\n`);
    unlinkSync(`${file}~`);
    await recorder.change(index, `vim-style save ${index - 2}`);
  }
  appendFileSync(file, '# marker\n');
  await recorder.change(5, 'the marker edit');
  assert.deepEqual(recorder.reports, [1, 2, 3, 4, 5].map(() => ({ kind: 'config', path: file })));
});

test('watch-config: an included file counts; other files beside it do not', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'fcgi-spawn.yaml');
  const included = join(dir, 'pools.d', 'app.yaml');
  mkdirSync(join(dir, 'pools.d'));
  writeFileSync(file, 'include: pools.d\n');
  writeFileSync(included, 'name: app\n');
  writeFileSync(join(dir, 'notes.txt'), '');
  const recorder = await watchConfig(t, file, [file, included]);
  appendFileSync(join(dir, 'notes.txt'), 'not a source\n');
  writeFileSync(`${included}.tmp`, 'name: app2\n');
  renameSync(`${included}.tmp`, included);
  await recorder.change(1, 'the included file saved');
  appendFileSync(file, '# marker\n');
  await recorder.change(2, 'the marker');
  assert.deepEqual(recorder.changes, [{ kind: 'config', path: included }, { kind: 'config', path: file }]);
});

test('watch-config: an include directory in sourceFiles: a file added to it is a change', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'fcgi-spawn.yaml');
  const pools = join(dir, 'pools.d');
  mkdirSync(pools);
  writeFileSync(file, 'include: pools.d\n');
  const recorder = await watchConfig(t, file, [file, pools]);
  writeFileSync(join(pools, 'new.yaml'), 'name: new\n');
  await recorder.change(1, 'a pool file added');
  assert.deepEqual(recorder.changes, [{ kind: 'config', path: join(pools, 'new.yaml') }]);
});

test('watch-config: a symlinked config file swapped with ln -sfn is followed to its new target', async (t) => {
  const dir = tempDir(t);
  for (const release of ['v1', 'v2']) {
    mkdirSync(join(dir, release));
    writeFileSync(join(dir, release, 'app.yaml'), `release: ${release}\n`);
  }
  mkdirSync(join(dir, 'etc'));
  const file = join(dir, 'etc', 'app.yaml');
  symlinkSync('../v1/app.yaml', file);
  const recorder = await watchConfig(t, file);
  execFileSync('ln', ['-sfn', '../v2/app.yaml', file]);
  await recorder.change(1, 'the link swapped');
  execFileSync('sed', ['-i', 's/v2/v2.1/', join(dir, 'v2', 'app.yaml')]);
  await recorder.change(2, 'the new target saved (sed -i, at the target)');
  // The old target is no longer the config: its edits are not changes. The marker proves none came.
  appendFileSync(join(dir, 'v1', 'app.yaml'), '# old release\n');
  appendFileSync(join(dir, 'v2', 'app.yaml'), '# marker\n');
  await recorder.change(3, 'the marker in the new target');
  assert.deepEqual(recorder.changes, [
    { kind: 'config', path: file },
    { kind: 'config', path: join(dir, 'v2', 'app.yaml') },
    { kind: 'config', path: join(dir, 'v2', 'app.yaml') },
  ]);
  assert.deepEqual(recorder.warnings, []);
});
