/** Bad input: a one-line error naming the value and what is expected, the documented exit code, nothing left behind. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT, BIN, runCli } from '../helpers/supervisor.js';
import { findTool } from '../helpers/tools.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];

const cases: ReadonlyArray<{ name: string; args: string[]; code: number; message: RegExp }> = [
  { name: 'port out of range', args: ['-p', '70000'], code: 2, message: /invalid --port '70000': expected an integer from 1 to 65535/ },
  { name: 'port not a number', args: ['-p', '90x'], code: 2, message: /invalid --port '90x'/ },
  { name: 'bad address', args: ['-a', 'example.com', '-p', '9000'], code: 2, message: /invalid --address 'example.com': expected an IPv4 or IPv6 literal/ },
  { name: 'no address', args: [], code: 2, message: /no address to bind: pass -p PORT/ },
  { name: 'socket and port', args: ['-s', '/tmp/x.sock', '-p', '9000'], code: 2, message: /exclude each other/ },
  { name: 'bad workers', args: ['-p', '9000', '-F', '0'], code: 2, message: /invalid --workers '0': expected an integer from 1 to 4096/ },
  { name: 'bad mode', args: ['-s', '/tmp/x.sock', '-M', '999'], code: 2, message: /invalid --socket-mode '999'/ },
  { name: 'bad signal', args: ['-p', '9000', '--stop-signal', 'NOPE'], code: 2, message: /invalid --stop-signal 'NOPE'/ },
  { name: 'bad env', args: ['-p', '9000', '-e', 'NOEQUALS'], code: 2, message: /invalid --env 'NOEQUALS': expected KEY=VALUE/ },
  { name: 'bad fd', args: ['-p', '9000', '--fd', '4'], code: 2, message: /invalid --fd '4': expected one of 0, 3/ },
  { name: 'unknown option', args: ['-p', '9000', '--frobnicate'], code: 2, message: /unknown option '--frobnicate'/ },
  { name: 'bad chdir', args: ['-p', '9000', '-d', '/nonexistent/dir'], code: 2, message: /invalid --chdir '\/nonexistent\/dir': not a directory/ },
  // Nothing trimmed: a stray space is a mistake to show, not to guess around.
  { name: 'port with a space', args: ['-p', ' 80'], code: 2, message: /invalid --port ' 80': expected an integer from 1 to 65535/ },
  { name: 'mode with a space', args: ['-s', '/tmp/x.sock', '-M', '0660 '], code: 2, message: /invalid --socket-mode '0660 '/ },
  { name: 'size with a space', args: ['-p', '9000', '--log-max-size', '10 M'], code: 2, message: /invalid --log-max-size '10 M'/ },
  // Ignored by default: every stop would wait for --stop-timeout.
  ...['CHLD', 'WINCH', 'CONT', 'URG'].map((signal) => ({
    name: `stop signal ${signal}`,
    args: ['-p', '9000', '--stop-signal', signal],
    code: 2,
    message: new RegExp(`invalid --stop-signal '${signal}': expected a signal that ends a process.*SIG${signal} is ignored by default`),
  })),
  { name: 'start timeout 0', args: ['-p', '9000', '--start-timeout', '0'], code: 2, message: /invalid --start-timeout '0': expected a duration more than 0/ },
  { name: 'env-keep without clear-env', args: ['-p', '9000', '--env-keep', 'PATH'], code: 2, message: /--env-keep applies with clear-env/ },
  { name: 'listen and port', args: ['--listen', '127.0.0.1:9000', '-p', '9000'], code: 2, message: /--listen '127.0.0.1:9000' names the whole address: leave out -a, -p and -s/ },
  { name: 'bad listen', args: ['--listen', 'localhost:9000'], code: 2, message: /invalid --listen 'localhost:9000': expected HOST:PORT, \[IPV6\]:PORT or a Unix socket path/ },
];

for (const c of cases) {
  test(`start: ${c.name} → exit ${c.code}`, async () => {
    const result = await runCli(['start', '-n', ...c.args, ...ALLOW_ROOT, '--', process.execPath, RESPONDER]);
    assert.equal(result.code, c.code, result.stderr);
    assert.match(result.stderr, c.message);
    assert.equal(result.stderr.trim().split('\n').length, 1, `not one line:\n${result.stderr}`);
  });
}

test('start: a missing program → exit 2 naming the paths tried', async () => {
  const result = await runCli(['start', '-n', '-p', '9000', ...ALLOW_ROOT, '--', 'no-such-fcgi-program']);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /worker program 'no-such-fcgi-program' not found \(tried .*\/usr\/bin\/no-such-fcgi-program/);
});

test('start: a program that is not executable → exit 4 naming the path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'worker.sh');
  writeFileSync(script, '#!/bin/sh\n');
  chmodSync(script, 0o644);
  const result = await runCli(['start', '-n', '-p', '9000', ...ALLOW_ROOT, '--', script]);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, new RegExp(`worker program '${script}' not executable \\(tried ${script}\\)`));
});

test('start: as root, workers need -u or --allow-root (exit 2)', { skip: process.geteuid?.() !== 0 ? 'runs only as root' : false }, async () => {
  const result = await runCli(['start', '-n', '-p', '9000', '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /refusing to run workers as root: pass -u USER/);
});

test('start: -u when not root is refused (exit 4), never ignored', { skip: process.geteuid?.() !== 0 && !findTool('setpriv') ? 'needs root to become another user' : false }, async () => {
  const asNobody = process.geteuid?.() === 0 ? ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
  const { spawnSync } = await import('node:child_process');
  const [file, ...args] = [...asNobody, process.execPath, BIN, 'start', '-n', '-p', '9000', '-u', 'www-data', '--', process.execPath, RESPONDER];
  const result = spawnSync(file as string, args, { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.status, 4, result.stderr);
  assert.match(result.stderr, /--user need root: fcgi-spawn runs as uid \d+ and cannot switch users/);
});

test('probe: usage errors exit 2', async () => {
  const result = await runCli(['probe', '127.0.0.1:70000']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^fcgi-spawn: probe: invalid address '127.0.0.1:70000'/);
});
