/**
 * What the reliability tests share: the pids of the processes workers leave behind (written by the
 * leaves-group.sh fixture), a process's children as /proc shows them, a FastCGI request loop through
 * the project's client, and whether a port can be bound.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, RequestError } from '../../src/fastcgi/client.js';
import { readStat } from '../../src/os/proc.js';
import { childPids, socketHolders } from '../../src/os/process-tree.js';
import { isAlive, killQuietly } from '../helpers/processes.js';
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

export interface Child {
  readonly pid: number;
  readonly state: string;
  readonly name: string;
}

/** The children of a process (zombies included), with their /proc state and command name. */
export function children(pid: number): Child[] {
  return childPids(pid).flatMap((child) => {
    const stat = readStat(child);
    const name = readStatName(child);
    return stat ? [{ pid: child, state: stat.state, name }] : [];
  });
}

function readStatName(pid: number): string {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
  } catch {
    return '?';
  }
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

/** One request after another to the pool until stopped: at most one request is in flight at a time. */
export function requestLoop(port: number, timeoutMs = 5_000): { peek: () => LoopResult; stop: () => Promise<LoopResult> } {
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
