/**
 * A minimal FastCGI responder for Node workers: listen on the socket fcgi-spawn hands over (fd 0 by default),
 * call a handler per request, answer with a CGI response.
 * One request at a time per connection (FCGI_MPXS_CONNS=0); connections themselves are served concurrently.
 */
import net from 'node:net';
import { formatCgiHead, type CgiHeaders } from './cgi.js';
import {
  FCGI_KEEP_CONN,
  ProtocolError,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeBeginRequest,
  decodeNameValuePairs,
  encodeEndRequest,
  encodeNameValuePairs,
  encodeRecord,
  encodeStream,
  type FastCGIRecord,
} from './protocol.js';

export interface ResponderRequest {
  /** The FastCGI params (CGI meta-variables); a null-prototype object, so only sent names are present. */
  readonly params: Readonly<Record<string, string>>;
  /** The request body (FCGI_STDIN). */
  readonly stdin: Buffer;
}

export interface ResponderResponse {
  /** Default 200. */
  readonly status?: number;
  readonly headers?: CgiHeaders;
  readonly body?: string | Buffer;
  /** Sent as FCGI_STDERR: web servers log it. */
  readonly stderr?: string;
  /** Called once the whole answer has been handed to the kernel, e.g. to exit after answering. */
  readonly onSent?: () => void;
}

export type ResponderHandler = (request: ResponderRequest) => ResponderResponse | Promise<ResponderResponse>;

export interface ServeOptions {
  /** The inherited listening socket; default 0 (the FastCGI convention). Ignored when server is given. */
  readonly fd?: number;
  /** A server to serve on instead (listening already or later), e.g. one listening on a port in tests. */
  readonly server?: net.Server;
  readonly handler: ResponderHandler;
  /** Handler failures, malformed input, accept errors. Default: one line on stderr. */
  readonly onError?: (error: Error) => void;
}

export interface FastCGIResponder {
  readonly server: net.Server;
  /** Resolves once the server listens; rejects when the fd is not a usable listening socket. */
  readonly ready: Promise<void>;
  /** Stops accepting, closes idle kept-alive connections, lets requests in flight finish. */
  close(): Promise<void>;
}

type Phase = 'params' | 'stdin' | 'handling';

interface ActiveRequest {
  readonly id: number;
  readonly keepConn: boolean;
  phase: Phase;
  readonly params: Buffer[];
  readonly stdin: Buffer[];
}

interface ConnectionContext {
  readonly handler: ResponderHandler;
  readonly onError: (error: Error) => void;
}

function defaultOnError(error: Error): void {
  process.stderr.write(`fastcgi responder: ${error.message}\n`);
}

function toBuffer(body: string | Buffer | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

function toParams(data: Buffer): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of decodeNameValuePairs(data)) params[name] = value;
  return params;
}

/** The records that answer one request: STDERR (if any), STDOUT, END_REQUEST. */
function answerBytes(id: number, response: ResponderResponse, appStatus: number): Buffer {
  const stdout = Buffer.concat([formatCgiHead(response.status ?? 200, response.headers), toBuffer(response.body)]);
  const stderr = response.stderr ? encodeStream(RecordType.STDERR, id, Buffer.from(response.stderr, 'utf8')) : [];
  return Buffer.concat([
    ...stderr,
    ...encodeStream(RecordType.STDOUT, id, stdout),
    encodeEndRequest(id, appStatus, ProtocolStatus.REQUEST_COMPLETE),
  ]);
}

function failureAnswer(id: number, error: unknown): Buffer {
  const message = error instanceof Error ? error.message : String(error);
  const response = { status: 500, headers: { 'Content-Type': 'text/plain' }, body: 'internal error\n', stderr: message };
  return answerBytes(id, response, 1);
}

/** GET_VALUES: we only know that connections are not multiplexed. */
function getValuesResult(content: Buffer): Buffer {
  const asked = decodeNameValuePairs(content).map(([name]) => name);
  const known = asked.includes('FCGI_MPXS_CONNS') ? [['FCGI_MPXS_CONNS', '0'] as const] : [];
  return encodeRecord(RecordType.GET_VALUES_RESULT, 0, encodeNameValuePairs(known));
}

function unknownTypeRecord(type: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt8(type, 0);
  return encodeRecord(RecordType.UNKNOWN_TYPE, 0, body);
}

class Connection {
  private readonly parser = new RecordParser();
  private active: ActiveRequest | undefined;
  private servedAny = false;
  private peerEnded = false;
  private shuttingDown = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly context: ConnectionContext,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onPeerEnd());
    // Resets by the peer (a web server giving up) are routine; 'close' follows and the request is dropped.
    socket.on('error', () => {});
  }

  /**
   * Server shutdown. A connection that has served a request and holds none is a kept-alive idle one: close it.
   * A fresh connection may have its request on the way: serve it first, then close.
   */
  shutdown(): void {
    this.shuttingDown = true;
    if (this.active === undefined && this.servedAny) this.socket.end();
  }

  private onPeerEnd(): void {
    this.peerEnded = true;
    if (this.active === undefined) this.socket.end();
  }

  private onData(chunk: Buffer): void {
    try {
      for (const record of this.parser.push(chunk)) this.onRecord(record);
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.context.onError(new ProtocolError(`dropping a connection that sent malformed FastCGI: ${message}`));
    this.socket.destroy();
  }

  private onRecord(record: FastCGIRecord): void {
    if (record.requestId === 0) return this.onManagement(record);
    if (record.type === RecordType.BEGIN_REQUEST) return this.onBegin(record);
    const request = this.active;
    // The specification says to ignore records for requests that are not active.
    if (request === undefined || record.requestId !== request.id) return;
    switch (record.type) {
      case RecordType.ABORT_REQUEST:
        return this.finish(request, encodeEndRequest(request.id, 0, ProtocolStatus.REQUEST_COMPLETE));
      case RecordType.PARAMS:
        return this.onParams(request, record.content);
      case RecordType.STDIN:
        return this.onStdin(request, record.content);
      case RecordType.DATA:
        return; // FILTER role only
      default:
        throw new ProtocolError(`record type ${record.type} from the web server: expected a request record`);
    }
  }

  private onManagement(record: FastCGIRecord): void {
    const answer =
      record.type === RecordType.GET_VALUES ? getValuesResult(record.content) : unknownTypeRecord(record.type);
    this.socket.write(answer);
  }

  private onBegin(record: FastCGIRecord): void {
    const begin = decodeBeginRequest(record.content);
    if (this.active !== undefined) {
      if (record.requestId === this.active.id) {
        throw new ProtocolError(`second FCGI_BEGIN_REQUEST for active request id ${record.requestId}`);
      }
      this.socket.write(encodeEndRequest(record.requestId, 0, ProtocolStatus.CANT_MPX_CONN));
      return;
    }
    const keepConn = (begin.flags & FCGI_KEEP_CONN) !== 0;
    if (begin.role !== Role.RESPONDER) {
      const refusal = encodeEndRequest(record.requestId, 0, ProtocolStatus.UNKNOWN_ROLE);
      if (keepConn) this.socket.write(refusal);
      else this.socket.end(refusal);
      return;
    }
    this.active = { id: record.requestId, keepConn, phase: 'params', params: [], stdin: [] };
  }

  private onParams(request: ActiveRequest, content: Buffer): void {
    if (request.phase !== 'params') throw new ProtocolError('FCGI_PARAMS after the params stream ended');
    if (content.length > 0) request.params.push(content);
    else request.phase = 'stdin';
  }

  private onStdin(request: ActiveRequest, content: Buffer): void {
    if (request.phase !== 'stdin') {
      throw new ProtocolError(`FCGI_STDIN while the request is in phase '${request.phase}': expected after FCGI_PARAMS`);
    }
    if (content.length > 0) {
      request.stdin.push(content);
      return;
    }
    request.phase = 'handling';
    const params = toParams(Buffer.concat(request.params));
    void this.respond(request, { params, stdin: Buffer.concat(request.stdin) });
  }

  private async respond(request: ActiveRequest, input: ResponderRequest): Promise<void> {
    let answer: Buffer;
    let onSent: (() => void) | undefined;
    try {
      const response = await this.context.handler(input);
      answer = answerBytes(request.id, response, 0);
      onSent = response.onSent;
    } catch (error) {
      this.context.onError(new Error(`handler failed: ${error instanceof Error ? error.message : String(error)}`));
      answer = failureAnswer(request.id, error);
    }
    // Aborted, or the connection is gone: nobody is waiting for this answer.
    if (this.active !== request || this.socket.destroyed) return;
    this.finish(request, answer, onSent);
  }

  private finish(request: ActiveRequest, answer: Buffer, onSent?: () => void): void {
    this.active = undefined;
    this.servedAny = true;
    const done = (): void => onSent?.();
    if (request.keepConn && !this.shuttingDown && !this.peerEnded) this.socket.write(answer, done);
    else this.socket.end(answer, done);
  }
}

function listenError(fd: number, error: NodeJS.ErrnoException): Error {
  return new Error(
    `unable to listen on inherited fd ${fd}: ${error.code ?? error.message}; ` +
      'expected a listening socket there (start the worker with fcgi-spawn)',
  );
}

/** Resolves when the server listens; listens on the fd unless the caller brought a server. */
function whenListening(server: net.Server, options: ServeOptions, onError: (error: Error) => void): Promise<void> {
  const fd = options.fd ?? 0;
  return new Promise((resolve, reject) => {
    let listening = server.listening;
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (listening) onError(error);
      else reject(options.server ? error : listenError(fd, error));
    });
    server.on('listening', () => {
      listening = true;
      resolve();
    });
    if (listening) resolve();
    else if (!options.server) server.listen({ fd });
  });
}

export function serveFastCGI(options: ServeOptions): FastCGIResponder {
  // allowHalfOpen: a client may shut down its sending side after the request and still wait for the answer.
  const server = options.server ?? net.createServer({ allowHalfOpen: true });
  const onError = options.onError ?? defaultOnError;
  const connections = new Set<Connection>();
  let closed: Promise<void> | undefined;

  server.on('connection', (socket: net.Socket) => {
    const connection = new Connection(socket, { handler: options.handler, onError });
    connections.add(connection);
    socket.on('close', () => connections.delete(connection));
    if (closed) connection.shutdown();
  });
  const ready = whenListening(server, options, onError);

  const close = (): Promise<void> => {
    // server.close() calls back once the last connection has closed.
    closed ??= new Promise((resolve) => server.close(() => resolve()));
    for (const connection of connections) connection.shutdown();
    return closed;
  };
  return { server, ready, close };
}
