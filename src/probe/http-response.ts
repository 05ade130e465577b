/**
 * Reading one HTTP/1.x response (RFC 9112) as it arrives: the status line, the headers, then a body framed by
 * Content-Length, chunked transfer coding, or the end of the connection. Interim (1xx) responses are skipped.
 * Used by the HTTP probe, and by the SCGI probe for servers that answer with a status line (uWSGI does).
 */
import type { ResponseReader } from './exchange.js';

export type HeaderList = ReadonlyArray<readonly [string, string]>;

export interface HttpResponse {
  /** `HTTP/1.1 200 OK`, as sent. */
  readonly statusLine: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderList;
  readonly body: Buffer;
}

/** A head longer than this is not a health check's answer (nginx's large_client_header_buffers is 4 × 8 KiB). */
const MAX_HEAD_BYTES = 64 * 1024;

export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
}

/** What was received, quoted and cut short: the start of a FastCGI record is not text. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** The index just past the empty line that ends a head, and the head's text; undefined until it has arrived. */
function findHeadEnd(data: Buffer): { readonly text: string; readonly next: number } | undefined {
  // Bytes that cannot start a status line (a FastCGI record) fail at once, not at the close or the deadline.
  const start = data.toString('latin1', 0, Math.min(data.length, 5));
  if (!'HTTP/'.startsWith(start)) parseStatusLine(data.toString('latin1', 0, Math.min(data.length, 80)).split(/\r?\n/)[0] ?? '');
  const crlf = data.indexOf('\r\n\r\n');
  const lf = data.indexOf('\n\n');
  if (crlf === -1 && lf === -1) {
    if (data.length > MAX_HEAD_BYTES) throw new HttpProtocolError(`the response head passes ${MAX_HEAD_BYTES} bytes without ending`);
    return undefined;
  }
  const end = crlf !== -1 && (lf === -1 || crlf < lf) ? crlf : lf;
  return { text: data.toString('latin1', 0, end), next: end + (end === crlf ? 4 : 2) };
}

interface Head {
  readonly statusLine: string;
  readonly status: number;
  readonly statusText: string;
  readonly headers: Array<[string, string]>;
}

export function parseStatusLine(line: string): { readonly status: number; readonly statusText: string } {
  const match = /^HTTP\/1\.[01] ([1-9]\d\d)(?: (.*))?$/.exec(line);
  if (!match?.[1]) throw new HttpProtocolError(`status line ${quote(line)}: expected HTTP/1.x, a 3-digit status and a reason`);
  return { status: Number(match[1]), statusText: match[2] ?? '' };
}

function parseHead(text: string): Head {
  const [statusLine = '', ...lines] = text.split(/\r?\n/);
  const { status, statusText } = parseStatusLine(statusLine);
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0 || /^\s/.test(line)) throw new HttpProtocolError(`header line ${quote(line)}: expected NAME: VALUE`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { statusLine, status, statusText, headers };
}

function header(headers: HeaderList, name: string): string[] {
  return headers.filter(([key]) => key.toLowerCase() === name).map(([, value]) => value);
}

type Framing = { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' } | { readonly kind: 'close' };

function framingOf(head: Head): Framing {
  if (head.status === 204 || head.status === 304) return { kind: 'none' };
  const coding = header(head.headers, 'transfer-encoding').join(',').toLowerCase();
  if (coding !== '') return coding.split(',').at(-1)?.trim() === 'chunked' ? { kind: 'chunked' } : { kind: 'close' };
  const lengths = [...new Set(header(head.headers, 'content-length'))];
  if (lengths.length === 0) return { kind: 'close' };
  if (lengths.length > 1 || !/^\d{1,15}$/.test(lengths[0] as string)) {
    throw new HttpProtocolError(`Content-Length ${quote(lengths.join(', '))}: expected one decimal number`);
  }
  return { kind: 'length', length: Number(lengths[0]) };
}

/**
 * The body of a chunked message in data (which starts with the first chunk), once the last chunk and the
 * trailers have arrived; undefined before that.
 */
function decodeChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) return undefined;
    const sizeText = data.toString('latin1', offset, lineEnd).split(';')[0]?.trim() ?? '';
    if (!/^[0-9A-Fa-f]{1,12}$/.test(sizeText)) throw new HttpProtocolError(`chunk size ${quote(sizeText)}: expected a hexadecimal number`);
    const size = parseInt(sizeText, 16);
    offset = lineEnd + 2;
    if (size === 0) {
      // Trailer fields, then an empty line.
      const end = data.indexOf('\r\n\r\n', offset - 2);
      return end === -1 ? undefined : Buffer.concat(parts);
    }
    if (data.length < offset + size + 2) return undefined;
    if (data.toString('latin1', offset + size, offset + size + 2) !== '\r\n') throw new HttpProtocolError('a chunk does not end with CRLF');
    parts.push(data.subarray(offset, offset + size));
    offset += size + 2;
  }
}

/** Feeds on the bytes of one response; answers once the body is whole. */
export class HttpResponseReader implements ResponseReader<HttpResponse> {
  private data = Buffer.alloc(0);
  private head: Head | undefined;
  private framing: Framing | undefined;

  push(chunk: Buffer): HttpResponse | undefined {
    this.data = Buffer.concat([this.data, chunk]);
    while (this.head === undefined) {
      const found = findHeadEnd(this.data);
      if (!found) return undefined;
      const head = parseHead(found.text);
      this.data = this.data.subarray(found.next);
      if (head.status >= 200) {
        this.head = head;
        this.framing = framingOf(head);
      }
    }
    return this.complete();
  }

  end(): HttpResponse | undefined {
    if (this.head && this.framing?.kind === 'close') return this.response(this.head, this.data);
    return undefined;
  }

  private complete(): HttpResponse | undefined {
    const head = this.head as Head;
    const framing = this.framing as Framing;
    switch (framing.kind) {
      case 'none':
        return this.response(head, Buffer.alloc(0));
      case 'length':
        return this.data.length >= framing.length ? this.response(head, this.data.subarray(0, framing.length)) : undefined;
      case 'chunked': {
        const body = decodeChunked(this.data);
        return body ? this.response(head, body) : undefined;
      }
      case 'close':
        return undefined;
    }
  }

  private response(head: Head, body: Buffer): HttpResponse {
    return { statusLine: head.statusLine, status: head.status, statusText: head.statusText, headers: head.headers, body };
  }
}
