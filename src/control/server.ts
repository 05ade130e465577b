/**
 * The daemon's control socket: owner-only (bound under umask 0177 in a 0700 directory). A request
 * becomes an event for the supervisor or a read of its state; it never acts by itself.
 *
 * Every connection costs the supervisor a descriptor, and a supervisor out of descriptors cannot
 * spawn a worker or reopen a log: a client that connects and says nothing is dropped after
 * IDLE_TIMEOUT_MS (ours write their request at once), and at most MAX_CONNECTIONS are open at a
 * time (beyond, a new one is closed at once). Before, 300 idle connections were held open for ever.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';
import { removeQuietly } from './files.js';

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

const MAX_REQUEST_BYTES = 4096;
export const CONTROL_LIMITS = { idleTimeoutMs: 5_000, maxConnections: 64 } as const;

export interface ControlLimits {
  /** From connect to the request line, and from the answer to the client's close. */
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
}

function parse(line: string): ControlRequest | undefined {
  try {
    const request = JSON.parse(line) as ControlRequest;
    switch (request.command) {
      case 'status':
      case 'update':
      case 'reopen-logs':
        return request;
      case 'reload':
        return request.pool === undefined || typeof request.pool === 'string' ? request : undefined;
      case 'stop':
        return typeof request.graceful === 'boolean' ? request : undefined;
      case 'upgrade':
        return request.id === undefined || (typeof request.id === 'string' && /^[\w.-]{1,64}$/.test(request.id)) ? request : undefined;
      case 'scale':
        return Number.isInteger(request.workers) && request.workers >= 1 && request.workers <= 4096 && (request.pool === undefined || typeof request.pool === 'string') ? request : undefined;
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/**
 * A deadline, not an inactivity timer: a client trickling a byte now and then is dropped as surely
 * as a silent one. Not armed while a request is handled (a reload may take minutes).
 */
function dropAfter(socket: Socket, ms: number): () => void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  return () => clearTimeout(timer);
}

function serve(socket: Socket, handle: ControlHandler, limits: ControlLimits): void {
  let data = '';
  socket.setEncoding('utf8');
  const disarm = dropAfter(socket, limits.idleTimeoutMs);
  const answer = (response: ControlResponse): void => {
    if (socket.destroyed) return;
    socket.end(`${JSON.stringify(response)}\n`);
    dropAfter(socket, limits.idleTimeoutMs);
  };
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    data += chunk;
    if (data.length > MAX_REQUEST_BYTES) return socket.destroy();
    const newline = data.indexOf('\n');
    if (newline === -1) return;
    socket.removeAllListeners('data');
    disarm();
    const request = parse(data.slice(0, newline));
    if (!request) return answer({ ok: false, message: 'unknown request' });
    handle(request).then(answer, (error: Error) => answer({ ok: false, message: error.message }));
  });
}

export async function startControlServer(path: string, handle: ControlHandler, limits: ControlLimits = CONTROL_LIMITS): Promise<Server> {
  removeQuietly(path);
  const server = createServer((socket) => serve(socket, handle, limits));
  server.maxConnections = limits.maxConnections;
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(previous);
  }
  // A control connection must not keep the supervisor alive once it wants to exit.
  server.unref();
  return server;
}

export function stopControlServer(server: Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    removeQuietly(path);
  });
}
