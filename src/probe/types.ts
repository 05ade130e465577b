/** What every protocol of `fcgi-spawn probe` is given and gives back. */
import type { ProbeAddress } from './exchange.js';
import type { HeaderList } from './http-response.js';

export const PROBE_PROTOCOLS = ['fastcgi', 'http', 'scgi'] as const;
export type ProbeProtocol = (typeof PROBE_PROTOCOLS)[number];

export interface ProbeRequest {
  readonly address: ProbeAddress;
  /** As typed: `/index.php?a=1`. */
  readonly uri: string;
  /** The uri up to `?`, and what follows it. */
  readonly path: string;
  readonly query: string;
  /** --param KEY=VALUE: CGI variables that override the defaults (FastCGI and SCGI only). */
  readonly params: Readonly<Record<string, string>>;
  /** Deadline for the whole request, connecting included. */
  readonly timeoutMs: number;
}

export interface ProbeResponse {
  /** Printed first: `Status: 404 Not Found` (CGI) or `HTTP/1.1 404 Not Found`. */
  readonly statusLine: string;
  readonly status: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
  /** What the application wrote to FCGI_STDERR (FastCGI only). */
  readonly stderr: string;
}

/** CGI variables a web server sends for `GET PATH` whatever the gateway protocol; the caller adds its own. */
export function cgiVariables(request: ProbeRequest): Record<string, string> {
  const { address } = request;
  return {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: 'GET',
    REQUEST_URI: request.uri,
    QUERY_STRING: request.query,
    DOCUMENT_URI: request.path,
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'fcgi-spawn-probe',
    // A Unix socket has no host or port; name the local host and port 0 rather than invent one.
    SERVER_NAME: address.kind === 'tcp' ? address.host : 'localhost',
    SERVER_PORT: address.kind === 'tcp' ? String(address.port) : '0',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '0',
  };
}

/** `Status: 404 Not Found`: a CGI response's status, as the application put it. */
export function cgiStatusLine(status: number, statusText: string): string {
  return `Status: ${status}${statusText ? ` ${statusText}` : ''}`;
}
