/**
 * Several pools in one supervisor, from a configuration file: served at once, each with its own
 * socket and workers; `update` applies only the difference under request loops on every pool; HUP
 * gives every pool new workers; a broken edit changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort, isAlive } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { probe, requestLoop } from '../helpers/fastcgi.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const HELLO = join(FIXTURES, 'cgi', 'hello.sh');
const ROOT = process.geteuid?.() === 0;

interface PoolSpec {
  readonly name: string;
  readonly port: number;
  readonly command: readonly string[];
  readonly workers: number;
  readonly env?: Readonly<Record<string, string>>;
}

function yaml(pools: readonly PoolSpec[], extra = ''): string {
  const lines = [
    ...(ROOT ? ['allow-root: true'] : []),
    'steer-grace: 0.1',
    'start-retries: 1',
    extra,
    'pools:',
    ...pools.flatMap((pool) => [
      `  - name: ${pool.name}`,
      `    listen: 127.0.0.1:${pool.port}`,
      `    command: ${JSON.stringify(pool.command)}`,
      `    workers: ${pool.workers}`,
      ...(pool.env ? ['    env:', ...Object.entries(pool.env).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)] : []),
    ]),
  ];
  return `${lines.filter((line) => line !== '').join('\n')}\n`;
}

interface PoolView {
  readonly name: string;
  readonly address: string;
  readonly workers: readonly { readonly pid: number; readonly state: string; readonly generation: number }[];
}

async function pools(supervisor: RunningSupervisor): Promise<PoolView[]> {
  const result = await runCli(['status', '--json', '--name', 'pools']);
  assert.equal(result.code, 0, `${result.stderr}\n${supervisor.log()}`);
  return (JSON.parse(result.stdout) as { pools: PoolView[] }).pools;
}

function readyPids(view: readonly PoolView[], name: string): number[] {
  return (view.find((pool) => pool.name === name)?.workers ?? []).filter((w) => w.state === 'ready').map((w) => w.pid).sort();
}

function setup(t: { after: (fn: () => void) => void }): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-pools-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, file: join(dir, 'pools.yaml') };
}

test('two pools from one file: a Node responder and fcgiwrap, each on its own socket', needs('fcgiwrap'), async (t) => {
  const { file } = setup(t);
  const [nodePort, cgiPort] = [await freePort(), await freePort()];
  writeFileSync(file, yaml([
    { name: 'app', port: nodePort, command: [process.execPath, RESPONDER], workers: 2 },
    { name: 'cgi', port: cgiPort, command: [findTool('fcgiwrap') as string], workers: 1 },
  ]));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  assert.equal((await probe(`127.0.0.1:${nodePort}`, '/')).code, 0);
  const cgi = await probe(`127.0.0.1:${cgiPort}`, HELLO);
  assert.equal(cgi.code, 0, cgi.err);
  assert.match(cgi.out, /hello from cgi/);
  const view = await pools(supervisor);
  assert.deepEqual(view.map((pool) => [pool.name, pool.address, pool.workers.length]), [
    ['app', `127.0.0.1:${nodePort}`, 2],
    ['cgi', `127.0.0.1:${cgiPort}`, 1],
  ]);
  // The supervisor's lines about a pool name it.
  assert.match(supervisor.log(), /pool cgi: worker \d+ \(slot 0, generation 1\) starting→ready/);
  // -p finds the instance holding that address, whatever its name.
  const byPort = await runCli(['status', '-p', String(cgiPort), '--pool', 'cgi', '--json']);
  assert.equal(byPort.code, 0, byPort.stderr);
  assert.equal((JSON.parse(byPort.stdout) as { address: string }).address, `127.0.0.1:${cgiPort}`);
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('update under request loops: unchanged pool untouched, changed pool reloaded, removed stopped, added started, a broken edit changes nothing', needs('fcgiwrap'), async (t) => {
  const { file } = setup(t);
  const ports = { same: await freePort(), changed: await freePort(), removed: await freePort(), added: await freePort() };
  const same: PoolSpec = { name: 'same', port: ports.same, command: [process.execPath, RESPONDER], workers: 2 };
  const changed: PoolSpec = { name: 'changed', port: ports.changed, command: [findTool('fcgiwrap') as string], workers: 2 };
  const removed: PoolSpec = { name: 'removed', port: ports.removed, command: [process.execPath, RESPONDER], workers: 1 };
  writeFileSync(file, yaml([same, changed, removed]));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const before = await pools(supervisor);
  let done = false;
  const loops = Promise.all([
    requestLoop(`127.0.0.1:${ports.same}`, '/', () => done),
    requestLoop(`127.0.0.1:${ports.changed}`, HELLO, () => done),
  ]);
  try {
    // A broken edit: refused whole, nothing changes, status shows why.
    writeFileSync(file, yaml([same, { ...changed, workers: 0 }, removed]));
    const broken = await runCli(['update', '--name', 'pools']);
    assert.equal(broken.code, 1, broken.stdout);
    assert.match(broken.stderr, /workers/);
    const status = await runCli(['status', '--name', 'pools']);
    assert.match(status.stdout, /configuration error/);
    // The real change: one pool changed (its environment), one removed, one added.
    writeFileSync(file, yaml([same, { ...changed, env: { RELEASE: '2' } }, { name: 'added', port: ports.added, command: [process.execPath, RESPONDER], workers: 1 }]));
    const update = await runCli(['update', '--name', 'pools']);
    assert.equal(update.code, 0, `${update.stderr}\n${supervisor.log()}`);
    assert.equal((await probe(`127.0.0.1:${ports.added}`, '/')).code, 0, 'the added pool serves');
    await waitFor('the removed pool gone', async () => (await probe(`127.0.0.1:${ports.removed}`, '/')).code === 3);
  } finally {
    done = true;
  }
  const [sameLoop, changedLoop] = await loops;
  assert.deepEqual(sameLoop.failed, [], 'requests to the unchanged pool');
  assert.deepEqual(changedLoop.failed, [], 'requests to the changed pool');
  assert.ok(sameLoop.ok > 5 && changedLoop.ok > 5, `served ${sameLoop.ok} and ${changedLoop.ok}`);
  const after = await pools(supervisor);
  assert.deepEqual(readyPids(after, 'same'), readyPids(before, 'same'), 'the unchanged pool kept its workers');
  const changedBefore = readyPids(before, 'changed');
  assert.ok(changedBefore.every((pid) => !readyPids(after, 'changed').includes(pid)), 'the changed pool got new workers');
  assert.deepEqual(after.map((pool) => pool.name).sort(), ['added', 'changed', 'same']);
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('HUP gives every pool new workers; scale needs --pool with several', async (t) => {
  const { file } = setup(t);
  const [a, b] = [await freePort(), await freePort()];
  writeFileSync(file, yaml([
    { name: 'a', port: a, command: [process.execPath, RESPONDER], workers: 1 },
    { name: 'b', port: b, command: [process.execPath, RESPONDER], workers: 1 },
  ]));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const before = await pools(supervisor);
  const reload = await runCli(['reload', '--name', 'pools']);
  assert.equal(reload.code, 0, reload.stderr);
  const after = await pools(supervisor);
  for (const name of ['a', 'b']) {
    const old = readyPids(before, name);
    assert.ok(old.every((pid) => !readyPids(after, name).includes(pid)), `pool ${name} got new workers`);
    await waitFor(`pool ${name}'s old workers gone`, () => old.every((pid) => !isAlive(pid)));
  }
  const ambiguous = await runCli(['scale', '2', '--name', 'pools']);
  assert.equal(ambiguous.code, 1);
  assert.match(ambiguous.stderr, /--pool/);
  const scaled = await runCli(['scale', '2', '--pool', 'b', '--name', 'pools']);
  assert.equal(scaled.code, 0, scaled.stderr);
  // scale returns before the new worker is ready: compare b's ready workers once both are.
  const view = await waitFor("pool b's two workers ready", async () => {
    const seen = await pools(supervisor);
    return readyPids(seen, 'b').length === 2 && seen;
  });
  assert.deepEqual(view.map((pool) => pool.workers.length), [1, 2]);
  const one = await runCli(['reload', '--pool', 'a', '--name', 'pools']);
  assert.equal(one.code, 0, one.stderr);
  const last = await pools(supervisor);
  assert.deepEqual(readyPids(last, 'b'), readyPids(view, 'b'), 'reload --pool a leaves b alone');
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('watch-config with an include directory: a pool file added is started, a save by rename of the main file is applied', async (t) => {
  const { dir, file } = setup(t);
  const included = join(dir, 'pools.d');
  mkdirSync(included);
  const [a, b] = [await freePort(), await freePort()];
  const main = (workers: number): string =>
    yaml([{ name: 'a', port: a, command: [process.execPath, RESPONDER], workers }], `watch-config: true\ninclude: ${JSON.stringify(included)}`);
  writeFileSync(file, main(1));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const before = await pools(supervisor);
  writeFileSync(join(included, 'b.yaml'), `name: b\nlisten: 127.0.0.1:${b}\ncommand: ${JSON.stringify([process.execPath, RESPONDER])}\nworkers: 1\n`);
  await waitFor('the included pool b serving', async () => (await probe(`127.0.0.1:${b}`, '/')).code === 0, { timeoutMs: 20_000 });
  // An editor's save: write beside, rename over.
  writeFileSync(`${file}.tmp`, main(2));
  renameSync(`${file}.tmp`, file);
  await waitFor('pool a scaled to 2 by the saved file', async () => readyPids(await pools(supervisor), 'a').length === 2, { timeoutMs: 20_000 });
  const after = await pools(supervisor);
  assert.ok(readyPids(before, 'a').every((pid) => readyPids(after, 'a').includes(pid)), 'scaling up keeps the serving workers');
  assert.match(supervisor.log(), /pools\.yaml|b\.yaml/, 'the log names the file that changed');
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('touch-reload of one pool gives that pool new workers and leaves the other alone', async (t) => {
  const { dir, file } = setup(t);
  const [a, b] = [await freePort(), await freePort()];
  const touch = join(dir, 'deploy-a');
  writeFileSync(file, yaml([
    { name: 'a', port: a, command: [process.execPath, RESPONDER], workers: 1 },
    { name: 'b', port: b, command: [process.execPath, RESPONDER], workers: 1 },
  ]).replace(`    workers: 1\n`, `    workers: 1\n    touch-reload: ${JSON.stringify(touch)}\n    watch-debounce: 0.1\n`));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const before = await pools(supervisor);
  writeFileSync(touch, '');
  await waitFor('pool a replaced', async () => {
    const now = readyPids(await pools(supervisor), 'a');
    return now.length === 1 && !readyPids(before, 'a').includes(now[0] as number);
  }, { timeoutMs: 20_000 });
  assert.deepEqual(readyPids(await pools(supervisor), 'b'), readyPids(before, 'b'), 'pool b untouched');
  assert.match(supervisor.log(), /deploy-a/, 'the log names the path that triggered the reload');
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});

test('a deploy that swaps a `current` symlink: HUP runs the new release, update sees the changed real chdir', async (t) => {
  const { dir, file } = setup(t);
  for (const release of ['release-1', 'release-2', 'release-3']) mkdirSync(join(dir, release));
  symlinkSync('release-1', join(dir, 'current'));
  const swap = (release: string): void => {
    symlinkSync(release, join(dir, 'next'));
    renameSync(join(dir, 'next'), join(dir, 'current'));
  };
  const port = await freePort();
  writeFileSync(file, yaml([{ name: 'app', port, command: [process.execPath, RESPONDER], workers: 1 }], `chdir: ${JSON.stringify(join(dir, 'current'))}`));
  const supervisor = startSupervisor(['--config', file, '--name', 'pools']);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const cwdOf = async (): Promise<string> => readlinkSync(`/proc/${readyPids(await pools(supervisor), 'app')[0]}/cwd`);
  assert.equal(await cwdOf(), join(realpathSync(dir), 'release-1'));
  swap('release-2');
  const reload = await runCli(['reload', '--name', 'pools']);
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal(await cwdOf(), join(realpathSync(dir), 'release-2'), 'HUP resolves chdir again');
  swap('release-3');
  const before = readyPids(await pools(supervisor), 'app');
  const update = await runCli(['update', '--name', 'pools']);
  assert.equal(update.code, 0, update.stderr);
  assert.notDeepEqual(readyPids(await pools(supervisor), 'app'), before, 'a changed real chdir is a change');
  assert.equal(await cwdOf(), join(realpathSync(dir), 'release-3'));
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
});
