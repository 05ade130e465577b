/** `probe --protocol http`: one `GET` over HTTP/1.1, for pools of HTTP workers (gunicorn `-b fd://0`, Node). */
import { exchange } from './exchange.js';
import { HttpResponseReader } from './http-response.js';
import type { ProbeRequest, ProbeResponse } from './types.js';

function hostHeader(probe: ProbeRequest): string {
  const { address } = probe;
  if (address.kind === 'unix') return 'localhost';
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function requestBytes(probe: ProbeRequest): Buffer {
  // Connection: close, so that a server that would keep the connection open ends it after answering.
  const lines = [`GET ${probe.uri} HTTP/1.1`, `Host: ${hostHeader(probe)}`, 'User-Agent: fcgi-spawn-probe', 'Accept: */*', 'Connection: close'];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

export async function send(probe: ProbeRequest): Promise<ProbeResponse> {
  const response = await exchange({
    address: probe.address,
    request: requestBytes(probe),
    reader: new HttpResponseReader(),
    timeoutMs: probe.timeoutMs,
    end: 'the end of the response',
  });
  return { ...response, stderr: '' };
}
