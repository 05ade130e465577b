/**
 * Starting a worker process: the only execa import. execa's defaults suit short commands, so each
 * is set for processes that run for months (DESIGN.md "Traps in our own dependencies"): no output
 * buffering, no rejection on a non-zero exit, no kill of its own after a delay (core/ owns
 * escalation), no kill when the supervisor exits (the supervisor stops its workers itself).
 */
import { execa } from 'execa';
import type { Readable } from 'node:stream';
import type { ExitStatus } from '../core/events.js';
import type { WorkerStdio } from '../log/setup.js';
import type { WorkerCommand } from './worker-command.js';
import { readyFdOf } from '../config/ready-fd.js';

export interface SpawnRequest {
  readonly command: WorkerCommand;
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly socketFd: number;
  /** 0: the FastCGI convention; 3: the systemd convention (LISTEN_FDS). */
  readonly socketAt: 0 | 3;
  /** A pipe at the fd just past the socket's (config/ready-fd.ts) for the worker to say READY=1 on (ready: notify). */
  readonly readyPipe?: boolean;
  /** Pipes to capture, ours (inherit) or /dev/null (ignore): the log setup decides (log/setup.ts). */
  readonly stdio: WorkerStdio;
  readonly onExit: (pid: number, status: ExitStatus) => void;
}

export interface SpawnedWorker {
  readonly pid: number;
  /** Set for each stream spawned as 'pipe'. */
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** Our end of the ready pipe, when asked for. */
  readonly ready: Readable | null;
}

export class SpawnError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'SpawnError';
  }
}

/** Pids spawned here whose exit libuv has not reported yet: libuv reaps them, runtime/reaper.ts must not. */
const spawned = new Set<number>();

export function isSpawnedChild(pid: number): boolean {
  return spawned.has(pid);
}

export function spawnWorker(request: SpawnRequest): SpawnedWorker {
  const output = [request.stdio.stdout, request.stdio.stderr];
  const stdio: unknown[] = request.socketAt === 0 ? [request.socketFd, ...output] : ['ignore', ...output, request.socketFd];
  // libuv makes it a socketpair; only fds 0-2 have their blocking mode changed in the child, so this one is left as made.
  if (request.readyPipe) stdio.push('pipe');
  const child = execa(request.command.file, [...request.command.args], {
    // execa's types admit only literal fds 0-9; at run time any fd passes through to child_process.
    stdio: stdio as unknown as ['ignore', 'inherit', 'pipe'],
    env: { ...request.env },
    extendEnv: false,
    cwd: request.cwd,
    // A process group of its own (setsid), so that stop and kill reach its children too.
    detached: true,
    buffer: false,
    reject: false,
    cleanup: false,
    forceKillAfterDelay: false,
    stripFinalNewline: false,
  });
  // The result promise carries nothing we use (buffer: false); exits come through 'exit'.
  child.catch(() => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new SpawnError('ESPAWN', `could not start ${request.command.file}`);
  spawned.add(pid);
  // 'exit', not 'close': 'close' waits for every holder of the pipes, grandchildren included.
  child.on('exit', (code, signal) => {
    spawned.delete(pid);
    request.onExit(pid, { code, signal });
  });
  const ready = request.readyPipe ? ((child.stdio[readyFdOf(request.socketAt)] as Readable | undefined) ?? null) : null;
  return { pid, stdout: child.stdout ?? null, stderr: child.stderr ?? null, ready };
}

export interface CheckResult {
  readonly ok: boolean;
  /** stdout, trimmed (a --version's answer). */
  readonly stdout: string;
  /** The last line of stderr, or the exit status, for a one-line reason. */
  readonly reason: string;
}

/**
 * A short command run to check something (the new program of an upgrade): its output collected, a deadline, its
 * pid counted as ours so the reaper (runtime/reaper.ts) leaves its exit to libuv.
 */
export async function runCheck(file: string, args: readonly string[], timeoutMs: number): Promise<CheckResult> {
  const child = execa(file, [...args], { stdin: 'ignore', reject: false, timeout: timeoutMs, cleanup: true, stripFinalNewline: true, maxBuffer: 1 << 20 });
  const pid = child.pid;
  if (pid !== undefined) spawned.add(pid);
  child.on('exit', () => {
    if (pid !== undefined) spawned.delete(pid);
  });
  const result = await child;
  const stdout = String(result.stdout ?? '').trim();
  const stderr = String(result.stderr ?? '').trim().split('\n').filter(Boolean);
  const status = result.timedOut ? `no answer within ${timeoutMs} ms` : result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode ?? '?'}`;
  const failed = result.failed || result.exitCode !== 0;
  return { ok: !failed, stdout, reason: `${status}${stderr.length > 0 ? `: ${stderr[stderr.length - 1]}` : result.failed && result.exitCode === undefined ? `: ${result.shortMessage}` : ''}` };
}
