/**
 * One request on one connection, whatever the protocol: connect, write the request, feed what comes back to a
 * parser until it has a whole response, with one deadline over all of it. The FastCGI, HTTP and SCGI clients of
 * `fcgi-spawn probe` are this plus their wire format, so each fails the same way with a kind a caller can map to
 * an exit code. Only node:net: a health check run many times a minute loads nothing it does not use.
 */
import net from 'node:net';
import { getSystemErrorMap } from 'node:util';

export type ProbeAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/**
 * `127.0.0.1:9000`, `[::1]:9000` or the socket path: the forms a user types. Of IPv4 literals, IPv6 literals and
 * host names only IPv6 has a ':'. Not net.isIPv6: its first call compiles Node's IPv6 regular expression, 10.6 M
 * instructions (callgrind: 99.9 M against 89.3 M for a script that calls net.isIPv4), a tenth of a `probe`.
 */
export function formatAddress(address: ProbeAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
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

/** A wire format's reading side: fed every chunk as it arrives, it answers once it holds a whole response. */
export interface ResponseReader<T> {
  /** The response once complete, else undefined; throws (any Error) on bytes that break the protocol. */
  push(chunk: Buffer): T | undefined;
  /** The peer closed: the response if the close completes it (a body that runs to the end), else undefined. */
  end(): T | undefined;
}

export interface ExchangeOptions<T> {
  readonly address: ProbeAddress;
  readonly request: Buffer;
  readonly reader: ResponseReader<T>;
  /** Deadline for the whole exchange, connecting included. */
  readonly timeoutMs: number;
  /** What a complete answer is called in messages: `FCGI_END_REQUEST`, `the end of the response`. */
  readonly end: string;
}

/** `ECONNREFUSED (connection refused)`. */
function describeErrno(error: NodeJS.ErrnoException): string {
  const code = error.code ?? 'error';
  const text = typeof error.errno === 'number' ? getSystemErrorMap().get(error.errno)?.[1] : undefined;
  return text ? `${code} (${text})` : `${code} (${error.message})`;
}

function connect(address: ProbeAddress): net.Socket {
  return address.kind === 'unix'
    ? net.createConnection({ path: address.path })
    : net.createConnection({ host: address.host, port: address.port });
}

/** Sends one request and resolves with the response; rejects with a RequestError. Always destroys the socket. */
export function exchange<T>(options: ExchangeOptions<T>): Promise<T> {
  const where = formatAddress(options.address);
  return new Promise((resolve, reject) => {
    const socket = connect(options.address);
    let connected = false;
    let settled = false;
    const settle = (outcome: T | RequestError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof RequestError) reject(outcome);
      else resolve(outcome);
    };
    const fail = (error: unknown): void => {
      const detail = error instanceof Error ? error.message : String(error);
      settle(new RequestError('protocol', `${where} sent a malformed answer: ${detail}`));
    };
    const timer = setTimeout(() => {
      const phase = connected ? `connected, waiting for ${options.end}` : 'still connecting';
      settle(new RequestError('timeout', `no answer from ${where} within ${options.timeoutMs} ms (${phase})`));
    }, options.timeoutMs);

    socket.once('connect', () => {
      connected = true;
      socket.write(options.request);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        const response = options.reader.push(chunk);
        if (response !== undefined) settle(response);
      } catch (error) {
        fail(error);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!connected) return settle(new RequestError('refused', `unable to connect to ${where}: ${describeErrno(error)}`, error.code));
      settle(new RequestError('protocol', `connection to ${where} failed before ${options.end}: ${describeErrno(error)}`, error.code));
    });
    socket.on('close', () => {
      try {
        const response = options.reader.end();
        if (response !== undefined) return settle(response);
      } catch (error) {
        return fail(error);
      }
      settle(new RequestError('protocol', `${where} closed the connection before ${options.end}`));
    });
  });
}
