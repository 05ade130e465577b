/**
 * Every descendant accounted for (DESIGN.md "Contracts": the supervisor is a child subreaper). A
 * worker can leave processes behind outside its process group — a setsid()'d helper, a daemonizing
 * child — that keep the pool's listening socket and outlive a stop. As a child subreaper (or as PID 1
 * in a container) the supervisor adopts them when their parent dies; this module tracks them (which
 * pool socket they hold), stops them with their generation or the pool (SIGTERM, SIGKILL at the
 * stop timeout, each step logged: its own escalation, so core/ stays pure), and reaps them.
 *
 * Reaping without stealing libuv's children: libuv waits only for the pids it spawned, each with
 * waitpid(pid, WNOHANG) when SIGCHLD arrives. We do the same for our other children, found in
 * /proc/self/task/.../children, and never wait for -1. Measured on Node 20.20 (Linux 6.18): with
 * process.on('SIGCHLD') installed, libuv still reported every spawned child's exit; the handler ran
 * once per child state change (3 for 2 spawned children and 1 adopted grandchild); the adopted
 * grandchild stayed a zombie until our waitpid(pid) took it.
 */
import { performance } from 'node:perf_hooks';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { becomeChildSubreaper, reapChild, type WaitStatus } from '../os/libc.js';
import { hasExited, readStat } from '../os/proc.js';
import { childPids, commandName, descendantPids, socketHolders, socketInodesOf } from '../os/process-tree.js';
import type { Logger } from '../log/logger.js';
import { describeError } from '../errors.js';

/** After SIGKILL, how long to wait for what we killed before naming it and giving up (a process in D state). */
const KILL_WAIT_MS = 2_000;
/** While the reaper waits for adopted processes at the end of a stop, it also looks this often. */
const FINISH_LOOK_MS = 50;

export interface ReaperOptions {
  readonly logger: Logger;
  /** Children that libuv spawned (the workers): libuv reaps them, we never do. */
  readonly isSpawned: (pid: number) => boolean;
  /** A worker adopted through an in-place upgrade exited: libuv never knew it, so its exit comes from here. */
  readonly onWorkerExit?: (pid: number, status: WaitStatus) => void;
  readonly now?: () => number;
}

interface Tracked {
  readonly pid: number;
  readonly startTime: number;
  readonly name: string;
  /** The watched socket it held when first seen. */
  readonly socket?: string;
  /** Its process group when first seen: its own (it left its worker's, as setsid() does) or another's. */
  readonly pgrp: number;
  killAt?: number;
  killed: boolean;
}

interface WatchedSocket {
  /** The supervisor's key of its pool (core/supervisor-state.ts PoolEntry.key). */
  readonly pool: string;
  readonly label: string;
  readonly inode: number;
  readonly stopTimeoutMs: number;
  retired: boolean;
}

function socketKey(pool: string, generation: number): string {
  return JSON.stringify([pool, generation]);
}

function describe(tracked: Tracked): string {
  return `process ${tracked.pid} (${tracked.name})`;
}

function exitText(status: WaitStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit status ${status.code ?? '?'}`;
}

export class Reaper {
  /** Pool sockets by pool key and generation (socketKey), with the label log lines name them by. */
  private readonly sockets = new Map<string, WatchedSocket>();
  private readonly tracked = new Map<number, Tracked>();
  /** Workers the previous program spawned (an in-place upgrade): reaped here, their exits told, never stopped here. */
  private readonly workers = new Set<number>();
  /**
   * Holds the event loop open while adopted workers run: libuv has no handle for them (measured: a new program whose
   * reload failed, left with adopted workers only, exited 0 at once). A port that never gets a message: no wake-up.
   */
  private keepAlive: MessagePort | undefined;
  private stopDeadline: number | undefined;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  private wake: (() => void) | undefined;
  private readonly now: () => number;
  /** The handler only schedules a look: several exits may come as one SIGCHLD. */
  private readonly onChild = (): void => {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.look());
  };

  constructor(private readonly options: ReaperOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    const { logger } = this.options;
    try {
      becomeChildSubreaper();
    } catch (error) {
      logger.log('warn', `unable to become a child subreaper: ${describeError(error)}; processes that workers leave behind go to init`);
    }
    process.on('SIGCHLD', this.onChild);
    if (process.pid === 1) logger.log('info', 'running as PID 1: every orphan in this PID namespace is reaped here');
    this.look();
  }

  /** Workers adopted through an in-place upgrade: the pool stops them as its own; only their exits are ours to collect. */
  adoptWorkers(pids: readonly number[]): void {
    for (const pid of pids) this.workers.add(pid);
    if (this.workers.size > 0 && !this.keepAlive) {
      this.keepAlive = new MessageChannel().port1;
      this.keepAlive.on('message', () => undefined);
    }
  }

  private workerGone(pid: number, status: WaitStatus): void {
    this.workers.delete(pid);
    if (this.workers.size === 0) {
      this.keepAlive?.close();
      this.keepAlive = undefined;
    }
    this.options.onWorkerExit?.(pid, status);
  }

  /** A pool socket: processes holding it are attributed to it, and stopped with it (SIGKILL after its pool's stop timeout). */
  watchSocket(pool: string, generation: number, label: string, inode: number, stopTimeoutMs: number): void {
    const key = socketKey(pool, generation);
    if (!this.sockets.has(key)) this.sockets.set(key, { pool, label, inode, stopTimeoutMs, retired: false });
  }

  /** Its generation is retired: whatever below us still holds its socket is stopped. */
  retireSocket(pool: string, generation: number): void {
    const socket = this.sockets.get(socketKey(pool, generation));
    if (socket) this.retire(socket);
  }

  /**
   * The pool is released (stopped, removed by an update): every socket it had is retired. By its key
   * exactly: a pool moved by an update comes back as `NAME#TICKET`, and must not lose its workers when
   * the old `NAME` goes.
   */
  retirePool(pool: string): void {
    for (const socket of this.sockets.values()) if (socket.pool === pool) this.retire(socket);
  }

  private retire(socket: WatchedSocket): void {
    if (socket.retired) return;
    socket.retired = true;
    const now = this.now();
    for (const holder of socketHolders(new Set([socket.inode]), { candidates: descendantPids(process.pid) })) {
      const tracked = this.track(holder.pid);
      if (tracked) this.stopProcess(tracked, `holds the socket of retired ${socket.label}`, now + socket.stopTimeoutMs, now);
    }
    this.arm();
  }

  /**
   * The pool stops: adopted processes, and descendants that left their worker's process group
   * (the workers' stop signal does not reach them), get SIGTERM now and SIGKILL at the stop timeout;
   * whatever is adopted later (its worker just died) gets the same deadline.
   */
  beginStop(stopTimeoutMs: number): void {
    if (this.stopDeadline !== undefined) return;
    const now = this.now();
    this.stopDeadline = now + stopTimeoutMs;
    for (const pid of descendantPids(process.pid)) {
      const stat = readStat(pid);
      if (!stat || hasExited(stat) || this.isWorker(pid) || this.isWorker(stat.pgrp)) continue;
      this.track(pid);
    }
    for (const tracked of this.tracked.values()) this.stopProcess(tracked, 'the pool is stopping', this.stopDeadline, now);
    this.look();
  }

  /**
   * The workers are gone: wait (bounded) until every adopted process is, then, as a last resort,
   * name and kill whatever process anywhere still holds a pool socket; stop listening for SIGCHLD.
   */
  async finish(stopTimeoutMs: number): Promise<void> {
    this.beginStop(stopTimeoutMs);
    const giveUpAt = Math.max(this.stopDeadline ?? 0, this.now()) + KILL_WAIT_MS;
    for (;;) {
      this.look();
      const alive = [...this.tracked.values()].filter(isAlive);
      if (alive.length === 0) break;
      if (this.now() >= giveUpAt) {
        this.options.logger.log('error', `still running after SIGKILL: ${alive.map(describe).join(', ')}`);
        break;
      }
      await this.nextWake(Math.min(FINISH_LOOK_MS, giveUpAt - this.now()));
    }
    await this.lastResort();
    process.off('SIGCHLD', this.onChild);
    this.keepAlive?.close();
    this.keepAlive = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Reap what exited, adopt what is new; then escalate what is due. */
  private look(): void {
    this.scheduled = false;
    const now = this.now();
    for (const pid of childPids(process.pid)) {
      if (this.options.isSpawned(pid)) continue;
      let status: WaitStatus | undefined;
      try {
        status = reapChild(pid);
      } catch (error) {
        this.options.logger.log('error', `unable to reap process ${pid}: ${describeError(error)}`);
      }
      if (status && this.workers.has(pid)) this.workerGone(pid, status);
      else if (status) this.reaped(pid, status);
      else if (!this.tracked.has(pid) && !this.workers.has(pid)) this.adopt(pid, now);
    }
    // A zombie stays tracked until it is reaped (here or by its own parent): one that died between
    // its waitpid above and this line would otherwise be reaped next time as a stranger, unnamed.
    for (const tracked of this.tracked.values()) if (!exists(tracked)) this.tracked.delete(tracked.pid);
    this.escalate(now);
    this.arm();
    this.wake?.();
  }

  private isWorker(pid: number): boolean {
    return this.options.isSpawned(pid) || this.workers.has(pid);
  }

  private adopt(pid: number, now: number): void {
    const tracked = this.track(pid);
    if (!tracked) return;
    const { logger } = this.options;
    // Still in another's process group (a php-cgi or fcgiwrap -c master's children): the pool signals that group itself.
    if (tracked.pgrp !== pid) logger.log('debug', `adopted ${describe(tracked)}: its parent exited; it stays in process group ${tracked.pgrp}`, { pid });
    else if (tracked.socket) logger.log('warn', `adopted ${describe(tracked)}, left behind by a worker: it holds the socket of ${tracked.socket}`, { pid });
    else logger.log('info', `adopted ${describe(tracked)}: its parent exited`, { pid });
    if (this.stopDeadline !== undefined) this.stopProcess(tracked, 'the pool is stopping', this.stopDeadline, now);
  }

  private track(pid: number): Tracked | undefined {
    const known = this.tracked.get(pid);
    if (known) return known;
    const stat = readStat(pid);
    if (!stat || hasExited(stat)) return undefined;
    const held = socketInodesOf(pid);
    const socket = [...this.sockets.values()].find((s) => held.has(s.inode))?.label;
    const tracked: Tracked = { pid, startTime: stat.startTime, name: commandName(pid), ...(socket ? { socket } : {}), pgrp: stat.pgrp, killed: false };
    this.tracked.set(pid, tracked);
    return tracked;
  }

  private reaped(pid: number, status: WaitStatus): void {
    const tracked = this.tracked.get(pid);
    this.tracked.delete(pid);
    if (tracked) this.options.logger.log(tracked.pgrp === pid ? 'info' : 'debug', `${describe(tracked)} exited (${exitText(status)})`, { pid });
    else this.options.logger.log('debug', `reaped process ${pid} (${exitText(status)})`, { pid });
  }

  private stopProcess(tracked: Tracked, why: string, killAt: number, now: number): void {
    if (tracked.killed || (tracked.killAt !== undefined && tracked.killAt <= killAt)) return;
    if (killAt <= now) {
      this.kill(tracked, `${why}: SIGKILL`);
      return;
    }
    const first = tracked.killAt === undefined;
    tracked.killAt = killAt;
    if (!first) return;
    this.options.logger.log('info', `${describe(tracked)} ${why}: SIGTERM, SIGKILL in ${Math.ceil(killAt - now)} ms`, { pid: tracked.pid });
    signal(tracked, 'SIGTERM');
  }

  private kill(tracked: Tracked, message: string): void {
    tracked.killed = true;
    this.options.logger.log('warn', `${describe(tracked)} ${message}`, { pid: tracked.pid });
    signal(tracked, 'SIGKILL');
  }

  private escalate(now: number): void {
    for (const tracked of this.tracked.values()) {
      if (!tracked.killed && tracked.killAt !== undefined && tracked.killAt <= now && isAlive(tracked)) this.kill(tracked, 'still running after the stop timeout: SIGKILL');
    }
  }

  /** One timer, for the earliest SIGKILL due; none while nothing is being stopped. */
  private arm(): void {
    let earliest: number | undefined;
    for (const tracked of this.tracked.values()) {
      if (!tracked.killed && tracked.killAt !== undefined && isAlive(tracked)) earliest = Math.min(earliest ?? tracked.killAt, tracked.killAt);
    }
    if (earliest === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = earliest;
    if (earliest === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.look();
    }, Math.max(0, Math.ceil(earliest - this.now())));
  }

  private nextWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Outside our tree (passed on over a Unix socket, adopted by another subreaper): found by the socket's inode. */
  private async lastResort(): Promise<void> {
    const labels = new Map([...this.sockets.values()].map((socket) => [socket.inode, socket.label]));
    const holders = socketHolders(new Set(labels.keys()), { except: process.pid });
    if (holders.length === 0) return;
    const killed: Tracked[] = [];
    for (const holder of holders) {
      const tracked = this.track(holder.pid);
      if (!tracked) continue;
      this.options.logger.log('error', `${describe(tracked)} still holds the socket of ${labels.get(holder.inode) ?? 'the pool'} after the stop: SIGKILL`, { pid: holder.pid });
      tracked.killed = true;
      signal(tracked, 'SIGKILL');
      killed.push(tracked);
    }
    const giveUpAt = this.now() + KILL_WAIT_MS;
    while (killed.some(isAlive) && this.now() < giveUpAt) {
      this.look();
      await this.nextWake(FINISH_LOOK_MS);
    }
    this.look();
  }
}

/** The process we tracked is still there and has not exited (an exited one holds no socket and counts as gone). */
function isAlive(tracked: Tracked): boolean {
  const stat = readStat(tracked.pid);
  return stat !== undefined && !hasExited(stat) && stat.startTime === tracked.startTime;
}

/** Its /proc entry is still this process's, zombie or not. */
function exists(tracked: Tracked): boolean {
  return readStat(tracked.pid)?.startTime === tracked.startTime;
}

/** To its process group when it leads one (a setsid()'d helper's own children go with it), else to it alone. */
function signal(tracked: Tracked, name: NodeJS.Signals): void {
  if (!isAlive(tracked)) return;
  const leads = readStat(tracked.pid)?.pgrp === tracked.pid;
  try {
    process.kill(leads ? -tracked.pid : tracked.pid, name);
  } catch {
    // Gone meanwhile.
  }
}
