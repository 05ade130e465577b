/**
 * fcgi-spawn/worker as an app sees it, in real Node processes: the package export for `import` and `require`
 * (one module, one state), listen() without an inherited socket (an error naming the fix, or the fallback), and
 * ready() refusing what is not the supervisor's pipe.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type StdioOptions } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers/supervisor.js';
import { outputOf } from '../helpers/processes.js';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A Node program from the repository root (where `fcgi-spawn/worker` resolves to this package), to its end. */
function runNode(args: readonly string[], options: { env?: NodeJS.ProcessEnv; stdio?: StdioOptions } = {}): Promise<Ran> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: options.env ?? { PATH: process.env.PATH }, stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'] });
  return outputOf(child, `node ${args.join(' ')}`, 15_000);
}

const esm = (source: string): string[] => ['--input-type=module', '-e', source];

test('import and require reach one module: the same functions, the same state', async () => {
  const ran = await runNode(esm(`
    import { createRequire } from 'node:module';
    import * as imported from 'fcgi-spawn/worker';
    const required = createRequire(import.meta.url)('fcgi-spawn/worker');
    console.log(Object.keys(imported).sort().join(','));
    console.log(imported.listen === required.listen && imported.ready === required.ready && imported.inheritedFd === required.inheritedFd);
  `));
  assert.equal(ran.code, 0, ran.stderr);
  assert.deepEqual(ran.stdout.trim().split('\n'), ['DEFAULT_IDLE_GRACE_MS,READY_FD_VARIABLE,inheritedFd,listen,ready', 'true']);
});

test('listen() without an inherited socket says what to do; with a fallback it listens there and drains on TERM', async () => {
  const missing = await runNode(esm(`
    import http from 'node:http';
    import { inheritedFd, listen } from 'fcgi-spawn/worker';
    console.log('inherited', inheritedFd());
    await listen(http.createServer());
  `));
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^inherited undefined$/m);
  assert.match(missing.stderr, /fcgi-spawn\/worker: no listening socket was inherited \(fd 0 is not a socket, and LISTEN_FDS does not name this process\): start the app with fcgi-spawn, or give listen\(\) a fallback/);

  const fallback = await runNode(esm(`
    import http from 'node:http';
    import { listen } from 'fcgi-spawn/worker';
    const { server, fd } = await listen(http.createServer((q, s) => s.end('ok')), { fallback: { port: 0, host: '127.0.0.1' } });
    const response = await fetch('http://127.0.0.1:' + server.address().port + '/');
    console.log(fd, await response.text());
    process.kill(process.pid, 'SIGTERM');
  `));
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.equal(fallback.stdout.trim(), 'undefined ok');
});

test('ready() does nothing outside a notify pool, and refuses what is not a pipe rather than write into it', async (t) => {
  const outside = await runNode(esm(`import { ready } from 'fcgi-spawn/worker'; console.log(ready());`));
  assert.equal(outside.stdout.trim(), 'false');

  const stdio: StdioOptions = ['ignore', 'pipe', 'pipe'];
  const notANumber = await runNode(esm(`import { ready } from 'fcgi-spawn/worker'; ready();`), { env: { FCGI_SPAWN_READY_FD: '2' }, stdio });
  assert.match(notANumber.stderr, /fcgi-spawn\/worker: FCGI_SPAWN_READY_FD='2' is not a descriptor number \(3 or more\)/);
  const closed = await runNode(esm(`import { ready } from 'fcgi-spawn/worker'; ready();`), { env: { FCGI_SPAWN_READY_FD: '900' }, stdio });
  assert.match(closed.stderr, /fcgi-spawn\/worker: unable to use FCGI_SPAWN_READY_FD=900: EBADF/);

  // A regular file at fd 3 (a variable leaked from elsewhere): not written, not closed, and not offered to children.
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-ready-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'file');
  const fd = openSync(file, 'w+');
  try {
    const refused = await runNode(
      esm(`
        import { fstatSync } from 'node:fs';
        import { ready } from 'fcgi-spawn/worker';
        try { ready(); } catch (error) { console.log(error.message); }
        console.log(fstatSync(3).isFile(), process.env.FCGI_SPAWN_READY_FD === undefined);
      `),
      { env: { FCGI_SPAWN_READY_FD: '3' }, stdio: ['ignore', 'pipe', 'pipe', fd] },
    );
    assert.deepEqual(refused.stdout.trim().split('\n'), ['fcgi-spawn/worker: unable to use FCGI_SPAWN_READY_FD=3: not a pipe or a socket', 'true true']);
    assert.equal(readFileSync(file, 'utf8'), '');
  } finally {
    closeSync(fd);
  }
});

test('listen() refuses what it cannot serve', async () => {
  const ran = await runNode(esm(`import { listen } from 'fcgi-spawn/worker'; await listen({});`));
  assert.equal(ran.code, 1);
  assert.match(ran.stderr, /TypeError: fcgi-spawn\/worker: listen\(\) takes a server \(node:http, https, net\), a request handler \(an Express app\), a Koa app or a Fastify instance/);
});
