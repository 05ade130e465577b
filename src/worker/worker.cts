/**
 * fcgi-spawn/worker: what a Node worker needs to be a good citizen of a pool. `listen(app)` listens on the socket
 * the supervisor handed over (fd 0, or fd 3 under LISTEN_FDS), tells the supervisor it is ready (pools with
 * `ready: notify`), and on the stop signal drains: no new connection, requests in flight finish, kept-alive
 * connections end after their next answer (`Connection: close`) or once quiet, then the process exits. It takes
 * a node:http (or https, or plain net) server, a request handler such as an Express app, a Koa app, or a Fastify
 * instance. Written as CommonJS and re-exported by the ESM entry (index.ts), so both share one state.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as NetServer, type ListenOptions as NetListenOptions } from 'node:net';
import { Drainer } from './drain.cjs';
import { inheritedFd, ready } from './environment.cjs';

export { inheritedFd, ready, READY_FD_VARIABLE } from './environment.cjs';

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => unknown;

/** What listen() takes: a server (node:http, https, net), a handler (an Express app), a Koa app, a Fastify instance. */
export type Listenable = NetServer | RequestHandler | { callback(): RequestHandler } | { readonly server: NetServer; ready(): PromiseLike<unknown> };

export interface ListenOptions {
  /** The listening socket's descriptor; default: the inherited one (inheritedFd()). */
  readonly fd?: number;
  /** Where no socket was inherited (the app started by hand): listen there instead, e.g. `{ port: 3000 }`. Without it, listen() rejects. */
  readonly fallback?: NetListenOptions;
  /** Tell the supervisor the worker is ready once it listens (default true); false: call ready() once warmed up. */
  readonly ready?: boolean;
  /** The signals that start the drain (default SIGTERM and SIGINT); a second one ends the process at once. [] for none: call drain(). */
  readonly signals?: readonly NodeJS.Signals[];
  /** While draining, a kept-alive connection with no request for this long is closed (default 1000 ms). */
  readonly idleGraceMs?: number;
  /** Runs once the drain is over (every connection closed); the default exits the process with status 0. */
  readonly onDrained?: () => unknown;
}

export interface Listening {
  readonly server: NetServer;
  /** The descriptor listened on; undefined when the fallback was used. */
  readonly fd: number | undefined;
  /** Starts the drain now, as the stop signal does; resolves when the last connection has closed (before onDrained). */
  drain(): Promise<void>;
}

export const DEFAULT_IDLE_GRACE_MS = 1000;
const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];

function isFastify(target: object): target is { readonly server: NetServer; ready(): PromiseLike<unknown> } {
  return 'server' in target && target.server instanceof NetServer && typeof (target as { ready?: unknown }).ready === 'function';
}

async function serverOf(target: Listenable): Promise<NetServer> {
  if (target instanceof NetServer) return target;
  // An Express app is a request handler.
  if (typeof target === 'function') return createServer(target);
  // Fastify built its server with its router already attached; ready() loads its plugins first.
  if (isFastify(target)) {
    await target.ready();
    return target.server;
  }
  if (typeof (target as { callback?: unknown }).callback === 'function') return createServer((target as { callback(): RequestHandler }).callback());
  throw new TypeError('fcgi-spawn/worker: listen() takes a server (node:http, https, net), a request handler (an Express app), a Koa app or a Fastify instance');
}

function listenOn(server: NetServer, where: { fd: number } | NetListenOptions, fd: number | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => {
      const what = fd !== undefined ? `the inherited socket (fd ${fd})` : JSON.stringify(where);
      reject(new Error(`fcgi-spawn/worker: unable to listen on ${what}: ${error.code ?? error.message}`, { cause: error }));
    };
    server.once('error', failed);
    server.listen(where, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** The stop signals start the drain; a second one, while draining, gets its default action (the process ends). */
function onSignals(signals: readonly NodeJS.Signals[], drain: () => void): void {
  let draining = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (!draining) {
      draining = true;
      drain();
      return;
    }
    for (const each of signals) process.off(each, handler);
    process.kill(process.pid, signal);
  };
  for (const signal of signals) process.on(signal, handler);
}

/**
 * A listening socket that fails (accept() errors: EINVAL once shut down, EMFILE) would make Node emit 'error' on
 * every accept libuv retries, and crash the worker on the first without a listener: drain instead, so that what
 * is in flight finishes and the supervisor starts a replacement.
 */
function onAcceptError(server: NetServer, drain: () => void): void {
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.syscall === 'accept') {
      process.stderr.write(`fcgi-spawn/worker: the listening socket failed (accept: ${error.code ?? error.message}): draining\n`);
      drain();
    } else if (server.listenerCount('error') === 1) {
      throw error;
    }
  });
}

/**
 * Listens on the inherited socket (or options.fd, or options.fallback when none was inherited), installs the
 * drain on the stop signals, and says ready (unless options.ready is false). Resolves once listening and told.
 */
export async function listen(target: Listenable, options: ListenOptions = {}): Promise<Listening> {
  const server = await serverOf(target);
  const fd = options.fd ?? inheritedFd();
  if (fd === undefined && options.fallback === undefined) {
    throw new Error(
      'fcgi-spawn/worker: no listening socket was inherited (fd 0 is not a socket, and LISTEN_FDS does not name this process): ' +
        'start the app with fcgi-spawn, or give listen() a fallback for a run by hand, e.g. { fallback: { port: 3000 } }',
    );
  }
  // Before listening, so that every connection is known.
  const drainer = new Drainer(server, options.idleGraceMs ?? DEFAULT_IDLE_GRACE_MS);
  await listenOn(server, fd !== undefined ? { fd } : (options.fallback as NetListenOptions), fd);
  const onDrained = options.onDrained ?? (() => process.exit(0));
  let finished: Promise<void> | undefined;
  const drain = (): Promise<void> => {
    if (!finished) {
      finished = drainer.drain();
      finished.then(onDrained).catch((error: unknown) => {
        process.stderr.write(`fcgi-spawn/worker: onDrained failed: ${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      });
    }
    return finished;
  };
  onSignals(options.signals ?? DEFAULT_SIGNALS, () => void drain());
  onAcceptError(server, () => void drain());
  if (options.ready !== false) {
    // One turn of the event loop first: the socket is in the loop's epoll set only from its next poll, and the
    // supervisor looks for it there right after READY=1 (a pool in auto blocking mode learns it serves an event loop).
    await new Promise((resolve) => setImmediate(resolve));
    ready();
  }
  return { server, fd, drain };
}
