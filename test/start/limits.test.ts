/**
 * Per-pool limits (php-fpm's rlimit_files, rlimit_core, process.priority, and the OOM score): applied before the
 * worker's exec, read back from the real worker's /proc; values that are wrong, or that only root may set, stop
 * `start` with one line and the documented exit code, before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, FIXTURES, ROOT, runCli, startSupervisor, testEnvironment, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const IS_ROOT = process.geteuid?.() === 0;
const ALLOW_ROOT = IS_ROOT ? ['--allow-root'] : [];

interface WorkerLimits {
  readonly nofile: string;
  readonly core: string;
  readonly nice: number;
  readonly oomScoreAdj: number;
  readonly uid: number;
}

/** What the kernel says of a worker: `soft hard` of two limits, field 19 of stat, oom_score_adj, the real uid. */
function limitsOf(pid: number): WorkerLimits {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const row = (name: string): string => (new RegExp(`^${name}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(limits) ?? []).slice(1).join(' ');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    nofile: row('Max open files'),
    core: row('Max core file size'),
    nice: Number(fields[16]),
    oomScoreAdj: Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8')),
    uid: Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]),
  };
}

/** The ready workers' pids, from `status --json`. */
async function readyWorkers(name: string, count: number): Promise<number[]> {
  let pids: number[] = [];
  await waitFor(`${count} ready workers of ${name}`, async () => {
    const result = await runCli(['status', '--json', '--name', name]);
    if (result.code !== 0) return false;
    const status = JSON.parse(result.stdout) as { pools: { workers: { pid: number; state: string }[] }[] };
    pids = status.pools.flatMap((pool) => pool.workers.filter((w) => w.state === 'ready').map((w) => w.pid));
    return pids.length === count;
  });
  return pids.sort((a, b) => a - b);
}

async function stopped(supervisor: RunningSupervisor): Promise<void> {
  const exit = await supervisor.stop();
  assert.equal(exit.code, 0);
  assert.deepEqual(supervisor.strays(), []);
}

function ownHardNofile(): number {
  return Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
}

/** Whether this process has a capability (CapEff of /proc/self/status): containers often drop CAP_SYS_RESOURCE even for root. */
function hasCapability(bit: number): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
}
const CAP_SYS_NICE = 23;
const CAP_SYS_RESOURCE = 24;

// fcgiwrap, not a Node worker: Node raises its own soft RLIMIT_NOFILE to the hard limit as it starts.
test('--rlimit-nofile, --rlimit-core, --nice, --oom-score-adj: every worker runs with them', needs('fcgiwrap'), async (t) => {
  const port = await freePort();
  const name = `limits-${port}`;
  const supervisor = startSupervisor(['-p', String(port), '--name', name, '-F', '2', '--rlimit-nofile', '1024:4096', '--rlimit-core', '0:unlimited', '--nice', '7', '--oom-score-adj', '300', '--', findTool('fcgiwrap') as string]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  for (const pid of await readyWorkers(name, 2)) {
    assert.deepEqual(limitsOf(pid), { nofile: '1024 4096', core: '0 unlimited', nice: 7, oomScoreAdj: 300, uid: process.getuid?.() ?? 0 }, `worker ${pid}`);
  }
  await stopped(supervisor);
});

test('as root with -u: past the supervisor\'s own values, applied before the switch to the user, or refused (exit 4) without the capability', { skip: !IS_ROOT ? 'needs root' : needs('fcgiwrap').skip ?? false }, async (t) => {
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  const above = Math.min(ownHardNofile() + 1024, nrOpen);
  if (above <= ownHardNofile()) return t.skip(`the supervisor's hard limit is already fs.nr_open (${nrOpen})`);
  const port = await freePort();
  const name = `limits-${port}`;
  const resource = ['--rlimit-nofile', String(above), '--oom-score-adj', '-200'];
  const args = (extra: readonly string[]): string[] => ['-p', String(port), '--name', name, '-u', 'nobody', '--nice', '-5', ...extra, '--', findTool('fcgiwrap') as string];
  if (!hasCapability(CAP_SYS_RESOURCE)) {
    // This machine's root cannot raise a hard limit nor lower oom_score_adj: said at start, nothing started.
    const refused = await runCli(['start', '-n', ...args(resource)]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /--rlimit-nofile '\d+' raises the hard limit above the supervisor's \d+: that needs root \(CAP_SYS_RESOURCE\)/);
    assert.match(refused.stderr, /--oom-score-adj '-200' is below the supervisor's oom_score_adj 0: that needs root \(CAP_SYS_RESOURCE\)/);
    assert.doesNotMatch(refused.stderr, /spawned/);
  }
  if (!hasCapability(CAP_SYS_NICE)) return;
  const applied = hasCapability(CAP_SYS_RESOURCE) ? resource : [];
  const supervisor = startSupervisor(args(applied));
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const [pid] = await readyWorkers(name, 1);
  const own = limitsOf(process.pid);
  const expected = applied.length > 0 ? { nofile: `${above} ${above}`, oomScoreAdj: -200 } : { nofile: own.nofile, oomScoreAdj: own.oomScoreAdj };
  assert.deepEqual(limitsOf(pid as number), { ...expected, core: own.core, nice: -5, uid: 65534 });
  await stopped(supervisor);
});

test('pool keys in a file; a reload gives the new workers the edited values', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'limits.yaml');
  const port = await freePort();
  const name = `limits-${port}`;
  const yaml = (nice: number): string =>
    [...(IS_ROOT ? ['allow-root: true'] : []), 'rlimit-core: 1M:unlimited', 'pools:', '  - name: app', `    listen: 127.0.0.1:${port}`, `    command: ${JSON.stringify([process.execPath, RESPONDER])}`, `    nice: ${nice}`, '    rlimit-nofile: 2048', ''].join('\n');
  writeFileSync(file, yaml(3));
  const supervisor = startSupervisor(['--config', file, '--name', name]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const [first] = await readyWorkers(name, 1);
  const before = limitsOf(first as number);
  assert.deepEqual([before.nofile, before.core, before.nice], ['2048 2048', '1048576 unlimited', 3]);
  writeFileSync(file, yaml(11));
  const reload = await runCli(['reload', '--name', name]);
  assert.equal(reload.code, 0, reload.stderr);
  // reload answers once the new generation serves; the old worker may still be draining.
  const [second] = (await readyWorkers(name, 1)).filter((pid) => pid !== first);
  assert.ok(second !== undefined, 'a new worker after reload');
  const after = limitsOf(second);
  assert.deepEqual([after.nofile, after.core, after.nice], ['2048 2048', '1048576 unlimited', 11]);
  await stopped(supervisor);
});

const badValues: ReadonlyArray<{ args: string[]; message: RegExp }> = [
  { args: ['--nice', '20'], message: /^fcgi-spawn: invalid --nice '20': expected an integer from -20 to 19$/ },
  { args: ['--nice', '-0'], message: /^fcgi-spawn: invalid --nice '-0': expected an integer from -20 to 19$/ },
  { args: ['--oom-score-adj', '-1001'], message: /^fcgi-spawn: invalid --oom-score-adj '-1001': expected an integer from -1000 to 1000$/ },
  { args: ['--rlimit-nofile', '4096:1024'], message: /^fcgi-spawn: invalid --rlimit-nofile '4096:1024': expected a number, unlimited, or SOFT:HARD with the soft limit at most the hard one/ },
  { args: ['--rlimit-nofile', '10K'], message: /^fcgi-spawn: invalid --rlimit-nofile '10K': expected a number/ },
  { args: ['--rlimit-nofile', 'unlimited'], message: /^fcgi-spawn: invalid --rlimit-nofile 'unlimited': the kernel allows at most \d+ open files per process \(fs.nr_open\)/ },
  { args: ['--rlimit-core', 'lots'], message: /^fcgi-spawn: invalid --rlimit-core 'lots': expected a size in bytes \(K, M, G allowed\), unlimited, or SOFT:HARD/ },
];

for (const c of badValues) {
  test(`start ${c.args.join(' ')} → exit 2, one line naming the value`, async () => {
    const result = await runCli(['start', '-n', '-p', '9000', ...c.args, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stderr.trim().split('\n').length, 1, `not one line:\n${result.stderr}`);
    assert.match(result.stderr.trim(), c.message);
  });
}

test('a bad value in a file → exit 2 at its line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, `${IS_ROOT ? 'allow-root: true\n' : ''}pools:\n  - name: app\n    listen: 127.0.0.1:9000\n    command: ${JSON.stringify([process.execPath, RESPONDER])}\n    oom-score-adj: lots\n`);
  const result = await runCli(['start', '-n', '--config', file]);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, new RegExp(`${file}:\\d+:\\d+: invalid pools\\[0\\]\\.oom-score-adj 'lots': expected an integer from -1000 to 1000`));
});

/** As `nobody`, whose limits and niceness are the test's: asking for more is refused before anything starts. */
const unprivileged: ReadonlyArray<{ args: () => string[]; message: RegExp }> = [
  { args: () => ['--rlimit-nofile', String(ownHardNofile() + 1)], message: /--rlimit-nofile '\d+' raises the hard limit above the supervisor's \d+: that needs root \(CAP_SYS_RESOURCE\)/ },
  { args: () => ['--nice', '-1'], message: /--nice '-1' is below the supervisor's niceness 0: that needs root \(CAP_SYS_NICE\)/ },
  { args: () => ['--oom-score-adj', '-1'], message: /--oom-score-adj '-1' is below the supervisor's oom_score_adj 0: that needs root \(CAP_SYS_RESOURCE\)/ },
];

for (const c of unprivileged) {
  const skip = !IS_ROOT ? 'runs as root, to become nobody' : !findTool('setpriv') ? 'needs setpriv' : false;
  test(`not root: start ${c.args()[0]} past the supervisor's → exit 4, one line, nothing started`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-limits-'));
    try {
      const env = { ...testEnvironment(), FCGI_SPAWN_RUN_DIR: dir, XDG_RUNTIME_DIR: dir };
      const argv = ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, BIN, 'start', '-n', '-p', String(await freePort()), ...c.args(), '--', process.execPath, RESPONDER];
      const result = spawnSync('/usr/bin/setpriv', argv, { cwd: ROOT, env, encoding: 'utf8', timeout: 20_000 });
      assert.equal(result.status, 4, result.stderr);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, c.message);
      assert.doesNotMatch(result.stderr, /spawned/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
