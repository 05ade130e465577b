/**
 * A one-shot FastCGI client: one connection, one RESPONDER request, the CGI response.
 * Made for health checks (`fcgi-spawn probe`), so it fails with a kind a caller can map to an exit code
 * (the connection and its failures: probe/exchange.ts, shared with the HTTP and SCGI probes).
 */
import { exchange, type ProbeAddress, type ResponseReader } from '../probe/exchange.js';
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

export { RequestError, formatAddress, type RequestErrorKind } from '../probe/exchange.js';

export type FastCGIAddress = ProbeAddress;

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

/** Collects one request's output; returns the response once FCGI_END_REQUEST arrives. */
class ResponseCollector implements ResponseReader<FastCGIResponse> {
  private readonly parser = new RecordParser();
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];

  push(chunk: Buffer): FastCGIResponse | undefined {
    for (const record of this.parser.push(chunk)) {
      const response = this.accept(record);
      if (response) return response;
    }
    return undefined;
  }

  end(): undefined {
    return undefined;
  }

  private accept(record: FastCGIRecord): FastCGIResponse | undefined {
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
  return exchange({
    address: options.address,
    request: requestBytes(options),
    reader: new ResponseCollector(),
    timeoutMs: options.timeoutMs,
    end: 'FCGI_END_REQUEST',
  });
}
