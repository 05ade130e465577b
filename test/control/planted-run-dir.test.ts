/**
 * A run directory, records and pidfiles planted by another user are never believed. Without
 * XDG_RUNTIME_DIR the run directory is /tmp/fcgi-spawn-UID, which any local user can create first;
 * here FCGI_SPAWN_RUN_DIR points at such a directory, made by `nobody` the way an attacker would.
 * Before: `restart` ran the planted environment (NODE_OPTIONS=--require …) as root and `stop`
 * deleted the file the planted record named as its extra pidfile.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/supervisor.js';
import { isAlive, killQuietly } from '../helpers/processes.js';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;
const rootOnly = asRoot ? {} : { skip: 'needs root (the attacker is nobody, the victim root)' };
/** A pid no process has (above the largest pid_max): the planted supervisor is "dead". */
const NO_SUCH_PID = 4_194_305;

interface Scene {
  readonly base: string;
  readonly marker: string;
  readonly victim: string;
  readonly evil: string;
}

function scene(t: { after: (fn: () => void) => void }): Scene {
  const base = mkdtempSync(join(tmpdir(), 'fcgi-spawn-planted-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  // A sticky world-writable directory, as /tmp is.
  const shared = join(base, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  chmodSync(base, 0o755);
  const victim = join(base, 'victim-file');
  writeFileSync(victim, 'root data\n', { mode: 0o600 });
  return { base, marker: join(shared, 'marker'), victim, evil: join(shared, 'evil.cjs') };
}

function plantedRecord(s: Scene, name: string): Record<string, unknown> {
  return {
    name,
    supervisor: { pid: NO_SUCH_PID, startTime: 1, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim() },
    address: '127.0.0.1:1',
    startedAt: new Date().toISOString(),
    // A start that fails at once (usage): what matters is that node ran with the planted environment.
    argv: ['-F', '0', '--', 'true'],
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_OPTIONS: `--require ${s.evil}` },
    workers: [],
    extraPidfile: s.victim,
  };
}

/** The attack, run as nobody: the run directory, a record and a pidfile in it, and the script the record's environment loads. */
function plantAsNobody(s: Scene, runDir: string, name: string): void {
  const script = `
    const fs = require('node:fs');
    fs.mkdirSync(${JSON.stringify(runDir)}, { mode: 0o700 });
    fs.writeFileSync(${JSON.stringify(s.evil)}, ${JSON.stringify(`require('node:fs').writeFileSync(${JSON.stringify(s.marker)}, 'ran as uid ' + process.getuid());`)});
    fs.writeFileSync(${JSON.stringify(join(runDir, `${name}.json`))}, ${JSON.stringify(JSON.stringify(plantedRecord(s, name)))}, { mode: 0o600 });
    fs.writeFileSync(${JSON.stringify(join(runDir, `${name}.pid`))}, '${NO_SUCH_PID}\\n');
  `;
  const planted = spawnSync(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, cwd: '/', encoding: 'utf8' });
  assert.equal(planted.status, 0, planted.stderr);
}

test('a run directory planted by another user: restart runs nothing, stop deletes nothing, status and list refuse it', rootOnly, async (t) => {
  const s = scene(t);
  const runDir = join(s.base, 'tmp', 'fcgi-spawn-0');
  plantAsNobody(s, runDir, 'victim');
  const env = { ...process.env, FCGI_SPAWN_RUN_DIR: runDir };
  const refusal = new RegExp(`^fcgi-spawn: run directory ${runDir} belongs to uid ${NOBODY}, not 0: refusing it`);

  const restart = await runCli(['restart', '--name', 'victim'], { env });
  assert.equal(existsSync(s.marker), false, `restart ran the planted environment: ${existsSync(s.marker) ? readFileSync(s.marker, 'utf8') : ''}`);
  assert.equal(restart.code, 4, `${restart.stdout}${restart.stderr}`);
  assert.match(restart.stderr, refusal);

  const stop = await runCli(['stop', '--name', 'victim'], { env });
  assert.equal(readFileSync(s.victim, 'utf8'), 'root data\n', 'stop deleted the file the planted record named');
  assert.equal(stop.code, 4, `${stop.stdout}${stop.stderr}`);
  assert.match(stop.stderr, refusal);

  const status = await runCli(['status', '--name', 'victim'], { env });
  assert.equal(status.code, 4, `${status.stdout}${status.stderr}`);
  assert.match(status.stderr, refusal);
  const list = await runCli(['list'], { env });
  assert.equal(list.code, 4, `${list.stdout}${list.stderr}`);
  assert.match(list.stderr, refusal);
  assert.doesNotMatch(list.stdout, /victim/);
  const reload = await runCli(['reload', '--name', 'victim'], { env });
  assert.equal(reload.code, 5, `${reload.stdout}${reload.stderr}`);
  assert.equal(existsSync(s.marker), false);
});

test('in our own run directory, a record or pidfile that is a symlink, another user\'s, or writable by others is ignored, with a warning', rootOnly, async (t) => {
  const s = scene(t);
  const runDir = join(s.base, 'run');
  mkdirSync(runDir, { mode: 0o700 });
  const env = { ...process.env, FCGI_SPAWN_RUN_DIR: runDir };
  // A record reached through a symlink: its environment must not run.
  const elsewhere = join(s.base, 'elsewhere.json');
  writeFileSync(elsewhere, JSON.stringify(plantedRecord(s, 'linked')), { mode: 0o600 });
  writeFileSync(s.evil, `require('node:fs').writeFileSync(${JSON.stringify(s.marker)}, 'ran');`);
  symlinkSync(elsewhere, join(runDir, 'linked.json'));
  const restart = await runCli(['restart', '--name', 'linked'], { env });
  assert.equal(existsSync(s.marker), false, 'restart ran the environment of a record behind a symlink');
  assert.match(restart.stderr, new RegExp(`^fcgi-spawn: warning: ignoring ${runDir}/linked\\.json: a symlink$`, 'm'));
  assert.equal(restart.code, 1, restart.stderr);

  // Another user's record, naming a root file as its extra pidfile.
  const theirs = join(runDir, 'theirs.json');
  writeFileSync(theirs, JSON.stringify(plantedRecord(s, 'theirs')), { mode: 0o600 });
  chownSync(theirs, NOBODY, NOBODY);
  const stop = await runCli(['stop', '--name', 'theirs'], { env });
  assert.equal(readFileSync(s.victim, 'utf8'), 'root data\n', 'stop deleted the file another user\'s record named');
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, new RegExp(`^fcgi-spawn: warning: ignoring ${theirs}: owned by uid ${NOBODY}, not 0$`, 'm'));
  const list = await runCli(['list', '--json'], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), []);
  assert.match(list.stderr, /warning: ignoring .*theirs\.json: owned by uid 65534/);

  // A pidfile anyone may rewrite names whatever its writer likes: not believed, even for "dead".
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => killQuietly(bystander.pid as number));
  const open = join(runDir, 'open.pid');
  writeFileSync(open, `${bystander.pid}\n`);
  chmodSync(open, 0o666);
  const status = await runCli(['status', '--name', 'open'], { env });
  assert.equal(status.code, 3, `${status.stdout}${status.stderr}`);
  assert.match(status.stderr, /warning: ignoring .*open\.pid: writable by others than its owner \(mode 666\)/);
  assert.equal((await runCli(['stop', '--name', 'open'], { env })).code, 0);
  assert.ok(isAlive(bystander.pid as number));
});
