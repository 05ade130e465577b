/**
 * `probe --protocol http|scgi` against hand-written answers on a real socket: every way an HTTP body can be
 * framed, the two forms of an SCGI answer, and the exit code of each way to fail.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { PROBE_EXIT_CODES, runProbe } from '../../src/commands/probe.js';
import type { ProbeProtocol } from '../../src/probe/types.js';
import { captureOutput, withRawServer } from '../fastcgi/support.js';

/** Answers the first request on a connection with `reply` (a string, or bytes), written in the pieces given. */
function replying(...pieces: Array<string | Buffer>): (socket: net.Socket) => void {
  return (socket) =>
    socket.once('data', () => {
      for (const piece of pieces) socket.write(piece);
      socket.end();
    });
}

async function probeWith(protocol: ProbeProtocol, onConnection: (socket: net.Socket) => void, uri = '/', timeoutMs = 5000) {
  let result: { code: number; out: string; err: string; request: string } | undefined;
  let request = '';
  await withRawServer(
    '127.0.0.1',
    (socket) => {
      socket.on('data', (chunk: Buffer) => (request += chunk.toString('latin1')));
      onConnection(socket);
    },
    async (address) => {
      const output = captureOutput();
      const code = await runProbe(address, uri, { timeoutMs, protocol, ...output });
      result = { code, out: output.out.join(''), err: output.err.join(''), request };
    },
  );
  return result as NonNullable<typeof result>;
}

describe('probe --protocol http', () => {
  it('sends one GET with Host and Connection: close, and reads a Content-Length body', async () => {
    const result = await probeWith('http', replying('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'), '/health?x=1');
    assert.equal(result.code, PROBE_EXIT_CODES.ok);
    assert.match(result.request, /^GET \/health\?x=1 HTTP\/1\.1\r\nHost: 127\.0\.0\.1:\d+\r\n/);
    assert.match(result.request, /\r\nConnection: close\r\n\r\n$/);
    assert.equal(result.out, 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello');
  });

  it('does not wait for the close once a Content-Length body is in', async () => {
    // The server keeps the connection open: the answer must end the probe, not the timeout.
    const result = await probeWith('http', (socket) => socket.once('data', () => socket.write('HTTP/1.1 204 No Content\r\n\r\n')), '/', 3000);
    assert.equal(result.code, PROBE_EXIT_CODES.ok);
    const chunked = await probeWith('http', (socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')), '/', 3000);
    assert.equal(chunked.code, PROBE_EXIT_CODES.ok);
    assert.match(chunked.out, /\n\nabc$/);
  });

  it('decodes a chunked body split across reads, skips a 100 Continue, reads a body that runs to the close', async () => {
    const chunked = await probeWith('http', replying('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwi', 'ki\r\n5;ext=1\r\npedia\r\n0\r\n', 'Trailer: x\r\n\r\n'));
    assert.equal(chunked.code, PROBE_EXIT_CODES.ok);
    assert.match(chunked.out, /^HTTP\/1\.1 200 OK\n/);
    assert.match(chunked.out, /\n\nwikipedia$/);
    const toClose = await probeWith('http', replying('HTTP/1.0 503 Service Unavailable\r\n\r\n', 'down\n'));
    assert.equal(toClose.code, PROBE_EXIT_CODES.status);
    assert.equal(toClose.out, 'HTTP/1.0 503 Service Unavailable\n\ndown\n');
    assert.match(toClose.err, /answered status 503 for \/\n$/);
  });

  it('exits 5 on a body cut short, on bytes that are not HTTP, and says what to try', async () => {
    const short = await probeWith('http', replying('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    assert.equal(short.code, PROBE_EXIT_CODES.protocol);
    assert.match(short.err, /closed the connection before the end of the response\n$/);
    // What php-cgi or the FastCGI library would answer: a binary FCGI_END_REQUEST record.
    const fastcgi = await probeWith('http', replying(Buffer.from([1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
    assert.equal(fastcgi.code, PROBE_EXIT_CODES.protocol);
    assert.match(fastcgi.err, /sent a malformed answer: status line "\\u0001\\u0003.*; if it is not an HTTP server, pass --protocol fastcgi, http or scgi\n$/);
    const badLength = await probeWith('http', replying('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'));
    assert.equal(badLength.code, PROBE_EXIT_CODES.protocol);
    assert.match(badLength.err, /Content-Length "1, 2": expected one decimal number/);
  });

  it('exits 4 on a server that never answers, and refuses --param', async () => {
    const silent = await probeWith('http', () => {}, '/', 300);
    assert.equal(silent.code, PROBE_EXIT_CODES.timeout);
    assert.match(silent.err, /no answer from 127\.0\.0\.1:\d+ within 300 ms \(connected, waiting for the end of the response\)\n$/);
    const output = captureOutput();
    const code = await runProbe('127.0.0.1:9', '/', { timeoutMs: 1000, protocol: 'http', params: { HTTP_HOST: 'x' }, ...output });
    assert.equal(code, PROBE_EXIT_CODES.usage);
    assert.deepEqual(output.err, ['fcgi-spawn: probe: --param HTTP_HOST=…: HTTP has no CGI parameters; --param is for --protocol fastcgi and scgi\n']);
  });
});

describe('probe --protocol scgi', () => {
  /** The netstring's variables, as the server received them. */
  function variablesOf(request: string): Array<[string, string]> {
    const colon = request.indexOf(':');
    const fields = request.slice(colon + 1, colon + 1 + Number(request.slice(0, colon))).split('\0').slice(0, -1);
    return Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i] as string, fields[2 * i + 1] as string]);
  }

  it('sends a netstring, CONTENT_LENGTH first and SCGI=1, and reads a CGI answer', async () => {
    const result = await probeWith('scgi', replying('Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nfine'), '/app/x?y=1');
    assert.equal(result.code, PROBE_EXIT_CODES.ok);
    assert.equal(result.out, 'Status: 200 OK\nContent-Type: text/plain\n\nfine');
    assert.ok(result.request.endsWith(','), 'a netstring ends with a comma');
    const vars = variablesOf(result.request);
    assert.deepEqual(vars.slice(0, 2), [['CONTENT_LENGTH', '0'], ['SCGI', '1']]);
    const byName = Object.fromEntries(vars);
    assert.equal(byName.REQUEST_METHOD, 'GET');
    assert.equal(byName.REQUEST_URI, '/app/x?y=1');
    assert.equal(byName.PATH_INFO, '/app/x');
    assert.equal(byName.QUERY_STRING, 'y=1');
  });

  it('reads an answer in HTTP form, and exits 1 on its status', async () => {
    const result = await probeWith('scgi', replying('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n', 'no\n'));
    assert.equal(result.code, PROBE_EXIT_CODES.status);
    assert.equal(result.out, 'HTTP/1.1 404 Not Found\nContent-Type: text/plain\n\nno\n');
  });

  it('exits 5 on an answer without headers, and when the server closes without one', async () => {
    const garbage = await probeWith('scgi', replying('just text\n'));
    assert.equal(garbage.code, PROBE_EXIT_CODES.protocol);
    assert.match(garbage.err, /sent a malformed answer: CGI header line "just text": expected NAME: VALUE; if it is not an SCGI server, pass --protocol/);
    const nothing = await probeWith('scgi', replying());
    assert.equal(nothing.code, PROBE_EXIT_CODES.protocol);
    assert.match(nothing.err, /the application sent no output/);
  });
});
