/** Shared pieces of the FastCGI tests: real servers on real sockets, and waiting for conditions with deadlines. */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { serveFastCGI, type FastCGIResponder, type ResponderHandler } from '../../src/fastcgi/responder.js';

export type ListenTarget = { readonly host: string } | { readonly path: string };

/** Listens on an ephemeral port of host, or on a Unix path; resolves once listening. */
export async function listen(server: net.Server, target: ListenTarget): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(0, target.host, done);
  });
}

export function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`server address ${String(address)}: expected a TCP port`);
  return address.port;
}

export interface RunningResponder {
  readonly responder: FastCGIResponder;
  readonly errors: Error[];
}

/** The library responder in this process, on a TCP port of host or a Unix path. */
export async function startResponder(target: ListenTarget, handler: ResponderHandler): Promise<RunningResponder> {
  const errors: Error[] = [];
  const server = net.createServer({ allowHalfOpen: true });
  const responder = serveFastCGI({ server, handler, onError: (error) => errors.push(error) });
  await listen(server, target);
  await responder.ready;
  return { responder, errors };
}

/** A private directory for Unix sockets; remove it with the returned function. */
export async function makeSocketDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fcgi-spawn-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Polls cond until it holds; fails naming what was awaited once deadlineMs has passed. */
export async function waitFor(what: string, cond: () => boolean, deadlineMs: number): Promise<void> {
  const giveUp = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > giveUp) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Resolves with the child's exit status; SIGKILLs it and rejects if it has not exited within deadlineMs. */
export function waitForExit(child: ChildProcess, deadlineMs: number): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process ${child.pid} did not exit within ${deadlineMs} ms; killed it`));
    }, deadlineMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Collects what runProbe prints. */
export function captureOutput(): { out: string[]; err: string[]; print: (s: string) => void; printError: (s: string) => void } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, print: (s) => out.push(s), printError: (s) => err.push(s) };
}

/** Runs a raw TCP server on host for the duration of fn; connections get onConnection and are destroyed at the end. */
export async function withRawServer(host: string, onConnection: (socket: net.Socket) => void, fn: (address: string) => Promise<void>): Promise<void> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await listen(server, { host });
  try {
    await fn(net.isIPv6(host) ? `[${host}]:${portOf(server)}` : `${host}:${portOf(server)}`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
