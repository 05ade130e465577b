/**
 * The run directory's place and checks, and instance names: one rule for the names fcgi-spawn
 * derives and the names it is given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRunDirectory, defaultName, runDirectory, RunDirectoryError, validateName } from '../../src/control/run-dir.js';
import type { ListenAddress } from '../../src/os/sockaddr.js';

test('runDirectory: FCGI_SPAWN_RUN_DIR, then /run as root, XDG_RUNTIME_DIR, and the /tmp fallback per uid', () => {
  assert.equal(runDirectory({ env: { FCGI_SPAWN_RUN_DIR: '/srv/run', XDG_RUNTIME_DIR: '/run/user/1000' }, euid: 1000 }), '/srv/run');
  assert.equal(runDirectory({ env: { XDG_RUNTIME_DIR: '/run/user/0' }, euid: 0 }), '/run/fcgi-spawn');
  assert.equal(runDirectory({ env: { XDG_RUNTIME_DIR: '/run/user/1000' }, euid: 1000 }), '/run/user/1000/fcgi-spawn');
  assert.equal(runDirectory({ env: {}, euid: 1000 }), '/tmp/fcgi-spawn-1000');
  assert.equal(runDirectory({ env: { FCGI_SPAWN_RUN_DIR: '' }, euid: 33 }), '/tmp/fcgi-spawn-33');
});

test('checkRunDirectory: missing is fine; another owner, a symlink, group or other access are refused', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'fcgi-spawn-rundir-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const euid = process.geteuid?.() ?? 0;
  assert.equal(checkRunDirectory(join(base, 'absent'), euid), 'missing');
  const good = join(base, 'good');
  mkdirSync(good, { mode: 0o700 });
  assert.equal(checkRunDirectory(good, euid), 'ok');
  // The /tmp fallback as another user leaves it: theirs, or ours but open.
  assert.throws(() => checkRunDirectory(good, euid + 1), (error: unknown) => error instanceof RunDirectoryError && /belongs to uid \d+, not \d+: refusing it/.test(error.message));
  const open = join(base, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  assert.throws(() => checkRunDirectory(open, euid), /is open to others \(mode 755\)/);
  const link = join(base, 'link');
  symlinkSync(good, link);
  assert.throws(() => checkRunDirectory(link, euid), /is not a directory \(a symlink\?\)/);
  if (euid === 0) {
    const theirs = join(base, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    assert.throws(() => checkRunDirectory(theirs, 0), /belongs to uid 65534, not 0/);
  }
});

const ADDRESSES: ListenAddress[] = [
  { kind: 'tcp', host: '127.0.0.1', port: 9005 },
  { kind: 'tcp', host: '::1', port: 9001 },
  { kind: 'tcp', host: '::', port: 9001 },
  { kind: 'tcp', host: 'fe80::1%lo', port: 9001 },
  { kind: 'tcp', host: '0.0.0.0', port: 1 },
  { kind: 'unix', path: '/run/php/www.sock' },
  { kind: 'unix', path: '/run/.hidden/sock' },
  { kind: 'unix', path: '/.sock' },
  { kind: 'unix', path: '/tmp/a\nb.sock' },
  { kind: 'unix', path: '/tmp/sp ace/caf\u00e9.sock' },
  { kind: 'unix', path: `/srv/${'x'.repeat(99)}.sock` },
];

test('every name fcgi-spawn derives is a valid --name', () => {
  for (const address of ADDRESSES) {
    const name = defaultName(address);
    assert.equal(validateName(name), name, `${JSON.stringify(address)} → ${JSON.stringify(name)}`);
    assert.ok(name.length <= 100, name);
  }
  // The names people already know stay as they were.
  assert.equal(defaultName({ kind: 'tcp', host: '127.0.0.1', port: 9005 }), '127.0.0.1-9005');
  assert.equal(defaultName({ kind: 'tcp', host: '::1', port: 9001 }), '__1-9001');
  assert.equal(defaultName({ kind: 'unix', path: '/run/php/www.sock' }), 'run_php_www.sock');
});

test('derived names of paths that differ only in an odd byte, or before their last 100 characters, differ', () => {
  const newline = defaultName({ kind: 'unix', path: '/tmp/a\nb.sock' });
  const underscore = defaultName({ kind: 'unix', path: '/tmp/a_b.sock' });
  assert.notEqual(newline, underscore);
  assert.doesNotMatch(newline, /\n/);
  assert.match(newline, /^tmp_a_b\.sock-[0-9a-f]{12}$/, 'a readable name with a short hash');
  const tail = `${'y'.repeat(90)}/www.sock`;
  const one = defaultName({ kind: 'unix', path: `/srv/one/${tail}` });
  const two = defaultName({ kind: 'unix', path: `/srv/two/${tail}` });
  assert.notEqual(one, two);
  assert.match(one, /_www\.sock-[0-9a-f]{12}$/, 'the readable tail kept');
});

test('--name: the rule names what is allowed, and refuses what would be a path, hidden or an option', () => {
  for (const name of ['web', '__1-9001', '_x', '@home', 'a.b-c_d@e', 'x'.repeat(100)]) assert.equal(validateName(name), name);
  for (const name of ['', '.', '..', '.hidden', '-x', 'a/b', 'a b', 'a\nb', 'x'.repeat(101)]) {
    assert.throws(() => validateName(name), /^Error: invalid --name ".*": expected 1 to 100 letters, digits, '\.', '_', '@' or '-', not starting with '\.' or '-'$/s, JSON.stringify(name));
  }
});
