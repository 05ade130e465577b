/**
 * status, stop and probe without commander (src/fast-path.ts, run from its CommonJS copy by bin/fcgi-spawn.js):
 * for every command line, the same output and exit code as commander's parse in cli.ts gives; what the fast path
 * does not take is left to commander; and a stopped instance is answered without node:net, node:crypto or an
 * ES module.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT } from '../helpers/supervisor.js';
import { outputOf } from '../helpers/processes.js';
import { parseFastPath } from '../../src/fast-path.js';

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: ROOT });
  return outputOf(child, argv.join(' '), 30_000);
}

/** commander's parse: cli.ts's main, as bin/fcgi-spawn.js ran it before the fast path. */
function viaCommander(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  const cli = pathToFileURL(join(ROOT, 'dist', 'src', 'cli.js')).href;
  const script = `import(${JSON.stringify(cli)}).then(({ main }) => main(process.argv.slice(1))).then((code) => process.exit(code))`;
  // '--': what follows is the CLI's, not node's (`node -e … --version` is node's own --version).
  return run([process.execPath, '-e', script, '--', ...args], env);
}

function scratch(t: { after: (fn: () => void) => void }): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'fast-path-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  return { dir, env: { ...process.env, FCGI_SPAWN_RUN_DIR: join(dir, 'run') } };
}

/**
 * A TCP port with a listener that ends every connection once the request has arrived (probe: closed before the
 * end of the response; a close before reading it would reset the connection, or not, as the race goes), and one
 * with none.
 */
async function ports(t: { after: (fn: () => void) => void }): Promise<{ closing: number; refused: number }> {
  const listen = (server: Server): Promise<number> =>
    new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  const closing = createServer((socket) => socket.once('data', () => socket.end()));
  const spare = createServer();
  const [closingPort, refused] = [await listen(closing), await listen(spare)];
  await new Promise((resolve) => spare.close(resolve));
  t.after(() => closing.close());
  return { closing: closingPort, refused };
}

test('the fast path takes only plain command lines of status, stop and probe', () => {
  const taken: readonly string[][] = [
    ['status', '-p', '9000'],
    ['status', '--port=9000', '--json'],
    ['status', '--name', 'web', '--format', 'prometheus', '--pool', 'a'],
    ['stop', '-s', '/run/php.sock', '--graceful', '--timeout', '5'],
    ['stop', '-P', '/run/x.pid'],
    ['probe', '127.0.0.1:9000'],
    ['probe', '127.0.0.1:9000', '/ping', '-t', '2', '--protocol', 'http', '--param', 'A=1', '--param=B=2'],
  ];
  const left: readonly string[][] = [
    [],
    ['--help'],
    ['status', '--help'],
    ['status', '-h'],
    ['status', '-p'],
    ['status', '-p', '-1'],
    ['status', '-p9000'],
    ['status', '-p', '1', '-p', '2'],
    ['status', 'extra'],
    ['status', '--json=yes'],
    ['status', '--bogus'],
    ['status', '--', '-p', '9000'],
    ['stop', '--timeout'],
    ['probe'],
    ['probe', 'a', 'b', 'c'],
    ['probe', 'a', '--protocol', 'gopher'],
    ['probe', '-'],
    ['reload', '-p', '9000'],
    ['start', '-p', '9000'],
    ['toString'],
    ['constructor'],
  ];
  for (const argv of taken) assert.notEqual(parseFastPath(argv), undefined, `taken: ${argv.join(' ')}`);
  for (const argv of left) assert.equal(parseFastPath(argv), undefined, `left to commander: ${argv.join(' ')}`);
  assert.deepEqual(parseFastPath(['probe', '127.0.0.1:9000']), { command: 'probe', args: ['127.0.0.1:9000', '/'], options: { timeout: '5' } });
  assert.deepEqual(parseFastPath(['probe', 'x', '--param', 'A=1', '--param=B=2']), { command: 'probe', args: ['x', '/'], options: { timeout: '5', param: ['A=1', 'B=2'] } });
  assert.deepEqual(parseFastPath(['stop', '--port=80', '-a', '::1', '--graceful']), { command: 'stop', args: [], options: { port: '80', address: '::1', graceful: true } });
});

test('every command line gives what commander gives: output, message and exit code', async (t) => {
  const { dir, env } = scratch(t);
  const { closing, refused } = await ports(t);
  // A dead instance: a pidfile of a process that is not ours (pid 1 is never an fcgi-spawn supervisor here).
  writeFileSync(join(dir, 'run', 'dead.pid'), '1\n', { mode: 0o600 });
  const open = join(dir, 'open');
  mkdirSync(open, { mode: 0o755 });
  const lines: readonly string[][] = [
    ['status', '-p', String(refused)],
    ['status', '-p', String(refused), '--json'],
    ['status', '-p', String(refused), '--format', 'prometheus'],
    ['status', '-p', String(refused), '--format', 'yaml'],
    ['status', '-p', String(refused), '--json', '--format', 'text'],
    ['status', '-p', '0'],
    ['status', '-p', '70000'],
    ['status', '--name', '../x'],
    ['status', '--name', 'dead'],
    ['status', '--name=dead', '--json'],
    ['status', '-s', 'relative.sock'],
    ['status', '-s', `/${'long-socket-directory/'.repeat(6)}a.sock`],
    ['status', '-a', '::1', '-p', String(refused)],
    ['status', '-P', join(dir, 'run', 'dead.pid')],
    ['status'],
    ['stop', '-p', String(refused)],
    ['stop', '-p', String(refused), '--timeout', 'soon'],
    ['stop', '--name', 'dead', '--graceful'],
    ['stop'],
    ['probe', `127.0.0.1:${refused}`],
    ['probe', `127.0.0.1:${closing}`, '/x', '--protocol', 'http', '-t', '2'],
    ['probe', `127.0.0.1:${closing}`, '--protocol=scgi', '--param', 'A=1'],
    ['probe', `127.0.0.1:${refused}`, '--param', 'NOEQUALS'],
    ['probe', `127.0.0.1:${refused}`, '-t', '0'],
    ['probe', 'not an address'],
    ['probe', join(dir, 'missing.sock')],
    ['--version'],
    ['-V'],
    ['-v'],
    // Left to commander by the fast path: the same either way, trivially, and still the same.
    ['--version', 'x'],
    ['status', '--bogus'],
    ['probe', 'x', '--protocol', 'gopher'],
    ['status', '-p'],
  ];
  for (const args of lines) {
    const fast = await run([process.execPath, BIN, ...args], env);
    const commander = await viaCommander(args, env);
    assert.deepEqual(fast, commander, `fcgi-spawn ${args.join(' ')}`);
  }
  // The same for a run directory open to others (refused, exit 4): nothing in it is believed.
  const refusedEnv = { ...env, FCGI_SPAWN_RUN_DIR: open };
  for (const args of [['status', '-p', '9000'], ['stop', '-p', '9000']]) {
    const fast = await run([process.execPath, BIN, ...args], refusedEnv);
    assert.deepEqual(fast, await viaCommander(args, refusedEnv), `fcgi-spawn ${args.join(' ')} (run directory open to others)`);
    assert.equal(fast.code, 4);
  }
});

test('status and stop of a stopped instance load neither node:net, node:crypto, node:module nor streams, nor any ES module of ours', (t) => {
  const { dir, env } = scratch(t);
  const preload = join(dir, 'loaded.cjs');
  const log = join(dir, 'loaded.json');
  // CommonJS preloaded with -r: at exit, Node's own module list and every file required.
  writeFileSync(preload, `process.once('exit', () => require('node:fs').writeFileSync(${JSON.stringify(log)}, JSON.stringify({ builtins: process.moduleLoadList, files: Object.keys(require.cache) })));\n`);
  // Output to a file, as hyperfine gives it (bench:cli): a pipe on stdout is a net.Socket, loaded by Node itself.
  const out = join(dir, 'out.txt');
  for (const args of [['status', '-p', '9'], ['stop', '-p', '9']]) {
    const fd = openSync(out, 'w');
    const result = spawnSync(process.execPath, ['-r', preload, BIN, ...args], { stdio: ['ignore', fd, fd], env, cwd: ROOT, timeout: 30_000 });
    closeSync(fd);
    assert.equal(result.status, args[0] === 'status' ? 3 : 0, readFileSync(out, 'utf8'));
    const { builtins, files } = JSON.parse(readFileSync(log, 'utf8')) as { builtins: string[]; files: string[] };
    // module: the chunk loader's createRequire (scripts/build/chunk.ts); stream: the output goes out by writeSync.
    for (const heavy of ['NativeModule net', 'NativeModule crypto', 'NativeModule module', 'NativeModule stream']) assert.ok(!builtins.includes(heavy), `${args.join(' ')} loaded ${heavy}`);
    assert.ok(!builtins.includes('NativeModule internal/modules/esm/translators'), `${args.join(' ')} started the ESM loader`);
    const own = files.filter((file) => file.startsWith(join(ROOT, 'dist')));
    assert.ok(own.length > 0 && own.every((file) => file.startsWith(join(ROOT, 'dist', 'src-cjs'))), `${args.join(' ')} ran from dist/src-cjs: ${own.join(', ')}`);
    assert.ok(!files.some((file) => file.includes('node_modules')), `${args.join(' ')} loaded a package: ${files.join(', ')}`);
  }
});

/** An HTTP server on 127.0.0.1 whose every answer is a 1 MiB body: more than a pipe holds (64 KiB). */
async function bigAnswers(t: { after: (fn: () => void) => void }): Promise<{ port: number; body: string }> {
  const body = 'x'.repeat(1 << 20);
  const server = createHttpServer((_request, response) => response.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return { port: (server.address() as { port: number }).port, body };
}

for (const [path, protocol] of [
  ['the fast path', ['--protocol', 'http']],
  // A repeated option is not plain: commander's path (cli.ts main), which must wait for the stream as well.
  ['commander', ['--protocol', 'http', '--protocol', 'http']],
] as const) {
  test(`probe prints a whole large answer on a non-blocking stdout pipe, through ${path} (writeSync hits EAGAIN: the stream takes the rest)`, async (t) => {
    const { dir, env } = scratch(t);
    const { port, body } = await bigAnswers(t);
    // libuv makes a child's fds 0-2 blocking at spawn: the child itself sets O_NONBLOCK on its stdout pipe (whose
    // 64 KiB the 1 MiB answer overflows while we read), then runs our bin in the same process.
    const wrapper = join(dir, 'nonblocking-stdout.mjs');
    const libc = pathToFileURL(join(ROOT, 'dist', 'src', 'os', 'libc.js')).href;
    writeFileSync(
      wrapper,
      `import { createRequire } from 'node:module';\nimport { constants } from 'node:fs';\nconst { getStatusFlags, setStatusFlags } = await import(${JSON.stringify(libc)});\n` +
        `setStatusFlags(1, getStatusFlags(1) | constants.O_NONBLOCK);\nif ((getStatusFlags(1) & constants.O_NONBLOCK) === 0) throw new Error('stdout still blocking');\n` +
        `createRequire(import.meta.url)(${JSON.stringify(BIN)});\n`,
    );
    const args = ['probe', `127.0.0.1:${port}`, '/', ...protocol];
    assert.equal(parseFastPath(args) === undefined, path === 'commander', `${args.join(' ')}: ${path}`);
    const outcome = await run([process.execPath, wrapper, ...args], env);
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.code, 0);
    assert.ok(outcome.stdout.startsWith('HTTP/1.1 200 OK\n'), outcome.stdout.slice(0, 200));
    assert.ok(outcome.stdout.endsWith(`\n\n${body}`), `the body arrived whole: ${outcome.stdout.length} characters`);
  });
}
