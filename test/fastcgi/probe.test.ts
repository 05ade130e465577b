import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROBE_EXIT_CODES, runProbe } from '../../src/commands/probe.js';
import { RecordType, encodeEndRequest, encodeStream } from '../../src/fastcgi/protocol.js';
import type { ResponderRequest } from '../../src/fastcgi/responder.js';
import { captureOutput, listen, makeSocketDir, portOf, startResponder, withRawServer, type RunningResponder } from './support.js';

/** Answers per path, the way the applications behind a probe do. */
function answer({ params }: ResponderRequest): { status?: number; headers?: Record<string, string>; body: string; stderr?: string } {
  switch (params.DOCUMENT_URI) {
    case '/missing':
      return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not here\n' };
    case '/redirect':
      return { status: 302, headers: { Location: '/elsewhere' }, body: '' };
    case '/params':
      return { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(params) };
    case '/noisy':
      return { headers: { 'Content-Type': 'text/plain' }, body: 'ok\n', stderr: 'PHP Notice: something' };
    default:
      return { headers: { 'Content-Type': 'text/plain' }, body: `hello ${params.REQUEST_URI ?? ''}\n` };
  }
}

describe('probe against a responder', () => {
  let running: RunningResponder;
  let address: string;
  before(async () => {
    running = await startResponder({ host: '127.0.0.1' }, answer);
    address = `127.0.0.1:${portOf(running.responder.server)}`;
  });
  after(() => running.responder.close());

  it('exits 0 on 200 and prints the status line, headers and body', async () => {
    const output = captureOutput();
    const code = await runProbe(address, '/index?x=1', { timeoutMs: 5000, ...output });
    assert.equal(code, PROBE_EXIT_CODES.ok);
    assert.equal(output.out.join(''), 'Status: 200\nContent-Type: text/plain\n\nhello /index?x=1\n');
    assert.deepEqual(output.err, []);
  });

  it('exits 0 on a redirect', async () => {
    const output = captureOutput();
    assert.equal(await runProbe(address, '/redirect', { timeoutMs: 5000, ...output }), 0);
  });

  it('exits 1 on 404 and says so on stderr', async () => {
    const output = captureOutput();
    const code = await runProbe(address, '/missing', { timeoutMs: 5000, ...output });
    assert.equal(code, PROBE_EXIT_CODES.status);
    assert.match(output.out.join(''), /^Status: 404\n/);
    assert.deepEqual(output.err, [`fcgi-spawn: probe: ${address} answered status 404 for /missing\n`]);
  });

  it('sends the CGI params a web server sends, with --param overrides', async () => {
    const output = captureOutput();
    const code = await runProbe(address, '/params?a=1&b=2', {
      timeoutMs: 5000,
      ...output,
      params: { REQUEST_METHOD: 'HEAD', HTTP_HOST: 'example.test' },
    });
    assert.equal(code, 0);
    const body = output.out.join('').split('\n\n')[1] ?? '';
    const port = address.split(':')[1];
    assert.deepEqual(JSON.parse(body), {
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'HEAD',
      SCRIPT_FILENAME: '/params',
      SCRIPT_NAME: '/params',
      REQUEST_URI: '/params?a=1&b=2',
      QUERY_STRING: 'a=1&b=2',
      DOCUMENT_URI: '/params',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_SOFTWARE: 'fcgi-spawn-probe',
      SERVER_NAME: '127.0.0.1',
      SERVER_PORT: port,
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_PORT: '0',
      CONTENT_LENGTH: '0',
      HTTP_HOST: 'example.test',
    });
  });

  it('passes the application stderr through to stderr', async () => {
    const output = captureOutput();
    assert.equal(await runProbe(address, '/noisy', { timeoutMs: 5000, ...output }), 0);
    assert.deepEqual(output.err, ['PHP Notice: something\n']);
  });
});

const socketDir = await makeSocketDir();
after(() => socketDir.remove());

describe('probe exit codes', () => {
  it('exits 0 without a Status header, over IPv6 and over a Unix socket', async () => {
    const raw = 'Content-Type: text/plain\r\n\r\nfine';
    const socketPath = path.join(socketDir.dir, 'probe.sock');
    const running = await startResponder({ path: socketPath }, () => ({ body: 'unix' }));
    try {
      const unixOutput = captureOutput();
      assert.equal(await runProbe(socketPath, undefined, { timeoutMs: 5000, ...unixOutput }), 0);
      assert.match(unixOutput.out.join(''), /unix$/);
    } finally {
      await running.responder.close();
    }
    // A hand-written answer: STDOUT without a Status line, then END_REQUEST.
    await withRawServer(
      '::1',
      (socket) =>
        socket.once('data', () =>
          socket.end(Buffer.concat([...encodeStream(RecordType.STDOUT, 1, Buffer.from(raw)), encodeEndRequest(1, 0, 0)])),
        ),
      async (address) => {
        const output = captureOutput();
        assert.equal(await runProbe(address, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.ok);
        assert.equal(output.out.join(''), 'Status: 200\nContent-Type: text/plain\n\nfine');
      },
    );
  });

  it('exits 3 when the connection is refused', async () => {
    const server = net.createServer();
    await listen(server, { host: '127.0.0.1' });
    const port = portOf(server);
    await new Promise((resolve) => server.close(resolve));
    const output = captureOutput();
    assert.equal(await runProbe(`127.0.0.1:${port}`, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.refused);
    assert.deepEqual(output.err, [
      `fcgi-spawn: probe: unable to connect to 127.0.0.1:${port}: ECONNREFUSED (connection refused); is a FastCGI server listening there?\n`,
    ]);
  });

  it('exits 3 when no socket exists at a Unix path', async () => {
    const output = captureOutput();
    const missing = path.join(socketDir.dir, 'missing.sock');
    assert.equal(await runProbe(missing, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.refused);
    assert.match(output.err.join(''), /^fcgi-spawn: probe: unable to connect to .*missing\.sock: ENOENT \(no such file or directory\)/);
  });

  it('exits 4 when the server accepts and never answers', async () => {
    await withRawServer('127.0.0.1', () => {}, async (address) => {
      const output = captureOutput();
      const started = Date.now();
      assert.equal(await runProbe(address, '/', { timeoutMs: 300, ...output }), PROBE_EXIT_CODES.timeout);
      assert.ok(Date.now() - started >= 290, 'waited for the deadline');
      assert.deepEqual(output.err, [
        `fcgi-spawn: probe: no answer from ${address} within 300 ms (connected, waiting for FCGI_END_REQUEST)\n`,
      ]);
    });
  });

  it('exits 5 on garbage bytes, and recognises an HTTP server', async () => {
    await withRawServer('127.0.0.1', (socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'), async (address) => {
      const output = captureOutput();
      assert.equal(await runProbe(address, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.protocol);
      assert.match(output.err.join(''), /^fcgi-spawn: probe: .* sent a malformed answer: .*; that is an HTTP server, not FastCGI \(--protocol http\)\n$/);
    });
    await withRawServer('127.0.0.1', (socket) => socket.end(Buffer.from([0xde, 0xad, 0xbe, 0xef])), async (address) => {
      const output = captureOutput();
      assert.equal(await runProbe(address, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.protocol);
      assert.match(output.err.join(''), /record header starts with 0xdeadbeef: expected FastCGI version 1/);
    });
  });

  it('exits 5 when the connection closes before END_REQUEST', async () => {
    await withRawServer('127.0.0.1', (socket) => socket.once('data', () => socket.end()), async (address) => {
      const output = captureOutput();
      assert.equal(await runProbe(address, '/', { timeoutMs: 5000, ...output }), PROBE_EXIT_CODES.protocol);
      assert.deepEqual(output.err, [`fcgi-spawn: probe: ${address} closed the connection before FCGI_END_REQUEST\n`]);
    });
  });

  it('exits 2 on a bad address, path, timeout or param, without connecting', async () => {
    const cases: Array<[string, string | undefined, number, Record<string, string>, string]> = [
      ['127.0.0.1:70000', '/', 1000, {}, "invalid address '127.0.0.1:70000': expected HOST:PORT, [IPV6]:PORT or a Unix socket path"],
      ['127.0.0.1:0', '/', 1000, {}, "invalid address '127.0.0.1:0'"],
      ['127.0.0.1', '/', 1000, {}, "invalid address '127.0.0.1': expected HOST:PORT, [IPV6]:PORT or a Unix socket path (./127.0.0.1 for"],
      ['::1:9000', '/', 1000, {}, "invalid address '::1:9000'"],
      ['[::1]', '/', 1000, {}, "invalid address '[::1]'"],
      ['[not-v6]:9000', '/', 1000, {}, "invalid address '[not-v6]:9000'"],
      ['host:90x', '/', 1000, {}, "invalid address 'host:90x'"],
      ['', '/', 1000, {}, "invalid address '': expected HOST:PORT, [IPV6]:PORT or a Unix socket path\n"],
      [`/${'x'.repeat(120)}`, '/', 1000, {}, `invalid address '/${'x'.repeat(120)}': a Unix socket path is at most 107 bytes`],
      ['127.0.0.1:9000', 'index.php', 1000, {}, "invalid path 'index.php': expected an absolute path"],
      ['127.0.0.1:9000', '/a b', 1000, {}, "invalid path '/a b'"],
      ['127.0.0.1:9000', '/', 0, {}, "invalid timeout '0'"],
      ['127.0.0.1:9000', '/', 2 ** 31, {}, `invalid timeout '${2 ** 31}'`],
      ['127.0.0.1:9000', '/', 1000, { '': 'x' }, "invalid param name ''"],
    ];
    for (const [address, probePath, timeoutMs, params, message] of cases) {
      const output = captureOutput();
      const code = await runProbe(address, probePath, { timeoutMs, params, ...output });
      assert.equal(code, PROBE_EXIT_CODES.usage, `exit code for ${address} ${probePath ?? ''}`);
      assert.equal(output.err.length, 1);
      assert.ok(output.err[0]?.startsWith(`fcgi-spawn: probe: ${message}`), `message ${output.err[0]}`);
      assert.ok(output.err[0]?.endsWith('\n') && output.err[0].indexOf('\n') === output.err[0].length - 1, 'one line');
      assert.deepEqual(output.out, []);
    }
  });

  it('keeps its exit codes', () => {
    assert.deepEqual(PROBE_EXIT_CODES, { ok: 0, status: 1, usage: 2, refused: 3, timeout: 4, protocol: 5 });
  });
});
