/**
 * FastCGI 1.0 wire format: record framing, the fixed-size bodies and name-value pairs.
 * Pure functions over Buffers; sockets live in client.ts and responder.ts.
 * Reference: the FastCGI Specification 1.0 (Open Market, 1996), sections 3 to 5 and 8.
 */

export const FCGI_VERSION_1 = 1;
export const FCGI_HEADER_LEN = 8;
/** contentLength is a 16-bit field. */
export const FCGI_MAX_CONTENT_LENGTH = 0xffff;
/** Records with requestId 0 are management records (GET_VALUES, UNKNOWN_TYPE). */
export const FCGI_NULL_REQUEST_ID = 0;
/** BEGIN_REQUEST flag: the application keeps the connection open after END_REQUEST. */
export const FCGI_KEEP_CONN = 1;

export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;

export const ProtocolStatus = {
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
} as const;

const PROTOCOL_STATUS_NAMES: readonly string[] = [
  'FCGI_REQUEST_COMPLETE',
  'FCGI_CANT_MPX_CONN',
  'FCGI_OVERLOADED',
  'FCGI_UNKNOWN_ROLE',
];

/** `FCGI_OVERLOADED (2)`, for error messages. */
export function protocolStatusName(status: number): string {
  return `${PROTOCOL_STATUS_NAMES[status] ?? 'unknown protocol status'} (${status})`;
}

/** Malformed FastCGI input: the peer does not speak FastCGI 1.0, or broke its framing. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export interface FastCGIRecord {
  readonly type: number;
  readonly requestId: number;
  readonly content: Buffer;
}

export interface BeginRequestBody {
  readonly role: number;
  readonly flags: number;
}

export interface EndRequestBody {
  readonly appStatus: number;
  readonly protocolStatus: number;
}

export type NameValuePairs = ReadonlyArray<readonly [string, string]>;

const EMPTY = Buffer.alloc(0);

/** Pads content to a multiple of 8 bytes, as the specification recommends. */
function paddingFor(contentLength: number): number {
  return (8 - (contentLength % 8)) % 8;
}

/** One record: header, content, padding. Content over 65535 bytes must be split first (see encodeStream). */
export function encodeRecord(type: number, requestId: number, content: Buffer = EMPTY): Buffer {
  if (content.length > FCGI_MAX_CONTENT_LENGTH) {
    throw new RangeError(`FastCGI record content of ${content.length} bytes: expected at most ${FCGI_MAX_CONTENT_LENGTH}`);
  }
  const padding = paddingFor(content.length);
  const record = Buffer.alloc(FCGI_HEADER_LEN + content.length + padding);
  record.writeUInt8(FCGI_VERSION_1, 0);
  record.writeUInt8(type, 1);
  record.writeUInt16BE(requestId, 2);
  record.writeUInt16BE(content.length, 4);
  record.writeUInt8(padding, 6);
  content.copy(record, FCGI_HEADER_LEN);
  return record;
}

/**
 * A stream (PARAMS, STDIN, STDOUT, STDERR, DATA): the data in records of at most 65535 bytes,
 * then the empty record that ends the stream.
 */
export function encodeStream(type: number, requestId: number, data: Buffer): Buffer[] {
  const records: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += FCGI_MAX_CONTENT_LENGTH) {
    records.push(encodeRecord(type, requestId, data.subarray(offset, offset + FCGI_MAX_CONTENT_LENGTH)));
  }
  records.push(encodeRecord(type, requestId));
  return records;
}

export function encodeBeginRequest(requestId: number, role: number, flags: number): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(role, 0);
  body.writeUInt8(flags, 2);
  return encodeRecord(RecordType.BEGIN_REQUEST, requestId, body);
}

export function encodeEndRequest(requestId: number, appStatus: number, protocolStatus: number): Buffer {
  const body = Buffer.alloc(8);
  // appStatus is unsigned on the wire; a negative exit status keeps its low 32 bits.
  body.writeUInt32BE(appStatus >>> 0, 0);
  body.writeUInt8(protocolStatus, 4);
  return encodeRecord(RecordType.END_REQUEST, requestId, body);
}

function expectBodyLength(what: string, content: Buffer, length: number): void {
  if (content.length !== length) {
    throw new ProtocolError(`${what} body of ${content.length} bytes: expected ${length}`);
  }
}

export function decodeBeginRequest(content: Buffer): BeginRequestBody {
  expectBodyLength('FCGI_BEGIN_REQUEST', content, 8);
  return { role: content.readUInt16BE(0), flags: content.readUInt8(2) };
}

export function decodeEndRequest(content: Buffer): EndRequestBody {
  expectBodyLength('FCGI_END_REQUEST', content, 8);
  return { appStatus: content.readUInt32BE(0), protocolStatus: content.readUInt8(4) };
}

/** Lengths under 128 take one byte; longer ones four, with the top bit set. */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length > 0x7fffffff) {
    throw new RangeError(`FastCGI name or value of ${length} bytes: expected at most ${0x7fffffff}`);
  }
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE((length | 0x80000000) >>> 0, 0);
  return bytes;
}

/** Name-value pairs, as carried by PARAMS, GET_VALUES and GET_VALUES_RESULT. */
export function encodeNameValuePairs(pairs: NameValuePairs): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of pairs) {
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    parts.push(encodeLength(nameBytes.length), encodeLength(valueBytes.length), nameBytes, valueBytes);
  }
  return Buffer.concat(parts);
}

/** Reads one length at offset; returns it and the offset after it. */
function decodeLength(data: Buffer, offset: number): [number, number] {
  const first = data[offset];
  if (first === undefined) throw new ProtocolError(`name-value pair truncated at byte ${offset}: expected a length`);
  if (first < 0x80) return [first, offset + 1];
  if (offset + 4 > data.length) {
    throw new ProtocolError(`name-value pair truncated at byte ${offset}: expected a 4-byte length`);
  }
  return [data.readUInt32BE(offset) & 0x7fffffff, offset + 4];
}

export function decodeNameValuePairs(data: Buffer): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let offset = 0;
  while (offset < data.length) {
    const [nameLength, afterName] = decodeLength(data, offset);
    const [valueLength, start] = decodeLength(data, afterName);
    const end = start + nameLength + valueLength;
    if (end > data.length) {
      throw new ProtocolError(
        `name-value pair at byte ${offset} needs ${end - offset} bytes: only ${data.length - offset} left`,
      );
    }
    const name = data.toString('utf8', start, start + nameLength);
    pairs.push([name, data.toString('utf8', start + nameLength, end)]);
    offset = end;
  }
  return pairs;
}

/** Shows the first bytes of unexpected input, so "the peer speaks HTTP" is visible in the message. */
function describeBytes(data: Buffer): string {
  const head = data.subarray(0, 16);
  const printable = /^[\x20-\x7e\r\n\t]*$/.test(head.toString('latin1'));
  return printable ? JSON.stringify(head.toString('latin1')) : `0x${head.toString('hex')}`;
}

/**
 * Turns a byte stream into records. Records may arrive split across chunks, or several in one chunk;
 * push() returns the records completed so far and keeps the rest for the next chunk.
 */
export class RecordParser {
  private buffer: Buffer = EMPTY;

  push(chunk: Buffer): FastCGIRecord[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const records: FastCGIRecord[] = [];
    for (;;) {
      const record = this.takeRecord();
      if (!record) return records;
      records.push(record);
    }
  }

  /** Bytes of an unfinished record; non-zero when the stream ends mid-record. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  private takeRecord(): FastCGIRecord | undefined {
    const data = this.buffer;
    if (data.length === 0) return undefined;
    if (data[0] !== FCGI_VERSION_1) {
      throw new ProtocolError(
        `record header starts with ${describeBytes(data)}: expected FastCGI version ${FCGI_VERSION_1}`,
      );
    }
    if (data.length < FCGI_HEADER_LEN) return undefined;
    const contentLength = data.readUInt16BE(4);
    const total = FCGI_HEADER_LEN + contentLength + data.readUInt8(6);
    if (data.length < total) return undefined;
    // Copy the content so a retained record does not pin the whole (possibly large) chunk.
    const content = Buffer.from(data.subarray(FCGI_HEADER_LEN, FCGI_HEADER_LEN + contentLength));
    this.buffer = data.subarray(total);
    return { type: data.readUInt8(1), requestId: data.readUInt16BE(2), content };
  }
}
