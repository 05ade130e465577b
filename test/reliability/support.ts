/**
 * What the reliability tests share: the pids of the processes workers leave behind (written by the
 * leaves-group.sh fixture), a process's children as /proc shows them, a FastCGI request loop through
 * the project's client, and whether a port can be bound.
 */
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, RequestError } from '../../src/fastcgi/client.js';
import { readStat } from '../../src/os/proc.js';
import { spawn } from 'node:child_process';
import { childPids, commandName, socketHolders } from '../../src/os/process-tree.js';
import type { TestContext } from 'node:test';
import { freePort, isAlive, killQuietly } from '../helpers/processes.js';
import { BIN, FIXTURES, RunningSupervisor, startSupervisor, testEnvironment } from '../helpers/supervisor.js';
import { findTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';

/** The setsid()'d children of leaves-group.sh workers, by pid; cleanup kills what is left of them. */
export class Escapees {
  private readonly dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-escapees-'));
  readonly file = join(this.dir, 'pids');

  all(): number[] {
    try {
      return readFileSync(this.file, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  alive(): number[] {
    return this.all().filter(isAlive);
  }

  async cleanup(): Promise<void> {
    for (const pid of this.alive()) killQuietly(pid, 'SIGKILL');
    await waitFor('every escapee gone', () => this.alive().length === 0, { timeoutMs: 5_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface LeavingPool {
  readonly port: number;
  readonly pool: RunningSupervisor;
  readonly escapees: Escapees;
  /** The escapees alive once the pool was ready, one per worker. */
  readonly left: number[];
  /** The `start` arguments, to start the same instance again. */
  readonly args: readonly string[];
}

/**
 * A ready pool of leaves-group.sh workers on a free port (FLAGS before `--`, ENV as `-e` entries), with
 * the escapee each worker left; the supervisor and every escapee are cleaned up after the test.
 */
export async function startLeavingPool(t: TestContext, workers: number, flags: readonly string[] = [], env: readonly string[] = []): Promise<LeavingPool> {
  const port = await freePort();
  const escapees = new Escapees();
  const args = ['-p', String(port), '-F', String(workers), ...flags, ...[`ESCAPEE_PIDS=${escapees.file}`, ...env].flatMap((entry) => ['-e', entry]), '--', join(FIXTURES, 'leaves-group.sh')];
  const pool = startSupervisor(args);
  t.after(async () => {
    await pool.cleanup();
    await escapees.cleanup();
  });
  await pool.waitReady();
  const left = await waitFor(`${workers} escapee(s)`, () => (escapees.alive().length === workers ? escapees.alive() : undefined));
  return { port, pool, escapees, left, args };
}

export interface Child {
  readonly pid: number;
  readonly state: string;
  readonly name: string;
}

/** The children of a process (zombies included), with their /proc state and command name. */
export function children(pid: number): Child[] {
  return childPids(pid).flatMap((child) => {
    const stat = readStat(child);
    return stat ? [{ pid: child, state: stat.state, name: commandName(child) }] : [];
  });
}

/** The inode of the socket at a process's descriptor (the pool socket a worker or escapee holds at fd 0). */
export function socketInode(pid: number, fd: number): number {
  const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
  if (!match) throw new Error(`fd ${fd} of process ${pid} is not a socket`);
  return Number(match[1]);
}

/** Whether any process we can read still holds this socket inode open. */
export function socketHeld(inode: number): boolean {
  return socketHolders(new Set([inode])).length > 0;
}

/** Binds and listens on the port without SO_REUSEPORT: fails (EADDRINUSE) while any listener holds it. */
export function canListen(port: number, host = '127.0.0.1'): Promise<true | string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export interface LoopResult {
  readonly ok: number;
  readonly failed: number;
  /** How the failures failed: RequestError kind and errno (protocol:ECONNRESET, timeout, ...). */
  readonly failures: Readonly<Record<string, number>>;
}

/**
 * One request after another to the pool until stopped: at most one request is in flight at a time.
 * Unlike helpers/fastcgi.ts requestLoop (a loop to completion), its progress can be read while it runs,
 * and failures are counted by kind (reset, refused, timeout) through the client's typed errors.
 */
export function startRequestLoop(port: number, timeoutMs = 5_000): { peek: () => LoopResult; stop: () => Promise<LoopResult> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const loop = (async () => {
    while (running) {
      try {
        const response = await request({
          address: { kind: 'tcp', host: '127.0.0.1', port },
          params: { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/', REQUEST_URI: '/', QUERY_STRING: '', SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: '0' },
          timeoutMs,
        });
        if (response.status === 200) ok += 1;
        else {
          failed += 1;
          failures[`status ${response.status}`] = (failures[`status ${response.status}`] ?? 0) + 1;
        }
      } catch (error) {
        failed += 1;
        const key = error instanceof RequestError ? `${error.kind}${error.code ? `:${error.code}` : ''}` : String(error);
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  })();
  return {
    peek: () => ({ ok, failed, failures: { ...failures } }),
    stop: async () => {
      running = false;
      await loop;
      return { ok, failed, failures };
    },
  };
}

/** The pool serves: 20 requests in a row, none failed (after a storm or a takeover). */
export async function assertServing(t: TestContext, port: number, what: string): Promise<void> {
  const loop = startRequestLoop(port);
  t.after(() => loop.stop());
  await waitFor(`requests served ${what}`, () => loop.peek().ok >= 20 || loop.peek().failed > 0);
  const result = await loop.stop();
  if (result.failed > 0) throw new Error(`requests failed ${what}: ${JSON.stringify(result.failures)}`);
}

export interface Pid1Supervisor {
  readonly pool: RunningSupervisor;
  /** The supervisor's host pid is unshare's; this is its child, PID 1 inside the namespace. */
  readonly init: number;
}

/**
 * `fcgi-spawn start -n START_ARGS` as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`), ready.
 * Not pool.cleanup() after the test: the pids in its log are the namespace's, not ours. --kill-child makes
 * unshare's SIGKILL take its child, and the end of PID 1 ends every process of the namespace.
 */
export async function startAsPid1(t: TestContext, startArgs: readonly string[]): Promise<Pid1Supervisor> {
  const child = spawn(findTool('unshare') as string, ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, BIN, 'start', '-n', ...startArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: testEnvironment(),
  });
  const pool = new RunningSupervisor(child);
  t.after(async () => {
    if (pool.running) killQuietly(pool.pid, 'SIGKILL');
    await pool.exited;
  });
  await pool.waitReady();
  const [init] = childPids(pool.pid);
  if (init === undefined) throw new Error(`no process inside the namespace:\n${pool.log()}`);
  return { pool, init };
}
