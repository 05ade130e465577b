/**
 * Draining a server without cutting a request: stop accepting, answer every request from now on (and those in
 * flight whose headers are not out yet) with `Connection: close`, and close a kept-alive connection only once it
 * has been idle for a grace period. Closing idle connections at once (what http.Server.close() does since Node 19,
 * through closeIdleConnections()) races with a client that is sending its next request on that connection: a
 * client busy on it (a proxy, a load generator) gets a reset instead of an answer. Such a client sends again
 * within milliseconds and is answered with `Connection: close`; only one that stays quiet is cut, as a
 * keep-alive timeout would.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

interface Connection {
  /** Requests on it whose response has not closed yet. */
  inFlight: number;
  /** When it last became idle (accepted, or its last response closed); monotonic ms. */
  idleSince: number;
  /** Handed to an 'upgrade' listener (WebSocket): not HTTP any more, so not ours to close. */
  upgraded: boolean;
  timer?: NodeJS.Timeout;
}

const now = (): number => performance.now();

export class Drainer {
  private readonly connections = new Map<Socket, Connection>();
  private readonly responses = new Set<ServerResponse>();
  private closed: Promise<void> | undefined;

  constructor(
    private readonly server: NetServer,
    private readonly idleGraceMs: number,
  ) {
    // An https server's requests arrive on the TLS socket, which 'secureConnection' hands over.
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => this.connection(socket));
    // First among the 'request' listeners: the header is set before the app (Express, Fastify, Koa) answers.
    server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => this.request(request, response));
    server.prependListener('upgrade', (_request: IncomingMessage, socket: Socket) => {
      const connection = this.connections.get(socket);
      if (connection) connection.upgraded = true;
    });
  }

  get draining(): boolean {
    return this.closed !== undefined;
  }

  /** Starts the drain (once); resolves when the server has stopped accepting and every connection has closed. */
  drain(): Promise<void> {
    if (this.closed) return this.closed;
    // net.Server's close, not http.Server's: the latter closes idle connections at once (see above).
    this.closed = new Promise((resolve) => NetServer.prototype.close.call(this.server, () => resolve()));
    for (const response of this.responses) closeAfter(response);
    for (const [socket, connection] of this.connections) if (connection.inFlight === 0) this.closeWhenQuiet(socket, connection);
    return this.closed;
  }

  private connection(socket: Socket): void {
    const connection: Connection = { inFlight: 0, idleSince: now(), upgraded: false };
    this.connections.set(socket, connection);
    socket.once('close', () => {
      clearTimeout(connection.timer);
      this.connections.delete(socket);
    });
    if (this.draining) this.closeWhenQuiet(socket, connection);
  }

  private request(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket;
    const connection = this.connections.get(socket);
    if (connection) {
      connection.inFlight += 1;
      clearTimeout(connection.timer);
    }
    this.responses.add(response);
    if (this.draining) closeAfter(response);
    // 'close' follows 'finish' and also comes when the client went away first.
    response.once('close', () => {
      this.responses.delete(response);
      if (!connection) return;
      connection.inFlight -= 1;
      connection.idleSince = now();
      if (this.draining && connection.inFlight === 0 && !socket.destroyed) this.closeWhenQuiet(socket, connection);
    });
  }

  private closeWhenQuiet(socket: Socket, connection: Connection): void {
    if (connection.upgraded) return;
    clearTimeout(connection.timer);
    const wait = connection.idleSince + this.idleGraceMs - now();
    if (wait <= 0) {
      socket.destroy();
      return;
    }
    connection.timer = setTimeout(() => {
      if (connection.inFlight === 0) this.closeWhenQuiet(socket, connection);
    }, wait);
  }
}

/** The answer ends the connection; too late once the headers are out (the connection then idles, and is closed quiet). */
function closeAfter(response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('Connection', 'close');
}
