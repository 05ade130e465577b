/**
 * `fcgi-spawn probe ADDRESS [PATH]`: one GET request, as a web server would send it, in FastCGI, HTTP or SCGI;
 * for health checks. Imports only the client of the protocol used, so that a probe costs little more than
 * starting Node.
 */
import net from 'node:net';
import { RequestError, formatAddress, type ProbeAddress } from '../probe/exchange.js';
import type { ProbeProtocol, ProbeRequest, ProbeResponse } from '../probe/types.js';

/** Never reuse a code for another meaning: scripts test these. */
export const PROBE_EXIT_CODES = {
  /** The application answered 2xx or 3xx (no Status header means 200). */
  ok: 0,
  /** The application answered any other status. */
  status: 1,
  /** Bad address, path, param or timeout. */
  usage: 2,
  /** No connection: refused, no socket at the path, unreachable. */
  refused: 3,
  /** No complete answer within the timeout. */
  timeout: 4,
  /** The answer is not valid in the protocol spoken, or the connection closed before its end. */
  protocol: 5,
} as const;

export type ProbeExitCode = (typeof PROBE_EXIT_CODES)[keyof typeof PROBE_EXIT_CODES];

export interface ProbeOptions {
  /** Deadline for the whole request, connecting included. */
  readonly timeoutMs: number;
  /** Writes its argument to stdout as is: it carries its own newlines (and the body may end without one). */
  readonly print: (s: string) => void;
  /** Writes its argument to stderr as is; each fcgi-spawn message is one line ending in '\n'. */
  readonly printError: (s: string) => void;
  /** Extra params (--param KEY=VALUE); they override the defaults of the same name. FastCGI and SCGI only. */
  readonly params?: Readonly<Record<string, string>>;
  /** The protocol to speak; undefined: defaultProtocol's answer, else FastCGI. */
  readonly protocol?: ProbeProtocol;
  /** What the pool at this address serves, when something records it (the instance record). */
  readonly defaultProtocol?: (address: ProbeAddress) => ProbeProtocol | undefined;
}

const PREFIX = 'fcgi-spawn: probe: ';
const MAX_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout's limit; longer delays fire at once
const MAX_UNIX_PATH_BYTES = 107; // sun_path is 108 bytes with the terminating NUL

/** Bad input to the probe (address, path, timeout, param): exit code 2. */
export class ProbeUsageError extends Error {
  override readonly name = 'ProbeUsageError';
}

function invalidAddress(value: string): ProbeUsageError {
  // A bare file name is read as a host: a socket in the current directory needs a '/'.
  const hint = value === '' || value.includes(':') ? '' : ` (./${value} for a socket in the current directory)`;
  return new ProbeUsageError(`invalid address '${value}': expected HOST:PORT, [IPV6]:PORT or a Unix socket path${hint}`);
}

function parsePort(text: string, value: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw invalidAddress(value);
  return port;
}

/** `host:port`, `[v6]:port`, or a Unix socket path (anything containing '/'). */
export function parseProbeAddress(value: string): ProbeAddress {
  if (value.includes('/')) {
    if (Buffer.byteLength(value) > MAX_UNIX_PATH_BYTES) {
      throw new ProbeUsageError(`invalid address '${value}': a Unix socket path is at most ${MAX_UNIX_PATH_BYTES} bytes`);
    }
    return { kind: 'unix', path: value };
  }
  const v6 = /^\[([^\]]+)\]:([^:]*)$/.exec(value);
  if (v6?.[1] !== undefined && v6[2] !== undefined) {
    if (!net.isIPv6(v6[1])) throw invalidAddress(value);
    return { kind: 'tcp', host: v6[1], port: parsePort(v6[2], value) };
  }
  const v4 = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([^:]*)$/.exec(value);
  if (v4?.[1] === undefined || v4[2] === undefined) throw invalidAddress(value);
  return { kind: 'tcp', host: v4[1], port: parsePort(v4[2], value) };
}

function parsePath(value: string): { readonly path: string; readonly query: string } {
  // Control characters would end up in REQUEST_URI and in the output; no web server would send them.
  if (!value.startsWith('/') || /[\x00-\x20\x7f]/.test(value)) {
    throw new ProbeUsageError(`invalid path '${value}': expected an absolute path such as / or /srv/www/index.php?a=1`);
  }
  const question = value.indexOf('?');
  if (question === -1) return { path: value, query: '' };
  return { path: value.slice(0, question), query: value.slice(question + 1) };
}

function checkTimeout(timeoutMs: number): void {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new ProbeUsageError(`invalid timeout '${timeoutMs}': expected whole milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
  }
}

function checkParams(params: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(params)) {
    if (name === '' || /[=\x00-\x20\x7f]/.test(name)) {
      throw new ProbeUsageError(`invalid param name '${name}': expected a non-empty name without '=', spaces or controls`);
    }
  }
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 400;
}

/** The status line, the headers, an empty line, the body: the response as the application meant it. */
function formatResponse(response: ProbeResponse): string {
  const headers = response.headers.map(([name, value]) => `${name}: ${value}\n`).join('');
  return `${response.statusLine}\n${headers}\n${response.body.toString('utf8')}`;
}

const SERVER = { fastcgi: 'a FastCGI server', http: 'an HTTP server', scgi: 'an SCGI server' } as const;
const NAME = { fastcgi: 'FastCGI', http: 'HTTP', scgi: 'SCGI' } as const;

function hintFor(error: RequestError, protocol: ProbeProtocol): string {
  if (error.kind === 'refused') return `; is ${SERVER[protocol]} listening there?`;
  if (error.kind !== 'protocol' || !error.message.includes('sent a malformed answer')) return '';
  if (protocol !== 'http' && error.message.includes('"HTTP/')) return `; that is an HTTP server, not ${NAME[protocol]} (--protocol http)`;
  return `; if it is not ${SERVER[protocol]}, pass --protocol fastcgi, http or scgi`;
}

/** Loaded on use: a probe pays for its own protocol only. */
function clientFor(protocol: ProbeProtocol): Promise<{ send(request: ProbeRequest): Promise<ProbeResponse> }> {
  switch (protocol) {
    case 'fastcgi':
      return import('../probe/fastcgi-probe.js');
    case 'http':
      return import('../probe/http-probe.js');
    case 'scgi':
      return import('../probe/scgi-probe.js');
  }
}

export async function runProbe(address: string, path: string | undefined, options: ProbeOptions): Promise<number> {
  const uri = path ?? '/';
  let probe: ProbeRequest;
  let protocol: ProbeProtocol;
  try {
    checkTimeout(options.timeoutMs);
    const target = parseProbeAddress(address);
    const params = options.params ?? {};
    checkParams(params);
    protocol = options.protocol ?? options.defaultProtocol?.(target) ?? 'fastcgi';
    if (protocol === 'http' && Object.keys(params).length > 0) {
      throw new ProbeUsageError(`--param ${Object.keys(params)[0]}=…: HTTP has no CGI parameters; --param is for --protocol fastcgi and scgi`);
    }
    probe = { address: target, uri, ...parsePath(uri), params, timeoutMs: options.timeoutMs };
  } catch (error) {
    if (!(error instanceof ProbeUsageError)) throw error;
    options.printError(`${PREFIX}${error.message}\n`);
    return PROBE_EXIT_CODES.usage;
  }

  let response: ProbeResponse;
  try {
    response = await (await clientFor(protocol)).send(probe);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    options.printError(`${PREFIX}${error.message}${hintFor(error, protocol)}\n`);
    return PROBE_EXIT_CODES[error.kind];
  }

  options.print(formatResponse(response));
  if (response.stderr) options.printError(response.stderr.endsWith('\n') ? response.stderr : `${response.stderr}\n`);
  if (isSuccess(response.status)) return PROBE_EXIT_CODES.ok;
  options.printError(`${PREFIX}${formatAddress(probe.address)} answered status ${response.status} for ${uri}\n`);
  return PROBE_EXIT_CODES.status;
}
