/**
 * `probe --protocol scgi`: one request in the SCGI format (python.ca/scgi/protocol.txt): the CGI variables as a
 * netstring, CONTENT_LENGTH first and SCGI=1 among them, then the body (none). The server answers until it closes
 * the connection, with CGI headers (`Status: 200 OK`, as Python's scgi and Rack do) or an HTTP status line (uWSGI).
 */
import { parseCgiResponse } from '../fastcgi/cgi.js';
import { exchange, type ResponseReader } from './exchange.js';
import { HttpResponseReader, type HttpResponse } from './http-response.js';
import { cgiStatusLine, cgiVariables, type ProbeRequest, type ProbeResponse } from './types.js';

/** nginx's scgi_params, plus SCRIPT_NAME and PATH_INFO for WSGI and Rack apps, which route on them. */
function variables(probe: ProbeRequest): Record<string, string> {
  return { ...cgiVariables(probe), SCRIPT_NAME: '', PATH_INFO: probe.path, ...probe.params };
}

export function encodeRequest(vars: Readonly<Record<string, string>>): Buffer {
  const { CONTENT_LENGTH = '0', SCGI = '1', ...rest } = vars;
  const fields = Object.entries({ CONTENT_LENGTH, SCGI, ...rest }).flatMap(([name, value]) => [name, value]);
  const headers = Buffer.from(fields.map((field) => `${field}\0`).join(''), 'utf8');
  return Buffer.concat([Buffer.from(`${headers.length}:`), headers, Buffer.from(',')]);
}

/** The whole answer arrives before the close; it is read then, in whichever form the server chose. */
class ScgiResponseReader implements ResponseReader<ProbeResponse> {
  private readonly chunks: Buffer[] = [];

  push(chunk: Buffer): undefined {
    this.chunks.push(chunk);
    return undefined;
  }

  end(): ProbeResponse {
    const data = Buffer.concat(this.chunks);
    if (data.subarray(0, 5).toString('latin1') === 'HTTP/') {
      const reader = new HttpResponseReader();
      const response: HttpResponse | undefined = reader.push(data) ?? reader.end();
      if (!response) throw new Error('the HTTP response ends before its body does');
      return { ...response, stderr: '' };
    }
    const cgi = parseCgiResponse(data);
    return { statusLine: cgiStatusLine(cgi.status, cgi.statusText), status: cgi.status, headers: cgi.headers, body: cgi.body, stderr: '' };
  }
}

export function send(probe: ProbeRequest): Promise<ProbeResponse> {
  return exchange({
    address: probe.address,
    request: encodeRequest(variables(probe)),
    reader: new ScgiResponseReader(),
    timeoutMs: probe.timeoutMs,
    end: 'the end of the response',
  });
}
