import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCgiHead, parseCgiResponse } from '../../src/fastcgi/cgi.js';
import {
  FCGI_HEADER_LEN,
  FCGI_KEEP_CONN,
  FCGI_MAX_CONTENT_LENGTH,
  ProtocolError,
  RecordParser,
  RecordType,
  Role,
  decodeBeginRequest,
  decodeEndRequest,
  decodeNameValuePairs,
  encodeBeginRequest,
  encodeEndRequest,
  encodeNameValuePairs,
  encodeRecord,
  encodeStream,
  type FastCGIRecord,
} from '../../src/fastcgi/protocol.js';

function parseAll(bytes: Buffer): FastCGIRecord[] {
  const parser = new RecordParser();
  const records = parser.push(bytes);
  assert.equal(parser.pendingBytes, 0);
  return records;
}

describe('FastCGI records', () => {
  it('encodes the header fields and pads content to a multiple of 8', () => {
    const record = encodeRecord(RecordType.STDOUT, 0x1234, Buffer.from('hello'));
    assert.deepEqual([...record.subarray(0, FCGI_HEADER_LEN)], [1, 6, 0x12, 0x34, 0, 5, 3, 0]);
    assert.equal(record.length, 16);
    assert.deepEqual(parseAll(record), [{ type: RecordType.STDOUT, requestId: 0x1234, content: Buffer.from('hello') }]);
  });

  it('round-trips BEGIN_REQUEST and END_REQUEST', () => {
    const [begin, end] = parseAll(
      Buffer.concat([encodeBeginRequest(7, Role.RESPONDER, FCGI_KEEP_CONN), encodeEndRequest(7, 0xfffffffe, 3)]),
    );
    assert.ok(begin && end);
    assert.deepEqual(decodeBeginRequest(begin.content), { role: Role.RESPONDER, flags: FCGI_KEEP_CONN });
    assert.deepEqual(decodeEndRequest(end.content), { appStatus: 0xfffffffe, protocolStatus: 3 });
  });

  it('splits a stream into records of at most 65535 bytes and ends it with an empty record', () => {
    const data = Buffer.alloc(FCGI_MAX_CONTENT_LENGTH * 2 + 10, 'x');
    const records = parseAll(Buffer.concat(encodeStream(RecordType.STDIN, 1, data)));
    assert.deepEqual(
      records.map((record) => record.content.length),
      [FCGI_MAX_CONTENT_LENGTH, FCGI_MAX_CONTENT_LENGTH, 10, 0],
    );
    assert.deepEqual(Buffer.concat(records.map((record) => record.content)), data);
  });

  it('refuses to encode content longer than 65535 bytes in one record', () => {
    assert.throws(() => encodeRecord(RecordType.STDOUT, 1, Buffer.alloc(65536)), RangeError);
  });
});

describe('name-value pairs', () => {
  it('round-trips 1-byte and 4-byte lengths, empty values and UTF-8', () => {
    const pairs: Array<[string, string]> = [
      ['SCRIPT_NAME', '/index.php'],
      ['EMPTY', ''],
      ['N'.repeat(127), 'v'.repeat(128)],
      ['LONG', 'y'.repeat(70000)],
      ['UNICODE', 'héllo ✓'],
    ];
    const encoded = encodeNameValuePairs(pairs);
    assert.deepEqual(decodeNameValuePairs(encoded), pairs);
  });

  it('uses a 4-byte length with the top bit set from 128 bytes on', () => {
    const encoded = encodeNameValuePairs([['A', 'b'.repeat(128)]]);
    assert.equal(encoded[0], 1);
    assert.deepEqual([...encoded.subarray(1, 5)], [0x80, 0, 0, 128]);
  });

  it('rejects truncated pairs with a ProtocolError', () => {
    const encoded = encodeNameValuePairs([['NAME', 'value']]);
    assert.throws(() => decodeNameValuePairs(encoded.subarray(0, encoded.length - 1)), ProtocolError);
    assert.throws(() => decodeNameValuePairs(Buffer.from([0x80, 0])), /expected a 4-byte length/);
  });
});

describe('RecordParser', () => {
  const stream = Buffer.concat([
    encodeBeginRequest(1, Role.RESPONDER, 0),
    ...encodeStream(RecordType.PARAMS, 1, encodeNameValuePairs([['REQUEST_URI', '/a?b=c']])),
    encodeRecord(RecordType.STDOUT, 1, Buffer.from('odd length!')),
    encodeEndRequest(1, 0, 0),
  ]);
  const expected = parseAll(stream);

  it('reads several records from one chunk', () => {
    assert.deepEqual(
      expected.map((record) => record.type),
      [RecordType.BEGIN_REQUEST, RecordType.PARAMS, RecordType.PARAMS, RecordType.STDOUT, RecordType.END_REQUEST],
    );
  });

  it('gives the same records for every way of splitting the stream in two', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new RecordParser();
      const records = [...parser.push(stream.subarray(0, cut)), ...parser.push(stream.subarray(cut))];
      assert.deepEqual(records, expected, `cut at byte ${cut}`);
    }
  });

  it('gives the same records when fed one byte at a time', () => {
    const parser = new RecordParser();
    const records: FastCGIRecord[] = [];
    for (const byte of stream) records.push(...parser.push(Buffer.from([byte])));
    assert.deepEqual(records, expected);
    assert.equal(parser.pendingBytes, 0);
  });

  it('reports the bytes of an unfinished record', () => {
    const parser = new RecordParser();
    assert.deepEqual(parser.push(stream.subarray(0, 5)), []);
    assert.equal(parser.pendingBytes, 5);
  });

  it('rejects a stream that is not FastCGI, quoting its first bytes', () => {
    const parser = new RecordParser();
    assert.throws(() => parser.push(Buffer.from('HTTP/1.1 400 Bad Request\r\n')), (error: unknown) => {
      assert.ok(error instanceof ProtocolError);
      assert.match(error.message, /"HTTP\/1\.1 400 Bad"/);
      assert.match(error.message, /expected FastCGI version 1/);
      return true;
    });
  });

  it('rejects a bad version in a later record', () => {
    const bad = Buffer.from(encodeEndRequest(1, 0, 0));
    bad[0] = 2;
    assert.throws(() => new RecordParser().push(Buffer.concat([encodeRecord(RecordType.STDOUT, 1), bad])), ProtocolError);
  });

  it('rejects END_REQUEST and BEGIN_REQUEST bodies of the wrong size', () => {
    assert.throws(() => decodeEndRequest(Buffer.alloc(5)), /FCGI_END_REQUEST body of 5 bytes: expected 8/);
    assert.throws(() => decodeBeginRequest(Buffer.alloc(9)), ProtocolError);
  });
});

describe('CGI responses', () => {
  it('takes the status and reason from the Status header and keeps the other headers in order', () => {
    const response = parseCgiResponse(Buffer.from('Content-Type: text/html\r\nStatus: 404 Not Found\r\nX-A: 1\r\n\r\nbody'));
    assert.equal(response.status, 404);
    assert.equal(response.statusText, 'Not Found');
    assert.deepEqual(response.headers, [
      ['Content-Type', 'text/html'],
      ['X-A', '1'],
    ]);
    assert.equal(response.body.toString(), 'body');
  });

  it('means 200 without a Status header and 302 with only a Location header', () => {
    assert.equal(parseCgiResponse(Buffer.from('Content-Type: text/plain\n\nhi')).status, 200);
    assert.equal(parseCgiResponse(Buffer.from('Location: /elsewhere\n\n')).status, 302);
    assert.equal(parseCgiResponse(Buffer.from('Status: 301\nLocation: /x\n\n')).status, 301);
  });

  it('keeps an empty line inside the body', () => {
    const response = parseCgiResponse(Buffer.from('Content-Type: text/plain\n\na\n\nb'));
    assert.equal(response.body.toString(), 'a\n\nb');
  });

  it('rejects output without headers, unterminated headers and bad Status values', () => {
    assert.throws(() => parseCgiResponse(Buffer.alloc(0)), /sent no output/);
    assert.throws(() => parseCgiResponse(Buffer.from('Content-Type: text/plain\r\n')), /headers never end/);
    assert.throws(() => parseCgiResponse(Buffer.from('\r\nbody')), /no headers/);
    assert.throws(() => parseCgiResponse(Buffer.from('not a header\n\n')), /expected NAME: VALUE/);
    assert.throws(() => parseCgiResponse(Buffer.from('Status: OK\n\n')), /expected a 3-digit code/);
  });

  it('formats what it parses', () => {
    const head = formatCgiHead(201, { 'Content-Type': 'text/plain', 'Set-Cookie': ['a=1', 'b=2'] });
    const response = parseCgiResponse(Buffer.concat([head, Buffer.from('x')]));
    assert.equal(response.status, 201);
    assert.deepEqual(response.headers, [
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });

  it('refuses header text that would break the response', () => {
    assert.throws(() => formatCgiHead(200, { 'X-A': 'a\r\nStatus: 500' }), /expected no line breaks/);
    assert.throws(() => formatCgiHead(200, { 'Bad Name': 'x' }), /expected an HTTP token/);
    assert.throws(() => formatCgiHead(200, { Status: '500' }), /not as a header/);
    assert.throws(() => formatCgiHead(99), /expected an integer from 100 to 999/);
  });
});
