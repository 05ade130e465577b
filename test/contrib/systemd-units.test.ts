/**
 * The systemd units as shipped: `systemd-analyze verify` accepts them (no warning either) once their
 * `fcgi-spawn` is installed, here a copy whose ExecStart and ExecReload name this checkout's
 * bin/fcgi-spawn.js; and the check bites: the same copy naming a missing binary is refused. The socket unit
 * (socket activation) is verified as an instance, beside the service it starts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { BIN, ROOT } from '../helpers/supervisor.js';
import { needs } from '../helpers/tools.js';

const UNITS = ['fcgi-spawn.service', 'fcgi-spawn@.service'].map((name) => join(ROOT, 'contrib', 'systemd', name));

/** The unit with its commands pointed at `command`; they must name `fcgi-spawn` bare (systemd finds it where npm puts it). */
function withCommand(unit: string, command: string): string {
  const text = readFileSync(unit, 'utf8');
  for (const key of ['ExecStart', 'ExecReload']) {
    const lines = text.split('\n').filter((line) => line.startsWith(`${key}=`));
    assert.deepEqual(lines.map((line) => line.split(' ')[0]), [`${key}=fcgi-spawn`], `${basename(unit)}: one ${key}= naming fcgi-spawn by name`);
  }
  return text.replace(/^(ExecStart|ExecReload)=fcgi-spawn /gm, `$1=${command} `);
}

/** systemd-analyze verify on a copy in a directory of its own (it prefers units beside the one it checks). */
function verify(t: { after: (fn: () => void) => void }, unit: string, text: string): Promise<{ code: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copy = join(dir, basename(unit));
  writeFileSync(copy, text);
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['verify', copy], { timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr });
    });
  });
}

for (const unit of UNITS) {
  test(`systemd-analyze verify accepts ${basename(unit)} with fcgi-spawn installed`, needs('systemd-analyze'), async (t) => {
    const result = await verify(t, unit, withCommand(unit, BIN));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
  });

  test(`systemd-analyze verify refuses ${basename(unit)} when fcgi-spawn is missing`, needs('systemd-analyze'), async (t) => {
    const missing = join(tmpdir(), 'fcgi-spawn-not-installed', 'fcgi-spawn');
    const result = await verify(t, unit, withCommand(unit, missing));
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, new RegExp(`Command ${missing} is not executable`));
  });
}

const SOCKET = join(ROOT, 'contrib', 'systemd', 'fcgi-spawn@.socket');
const TEMPLATE = join(ROOT, 'contrib', 'systemd', 'fcgi-spawn@.service');

/** systemd-analyze verify of an instance of the socket unit, its service template beside it. */
function verifySocket(t: { after: (fn: () => void) => void }, socketText: string): Promise<{ code: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, basename(SOCKET)), socketText);
  writeFileSync(join(dir, basename(TEMPLATE)), withCommand(TEMPLATE, BIN));
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['verify', join(dir, 'fcgi-spawn@www.socket')], { timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr });
    });
  });
}

test('systemd-analyze verify accepts fcgi-spawn@.socket (an instance, beside its service)', needs('systemd-analyze'), async (t) => {
  const text = readFileSync(SOCKET, 'utf8');
  // What the README promises about it: the pool's name as the fd name, and SO_REUSEPORT for TCP reloads.
  assert.match(text, /^FileDescriptorName=%i$/m);
  assert.match(text, /^ReusePort=yes$/m);
  assert.match(text, /^Service=fcgi-spawn@%i\.service$/m);
  const result = await verifySocket(t, text);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('systemd-analyze verify refuses fcgi-spawn@.socket without a Listen setting, and warns on a bad ReusePort=', needs('systemd-analyze'), async (t) => {
  const text = readFileSync(SOCKET, 'utf8');
  const noListen = await verifySocket(t, text.replace(/^ListenStream=.*$/m, ''));
  assert.notEqual(noListen.code, 0);
  assert.match(noListen.stderr, /has no Listen setting/);
  const badReusePort = await verifySocket(t, text.replace(/^ReusePort=yes$/m, 'ReusePort=maybe'));
  assert.match(badReusePort.stderr, /Failed to parse boolean value.*maybe/);
});
