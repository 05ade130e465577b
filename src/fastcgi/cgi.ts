/**
 * The CGI response carried in FastCGI STDOUT (RFC 3875 section 6): header lines, an empty line, the body.
 * The Status header sets the status; without it a Location header means 302 and anything else 200.
 */
import { ProtocolError } from './protocol.js';

export type HeaderList = ReadonlyArray<readonly [string, string]>;

export interface CgiResponse {
  readonly status: number;
  /** The reason phrase after the code in the Status header; '' when the application sent none. */
  readonly statusText: string;
  /** In the order sent, names as sent, without the Status header (it is not an HTTP header). */
  readonly headers: HeaderList;
  readonly body: Buffer;
}

/** Header values may repeat (Set-Cookie): give an array. */
export type CgiHeaders = Readonly<Record<string, string | readonly string[]>>;

interface HeadLine {
  readonly line: string;
  readonly next: number;
}

/** Lines end in LF; many CGI scripts omit the CR. */
function readLine(data: Buffer, offset: number): HeadLine | undefined {
  const newline = data.indexOf(0x0a, offset);
  if (newline === -1) return undefined;
  const end = newline > offset && data[newline - 1] === 0x0d ? newline - 1 : newline;
  return { line: data.toString('latin1', offset, end), next: newline + 1 };
}

function parseHeaderLine(line: string): [string, string] {
  const colon = line.indexOf(':');
  if (colon <= 0) {
    throw new ProtocolError(`CGI header line ${JSON.stringify(line)}: expected NAME: VALUE`);
  }
  return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
}

function parseStatus(value: string): [number, string] {
  const match = /^([1-9]\d\d)(?:\s+(.*))?$/.exec(value);
  if (!match?.[1]) {
    throw new ProtocolError(`CGI Status header ${JSON.stringify(value)}: expected a 3-digit code and a reason`);
  }
  return [Number(match[1]), match[2] ?? ''];
}

function statusFrom(status: string | undefined, headers: HeaderList): [number, string] {
  if (status !== undefined) return parseStatus(status);
  const redirects = headers.some(([name]) => name.toLowerCase() === 'location');
  return redirects ? [302, ''] : [200, ''];
}

export function parseCgiResponse(stdout: Buffer): CgiResponse {
  const headers: Array<[string, string]> = [];
  let status: string | undefined;
  let offset = 0;
  for (;;) {
    const head = readLine(stdout, offset);
    if (!head) {
      const what = stdout.length === 0 ? 'the application sent no output' : 'the headers never end';
      throw new ProtocolError(`CGI response: ${what}; expected header lines and an empty line`);
    }
    offset = head.next;
    if (head.line === '') break;
    const [name, value] = parseHeaderLine(head.line);
    if (name.toLowerCase() === 'status') status = value;
    else headers.push([name, value]);
  }
  if (headers.length === 0 && status === undefined) {
    throw new ProtocolError('CGI response has no headers: expected at least Status, Content-Type or Location');
  }
  const [code, statusText] = statusFrom(status, headers);
  return { status: code, statusText, headers, body: stdout.subarray(offset) };
}

function checkHeaderText(name: string, value: string): void {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new TypeError(`CGI header name ${JSON.stringify(name)}: expected an HTTP token`);
  }
  if (name.toLowerCase() === 'status') {
    throw new TypeError('CGI header Status: expected the status as its own field, not as a header');
  }
  if (/[\r\n]/.test(value)) {
    throw new TypeError(`CGI header ${name} value ${JSON.stringify(value)}: expected no line breaks`);
  }
}

/** The header block a responder writes before the body: `Status: N`, the headers, an empty line. */
export function formatCgiHead(status: number, headers: CgiHeaders = {}): Buffer {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`CGI status ${status}: expected an integer from 100 to 999`);
  }
  const lines = [`Status: ${status}`];
  for (const [name, values] of Object.entries(headers)) {
    for (const value of typeof values === 'string' ? [values] : values) {
      checkHeaderText(name, value);
      lines.push(`${name}: ${value}`);
    }
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
