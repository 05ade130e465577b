/**
 * spawn-fcgi's habits through the real CLI: `start -f PROGRAM`, `fcgi-spawn -v` and `-?`, and the flags that mean
 * nothing here refused with the fcgi-spawn way; the README's table covers every option spawn-fcgi has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FIXTURES, ROOT, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { OPTION_NAMES, option } from '../../src/config/options.js';
import { spawnFcgiMarkdownTable } from '../../src/config/options-doc.js';
import { REFUSED_SPAWN_FCGI_OPTIONS, SPAWN_FCGI_OPTIONS } from '../../src/config/spawn-fcgi.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
const ALLOW_ROOT = process.geteuid?.() === 0 ? ['--allow-root'] : [];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** spawn-fcgi 1.6.4's getopt string (src/spawn-fcgi.c), plus -b (backlog), which Debian's 1.6.4 has. */
const SPAWN_FCGI_GETOPT = 'c:d:f:g:?hna:p:u:vC:F:s:P:U:G:M:S' + 'b:';

/** Binding the port works: nothing was left holding it. */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

test('fcgi-spawn -v prints the version as --version does; -? the help as --help does', async () => {
  const [short, long] = [await runCli(['-v']), await runCli(['--version'])];
  assert.deepEqual(short, { code: 0, stdout: `${VERSION}\n`, stderr: '' });
  assert.deepEqual(long, short);
  const [question, help] = [await runCli(['-?']), await runCli(['--help'])];
  assert.equal(question.code, 0);
  assert.match(question.stdout, /^Usage: fcgi-spawn /);
  assert.equal(question.stdout, help.stdout);
});

test('start -f PROGRAM runs that program, directly, as the workers', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '-f', RESPONDER]);
  t.after(() => pool.cleanup());
  await pool.waitReady(30_000);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  const status = await runCli(['status', '--json', '-p', String(port)]);
  const workers = (JSON.parse(status.stdout) as { workers: Array<{ pid: number }> }).workers;
  assert.equal(workers.length, 2);
  for (const { pid } of workers) {
    // The fixture's #! line (env node) made node its program: no shell in between (spawn-fcgi's -f went through /bin/sh).
    assert.equal(readlinkSync(`/proc/${pid}/exe`), realpathSync(process.execPath));
    assert.deepEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(1), [RESPONDER]);
  }
  await pool.stop();
});

test('config print -f: the program becomes the command', async () => {
  const result = await runCli(['config', 'print', '-p', '9005', '-f', RESPONDER]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`command:\\n\\s+- ${RESPONDER.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n`));
});

for (const [what, args, message] of [
  ['a program with its arguments (spawn-fcgi ran -f through a shell)', ['-f', '/usr/bin/php-cgi -c /etc/php.ini'], "fcgi-spawn: invalid -f '/usr/bin/php-cgi -c /etc/php.ini': one program, run without a shell; a program with arguments goes after --: -- /usr/bin/php-cgi -c /etc/php.ini\n"],
  ['-f beside a program after --', ['-f', RESPONDER, '--', process.execPath, RESPONDER], `fcgi-spawn: -f '${RESPONDER}' and the program after -- ('${process.execPath}') both name the worker: give one\n`],
  ...REFUSED_SPAWN_FCGI_OPTIONS.map((refused) => [`spawn-fcgi's ${refused.flag}`, [...refused.catch.replace('<directory>', '/srv').split(' '), '-f', RESPONDER], `fcgi-spawn: ${refused.hint}\n`] as const),
] as const) {
  test(`start refuses ${what}: exit 2, one line, nothing bound`, async () => {
    const port = await freePort();
    const result = await runCli(['start', '-n', '-p', String(port), ...ALLOW_ROOT, ...args]);
    assert.deepEqual({ code: result.code, stderr: result.stderr }, { code: 2, stderr: message });
    assert.ok(await portIsFree(port));
  });
}

test("every spawn-fcgi option is in the table, each one that fcgi-spawn takes is one of start's flags, and the README has the table", () => {
  const letters = SPAWN_FCGI_GETOPT.replaceAll(':', '').split('');
  // '-?, -h' lists two; '-c <directory>' one.
  const listed = SPAWN_FCGI_OPTIONS.flatMap((spawn) => spawn.flag.split(' ').filter((word) => word.startsWith('-'))).map((flag) => flag.replace(',', '').slice(1));
  assert.deepEqual([...listed].sort(), [...letters].sort());
  // The same letter means the same option here (a spawn-fcgi flag marked so in the option table).
  const ours = new Set(OPTION_NAMES.filter((name) => option(name).spawnFcgi).map((name) => option(name).short));
  const refused = new Set(REFUSED_SPAWN_FCGI_OPTIONS.map((spawn) => spawn.flag.slice(1, 2)));
  // -v, -? and -h are fcgi-spawn's own (version and help), tested above.
  const own = ['v', '?', 'h'];
  assert.deepEqual(letters.filter((letter) => !refused.has(letter) && !own.includes(letter) && !ours.has(letter)), []);
  assert.ok(readFileSync(join(ROOT, 'README.md'), 'utf8').includes(spawnFcgiMarkdownTable()), 'README.md: paste `npm run --silent docs:spawn-fcgi`');
});
