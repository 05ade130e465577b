/**
 * A one-shot FastCGI client: one connection, one RESPONDER request, the CGI response.
 * Made for health checks (`fcgi-spawn probe`), so it fails with a kind a caller can map to an exit code.
 */
import net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { parseCgiResponse, type CgiResponse } from './cgi.js';
import {
  ProtocolError,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeEndRequest,
  encodeBeginRequest,
  encodeNameValuePairs,
  encodeStream,
  protocolStatusName,
  type FastCGIRecord,
} from './protocol.js';

export type FastCGIAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** `127.0.0.1:9000`, `[::1]:9000` or the socket path: the forms a user types. */
export function formatAddress(address: FastCGIAddress): string {
  if (address.kind === 'unix') return address.path;
  return net.isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** refused: no connection (refused, no such socket, unreachable); timeout: the deadline passed; protocol: bad answer. */
export type RequestErrorKind = 'refused' | 'timeout' | 'protocol';

export class RequestError extends Error {
  override readonly name = 'RequestError';

  constructor(
    readonly kind: RequestErrorKind,
    message: string,
    /** The errno name (ECONNREFUSED, ENOENT, ECONNRESET) when the socket reported one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  readonly address: FastCGIAddress;
  /** Sent as given, in this order; the caller sets CONTENT_LENGTH to match body. */
  readonly params: Readonly<Record<string, string>>;
  /** FCGI_STDIN; empty when absent. */
  readonly body?: Buffer;
  /** Deadline for the whole exchange, connecting included. */
  readonly timeoutMs: number;
}

export interface FastCGIResponse extends CgiResponse {
  /** What the application wrote to FCGI_STDERR. */
  readonly stderr: string;
  /** The application's status from FCGI_END_REQUEST (an exit code for CGI wrappers such as fcgiwrap). */
  readonly appStatus: number;
}

const REQUEST_ID = 1;

function requestBytes(options: RequestOptions): Buffer {
  const params = encodeNameValuePairs(Object.entries(options.params));
  return Buffer.concat([
    // flags 0: no FCGI_KEEP_CONN, so the application closes the connection after answering.
    encodeBeginRequest(REQUEST_ID, Role.RESPONDER, 0),
    ...encodeStream(RecordType.PARAMS, REQUEST_ID, params),
    ...encodeStream(RecordType.STDIN, REQUEST_ID, options.body ?? Buffer.alloc(0)),
  ]);
}

function connect(address: FastCGIAddress): net.Socket {
  return address.kind === 'unix'
    ? net.createConnection({ path: address.path })
    : net.createConnection({ host: address.host, port: address.port });
}

/** `ECONNREFUSED (connection refused)`. */
function describeErrno(error: NodeJS.ErrnoException): string {
  const code = error.code ?? 'error';
  const text = typeof error.errno === 'number' ? getSystemErrorMap().get(error.errno)?.[1] : undefined;
  return text ? `${code} (${text})` : `${code} (${error.message})`;
}

function socketError(where: string, error: NodeJS.ErrnoException, connected: boolean): RequestError {
  if (!connected) {
    return new RequestError('refused', `unable to connect to ${where}: ${describeErrno(error)}`, error.code);
  }
  return new RequestError(
    'protocol',
    `connection to ${where} failed before FCGI_END_REQUEST: ${describeErrno(error)}`,
    error.code,
  );
}

function timeoutError(where: string, timeoutMs: number, connected: boolean): RequestError {
  const phase = connected ? 'connected, no FCGI_END_REQUEST yet' : 'still connecting';
  return new RequestError('timeout', `no answer from ${where} within ${timeoutMs} ms (${phase})`);
}

function protocolError(where: string, error: unknown): RequestError {
  const detail = error instanceof Error ? error.message : String(error);
  return new RequestError('protocol', `${where} sent a malformed answer: ${detail}`);
}

/** Collects one request's output; returns the response once FCGI_END_REQUEST arrives. */
class ResponseCollector {
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];

  accept(record: FastCGIRecord): FastCGIResponse | undefined {
    // Management records (request id 0) answer questions we never ask; nothing in them concerns us.
    if (record.requestId === 0) return undefined;
    if (record.requestId !== REQUEST_ID) {
      throw new ProtocolError(`record for request id ${record.requestId}: expected ${REQUEST_ID}`);
    }
    switch (record.type) {
      case RecordType.STDOUT:
        this.stdout.push(record.content);
        return undefined;
      case RecordType.STDERR:
        this.stderr.push(record.content);
        return undefined;
      case RecordType.END_REQUEST:
        return this.finish(record.content);
      default:
        throw new ProtocolError(`record type ${record.type}: expected FCGI_STDOUT, FCGI_STDERR or FCGI_END_REQUEST`);
    }
  }

  private finish(content: Buffer): FastCGIResponse {
    const end = decodeEndRequest(content);
    if (end.protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) {
      throw new ProtocolError(`the application refused the request: ${protocolStatusName(end.protocolStatus)}`);
    }
    return {
      ...parseCgiResponse(Buffer.concat(this.stdout)),
      stderr: Buffer.concat(this.stderr).toString('utf8'),
      appStatus: end.appStatus,
    };
  }
}

/** Sends one request and resolves with the response; rejects with a RequestError. Always destroys the socket. */
export function request(options: RequestOptions): Promise<FastCGIResponse> {
  const where = formatAddress(options.address);
  return new Promise((resolve, reject) => {
    const socket = connect(options.address);
    const parser = new RecordParser();
    const collector = new ResponseCollector();
    let connected = false;
    let settled = false;
    const settle = (outcome: FastCGIResponse | RequestError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof RequestError) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(() => settle(timeoutError(where, options.timeoutMs, connected)), options.timeoutMs);

    socket.once('connect', () => {
      connected = true;
      socket.write(requestBytes(options));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const record of parser.push(chunk)) {
          const response = collector.accept(record);
          if (response) return settle(response);
        }
      } catch (error) {
        settle(protocolError(where, error));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => settle(socketError(where, error, connected)));
    socket.on('close', () => {
      settle(new RequestError('protocol', `${where} closed the connection before FCGI_END_REQUEST`));
    });
  });
}
