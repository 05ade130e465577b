import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RequestError, request, type FastCGIAddress } from '../../src/fastcgi/client.js';
import {
  FCGI_KEEP_CONN,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeEndRequest,
  decodeNameValuePairs,
  encodeBeginRequest,
  encodeNameValuePairs,
  encodeRecord,
  encodeStream,
  type FastCGIRecord,
} from '../../src/fastcgi/protocol.js';
import type { ResponderHandler } from '../../src/fastcgi/responder.js';
import { listen, makeSocketDir, portOf, startResponder, waitFor, type RunningResponder } from './support.js';

/** Echoes what it received, so a test can check the params and body that crossed the wire. */
const echo: ResponderHandler = ({ params, stdin }) => ({
  status: params.QUERY_STRING === 'status=418' ? 418 : 200,
  headers: { 'Content-Type': 'text/plain', 'X-Uri': params.REQUEST_URI ?? '' },
  body: Buffer.concat([Buffer.from(`method=${params.REQUEST_METHOD ?? ''}\n`), stdin]),
  stderr: params.QUERY_STRING === 'warn' ? 'a warning' : undefined,
});

function get(address: FastCGIAddress, uri: string, body?: Buffer): ReturnType<typeof request> {
  const [, query = ''] = uri.split('?');
  return request({
    address,
    params: { REQUEST_METHOD: body ? 'POST' : 'GET', REQUEST_URI: uri, QUERY_STRING: query, CONTENT_LENGTH: String(body?.length ?? 0) },
    body,
    timeoutMs: 5000,
  });
}

interface Transport {
  readonly name: string;
  readonly start: (handler: ResponderHandler) => Promise<{ running: RunningResponder; address: FastCGIAddress }>;
}

const socketDir = await makeSocketDir();
after(() => socketDir.remove());

const transports: Transport[] = [
  {
    name: 'TCP 127.0.0.1',
    start: async (handler) => {
      const running = await startResponder({ host: '127.0.0.1' }, handler);
      return { running, address: { kind: 'tcp', host: '127.0.0.1', port: portOf(running.responder.server) } };
    },
  },
  {
    name: 'TCP ::1',
    start: async (handler) => {
      const running = await startResponder({ host: '::1' }, handler);
      return { running, address: { kind: 'tcp', host: '::1', port: portOf(running.responder.server) } };
    },
  },
  {
    name: 'Unix socket',
    start: async (handler) => {
      const socketPath = path.join(socketDir.dir, 'responder.sock');
      const running = await startResponder({ path: socketPath }, handler);
      return { running, address: { kind: 'unix', path: socketPath } };
    },
  },
];

for (const transport of transports) {
  describe(`client and responder over ${transport.name}`, () => {
    let running: RunningResponder;
    let address: FastCGIAddress;
    before(async () => ({ running, address } = await transport.start(echo)));
    after(() => running.responder.close());

    it('carries params, status, headers and body', async () => {
      const response = await get(address, '/hello?status=418');
      assert.equal(response.status, 418);
      assert.deepEqual(response.headers, [
        ['Content-Type', 'text/plain'],
        ['X-Uri', '/hello?status=418'],
      ]);
      assert.equal(response.body.toString(), 'method=GET\n');
      assert.equal(response.appStatus, 0);
      assert.equal(response.stderr, '');
    });

    it('carries a request body and an answer larger than one record', async () => {
      const body = Buffer.alloc(200_000, 'b');
      const response = await get(address, '/upload', body);
      assert.equal(response.body.length, 'method=POST\n'.length + body.length);
      assert.ok(response.body.subarray('method=POST\n'.length).equals(body));
    });

    it('carries the application stderr', async () => {
      const response = await get(address, '/?warn');
      assert.equal(response.stderr, 'a warning');
      assert.equal(response.status, 200);
    });

    it('serves concurrent connections', async () => {
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => get(address, `/c${i}`)));
      assert.deepEqual(
        responses.map((response) => response.headers[1]?.[1]),
        Array.from({ length: 20 }, (_, i) => `/c${i}`),
      );
    });
  });
}

/** A raw FastCGI connection, for what the one-shot client never does (keep-conn, multiplexing, GET_VALUES). */
class RawConnection {
  private readonly parser = new RecordParser();
  readonly records: FastCGIRecord[] = [];
  ended = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.records.push(...this.parser.push(chunk)));
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => {});
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawConnection(socket);
  }

  sendRequest(id: number, flags: number, uri: string): void {
    this.socket.write(
      Buffer.concat([
        encodeBeginRequest(id, Role.RESPONDER, flags),
        ...encodeStream(RecordType.PARAMS, id, encodeNameValuePairs([['REQUEST_URI', uri]])),
        ...encodeStream(RecordType.STDIN, id, Buffer.alloc(0)),
      ]),
    );
  }

  endRequests(): FastCGIRecord[] {
    return this.records.filter((record) => record.type === RecordType.END_REQUEST);
  }
}

describe('responder connection handling', () => {
  let running: RunningResponder;
  let port: number;
  const release: Array<() => void> = [];
  /** Requests to /hold wait until the test releases them. */
  const handler: ResponderHandler = async ({ params }) => {
    if (params.REQUEST_URI === '/hold') await new Promise<void>((resolve) => release.push(resolve));
    if (params.REQUEST_URI === '/throw') throw new Error('handler exploded');
    return { headers: { 'Content-Type': 'text/plain' }, body: `uri=${params.REQUEST_URI ?? ''}` };
  };
  before(async () => {
    running = await startResponder({ host: '127.0.0.1' }, handler);
    port = portOf(running.responder.server);
  });
  after(() => running.responder.close());

  it('keeps the connection for another request with FCGI_KEEP_CONN, closes it without', async () => {
    const connection = await RawConnection.open(port);
    connection.sendRequest(1, FCGI_KEEP_CONN, '/one');
    await waitFor('the first END_REQUEST', () => connection.endRequests().length === 1, 5000);
    connection.sendRequest(2, 0, '/two');
    await waitFor('the connection to close', () => connection.ended, 5000);
    const stdout = connection.records.filter((r) => r.type === RecordType.STDOUT && r.content.length > 0);
    assert.deepEqual(
      stdout.map((r) => [r.requestId, r.content.toString().split('\r\n\r\n')[1]]),
      [
        [1, 'uri=/one'],
        [2, 'uri=/two'],
      ],
    );
  });

  it('refuses a second request on a busy connection with FCGI_CANT_MPX_CONN', async () => {
    const connection = await RawConnection.open(port);
    connection.sendRequest(1, FCGI_KEEP_CONN, '/hold');
    await waitFor('the handler to hold the request', () => release.length === 1, 5000);
    connection.sendRequest(2, 0, '/two');
    await waitFor('the refusal', () => connection.endRequests().length === 1, 5000);
    const refusal = connection.endRequests()[0];
    assert.equal(refusal?.requestId, 2);
    assert.equal(decodeEndRequest(refusal?.content ?? Buffer.alloc(0)).protocolStatus, ProtocolStatus.CANT_MPX_CONN);
    release.shift()?.();
    await waitFor('the held answer', () => connection.endRequests().length === 2, 5000);
    connection.socket.destroy();
  });

  it('answers GET_VALUES and an unknown management record', async () => {
    const connection = await RawConnection.open(port);
    connection.socket.write(
      Buffer.concat([
        encodeRecord(RecordType.GET_VALUES, 0, encodeNameValuePairs([['FCGI_MPXS_CONNS', '']])),
        encodeRecord(42, 0),
      ]),
    );
    await waitFor('two answers', () => connection.records.length === 2, 5000);
    const [values, unknown] = connection.records;
    assert.equal(values?.type, RecordType.GET_VALUES_RESULT);
    assert.deepEqual(decodeNameValuePairs(values?.content ?? Buffer.alloc(0)), [['FCGI_MPXS_CONNS', '0']]);
    assert.equal(unknown?.type, RecordType.UNKNOWN_TYPE);
    assert.equal(unknown?.content[0], 42);
    connection.socket.destroy();
  });

  it('answers 500 with appStatus 1 when the handler throws, and reports the error', async () => {
    const response = await request({
      address: { kind: 'tcp', host: '127.0.0.1', port },
      params: { REQUEST_URI: '/throw' },
      timeoutMs: 5000,
    });
    assert.equal(response.status, 500);
    assert.equal(response.appStatus, 1);
    assert.equal(response.stderr, 'handler exploded');
    assert.ok(running.errors.some((error) => /handler exploded/.test(error.message)));
  });

  it('drops a connection that sends garbage', async () => {
    const connection = await RawConnection.open(port);
    connection.socket.write('GET / HTTP/1.1\r\n\r\n');
    await waitFor('the connection to close', () => connection.socket.destroyed || connection.ended, 5000);
    assert.ok(running.errors.some((error) => /malformed FastCGI/.test(error.message)));
  });
});

describe('responder close()', () => {
  it('stops accepting, closes idle kept-alive connections and lets requests in flight finish', async () => {
    let releaseHeld: (() => void) | undefined;
    const { responder } = await startResponder({ host: '127.0.0.1' }, async ({ params }) => {
      if (params.REQUEST_URI === '/hold') await new Promise<void>((resolve) => (releaseHeld = resolve));
      return { body: 'done' };
    });
    const port = portOf(responder.server);
    const idle = await RawConnection.open(port);
    idle.sendRequest(1, FCGI_KEEP_CONN, '/quick');
    await waitFor('the kept-alive answer', () => idle.endRequests().length === 1, 5000);
    const busy = request({ address: { kind: 'tcp', host: '127.0.0.1', port }, params: { REQUEST_URI: '/hold' }, timeoutMs: 5000 });
    await waitFor('the held request', () => releaseHeld !== undefined, 5000);

    let closed = false;
    const closing = responder.close().then(() => (closed = true));
    await waitFor('the idle connection to be closed', () => idle.ended, 5000);
    await assert.rejects(
      request({ address: { kind: 'tcp', host: '127.0.0.1', port }, params: {}, timeoutMs: 5000 }),
      (error: unknown) => error instanceof RequestError && error.kind === 'refused',
    );
    assert.equal(closed, false);

    releaseHeld?.();
    assert.equal((await busy).body.toString(), 'done');
    await closing;
    idle.socket.destroy();
  });
});

describe('client errors', () => {
  it('reports a server that closes without END_REQUEST as a protocol error', async () => {
    const server = net.createServer((socket) => socket.end());
    await listen(server, { host: '127.0.0.1' });
    try {
      await assert.rejects(
        request({ address: { kind: 'tcp', host: '127.0.0.1', port: portOf(server) }, params: {}, timeoutMs: 5000 }),
        (error: unknown) =>
          error instanceof RequestError && error.kind === 'protocol' && /closed the connection before/.test(error.message),
      );
    } finally {
      server.close();
    }
  });

  it('reports an END_REQUEST with FCGI_OVERLOADED as a protocol error naming it', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end(encodeRecord(RecordType.END_REQUEST, 1, Buffer.from([0, 0, 0, 0, 2, 0, 0, 0])));
    });
    await listen(server, { host: '127.0.0.1' });
    try {
      await assert.rejects(
        request({ address: { kind: 'tcp', host: '127.0.0.1', port: portOf(server) }, params: {}, timeoutMs: 5000 }),
        /FCGI_OVERLOADED \(2\)/,
      );
    } finally {
      server.close();
    }
  });
});
