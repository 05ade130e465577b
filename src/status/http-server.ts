/**
 * The `stats` endpoint (uWSGI's option of the same name): an HTTP server in the supervisor on a socket of its own,
 * never a pool's, answering GET /metrics with the Prometheus text and GET /status with the JSON of `status
 * --json`. Each request builds the model afresh (and samples the listen queues); nothing runs between requests.
 * Whether a non-loopback address is allowed is config/'s decision (stats-allow-remote).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatAddress, type ListenAddress } from '../os/sockaddr.js';
import { removeStaleSocketPath } from '../os/listen-socket.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus.js';
import type { InstanceStatus } from './types.js';

/** A scraper that connects and says nothing must not hold a socket for ever. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface StatsServer {
  /** Where it listens, with the port the kernel chose for port 0. */
  readonly address: string;
  close(): Promise<void>;
}

function answer(response: ServerResponse, status: number, type: string, body: string, head: boolean): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  response.end(head ? undefined : body);
}

function handle(request: IncomingMessage, response: ServerResponse, read: () => InstanceStatus): void {
  const path = (request.url ?? '/').split('?')[0];
  const head = request.method === 'HEAD';
  if (request.method !== 'GET' && !head) {
    response.setHeader('Allow', 'GET, HEAD');
    return answer(response, 405, 'text/plain; charset=utf-8', 'method not allowed: GET /metrics or GET /status\n', false);
  }
  try {
    if (path === '/metrics') return answer(response, 200, PROMETHEUS_CONTENT_TYPE, prometheusText(read()), head);
    if (path === '/status') return answer(response, 200, 'application/json', `${JSON.stringify({ state: 'running', ...read() })}\n`, head);
  } catch (error) {
    return answer(response, 500, 'text/plain; charset=utf-8', `unable to read the status: ${(error as Error).message}\n`, head);
  }
  answer(response, 404, 'text/plain; charset=utf-8', 'not found: GET /metrics (Prometheus text) or GET /status (JSON)\n', head);
}

function listen(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (address.kind === 'tcp') {
      server.listen({ host: address.host, port: address.port }, done);
      return;
    }
    // A socket file left by a SIGKILLed supervisor is removed; a live one is not. Bound owner-only: the status
    // names programs and pids.
    removeStaleSocketPath(address.path);
    const umask = process.umask(0o177);
    try {
      server.listen({ path: address.path }, done);
    } finally {
      process.umask(umask);
    }
  });
}

export async function startStatsServer(address: ListenAddress, read: () => InstanceStatus): Promise<StatsServer> {
  const server = createServer((request, response) => handle(request, response, read));
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  await listen(server, address);
  const bound = server.address();
  const actual = address.kind === 'tcp' && bound !== null && typeof bound === 'object' ? { ...address, port: bound.port } : address;
  return {
    address: formatAddress(actual),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
