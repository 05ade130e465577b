/**
 * The daemon's control socket: owner-only (bound under umask 0177 in a 0700 directory). A request
 * becomes an event for the supervisor or a read of its state; it never acts by itself.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';
import { removeQuietly } from './files.js';

export type ControlHandler = (request: ControlRequest) => Promise<ControlResponse>;

const MAX_REQUEST_BYTES = 4096;

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
      case 'scale':
        return Number.isInteger(request.workers) && request.workers >= 1 && request.workers <= 4096 && (request.pool === undefined || typeof request.pool === 'string') ? request : undefined;
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function serve(socket: Socket, handle: ControlHandler): void {
  let data = '';
  socket.setEncoding('utf8');
  const answer = (response: ControlResponse): void => {
    if (!socket.destroyed) socket.end(`${JSON.stringify(response)}\n`);
  };
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    data += chunk;
    if (data.length > MAX_REQUEST_BYTES) return socket.destroy();
    const newline = data.indexOf('\n');
    if (newline === -1) return;
    socket.removeAllListeners('data');
    const request = parse(data.slice(0, newline));
    if (!request) return answer({ ok: false, message: 'unknown request' });
    handle(request).then(answer, (error: Error) => answer({ ok: false, message: error.message }));
  });
}

export async function startControlServer(path: string, handle: ControlHandler): Promise<Server> {
  removeQuietly(path);
  const server = createServer((socket) => serve(socket, handle));
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
