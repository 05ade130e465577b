/**
 * What a supervisor hands to the program that replaces it in place (`fcgi-spawn upgrade`, SIGUSR2): its pools, the
 * serving generation of each, that generation's socket and workers, and its instance lock, as descriptors it keeps
 * across execve() and identities of processes. Written to the private run directory (created O_EXCL|O_NOFOLLOW,
 * mode 0600) and read back by the new program, which believes it only if every check passes: the file is a
 * regular file of ours, 0600, one link; it names this very process (pid, start time, boot); every worker is still
 * the process that was recorded and still our child; every descriptor is what it was said to be. A worker's user
 * must not be able to steer what the new program adopts (DESIGN.md "The trust boundary"). The file is removed as
 * soon as it is opened: it is good for one execve.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, unlinkSync, writeSync } from 'node:fs';
import { currentBootId } from '../os/boot-id.js';
import { readStat } from '../os/proc.js';
import { getIntOption, SO_ACCEPTCONN, SOL_SOCKET } from '../os/libc.js';
import { unixPeerInode } from '../os/sock-diag.js';
import { identityOf, isSameProcess, type ProcessIdentity } from './record.js';

export const UPGRADE_STATE_VERSION = 1;
/** The environment variable that carries the state's path to the new program (removed from its environment at once). */
export const UPGRADE_STATE_ENV = 'FCGI_SPAWN_UPGRADE_STATE';

export interface UpgradeWorker {
  readonly slot: number;
  readonly identity: ProcessIdentity;
  /** How long it had run (the new program's clock starts at zero). */
  readonly ageMs: number;
  readonly restarts: number;
  /** Our ends of its stdout and stderr pipes, kept open across execve (none when its output was not a pipe to us). */
  readonly stdout?: number;
  readonly stderr?: number;
}

export interface UpgradePool {
  readonly key: string;
  readonly name: string;
  readonly generation: number;
  readonly nextGeneration: number;
  readonly desiredWorkers: number;
  readonly blocking: boolean;
  readonly socket: { readonly fd: number; readonly inode: number; readonly bindName?: string };
  readonly workers: readonly UpgradeWorker[];
}

export interface UpgradeState {
  readonly version: typeof UPGRADE_STATE_VERSION;
  /** Names this upgrade: `upgrade` waits until the status shows it finished. */
  readonly id: string;
  readonly from: string;
  readonly requestedAt: string;
  readonly supervisor: ProcessIdentity;
  readonly lock: { readonly fd: number; readonly dev: number; readonly ino: number };
  readonly pools: readonly UpgradePool[];
}

export type UpgradeStateRead = { readonly kind: 'ok'; readonly state: UpgradeState } | { readonly kind: 'refused'; readonly reason: string };

const MAX_BYTES = 1 << 20;

/** Created, never replaced: a leftover of a failed attempt (ours, a regular file) is removed first. */
export function writeUpgradeState(path: string, state: UpgradeState): void {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(path, flags, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stat = lstatSync(path);
    if (!stat.isFile()) throw new Error(`${path} exists and is not a regular file: refusing to replace it`);
    unlinkSync(path);
    fd = openSync(path, flags, 0o600);
  }
  try {
    writeSync(fd, JSON.stringify(state));
  } finally {
    closeSync(fd);
  }
}

/** Opened without following a link or blocking on a FIFO, removed at once, checked whole before anything is believed. */
export function readUpgradeState(path: string, euid: number): UpgradeStateRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return refused(code === 'ELOOP' ? `${path} is a symlink` : `cannot open ${path}: ${code ?? (error as Error).message}`);
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return refused(`${path} is not a regular file`);
    // Removed only when it is the file we would have written (a planted link or FIFO stays where it is).
    unlinkQuietly(path);
    if (stat.uid !== euid) return refused(`${path} is owned by uid ${stat.uid}, not ${euid}`);
    if ((stat.mode & 0o777) !== 0o600) return refused(`${path} has mode ${(stat.mode & 0o777).toString(8)}, not 600`);
    if (stat.nlink !== 1) return refused(`${path} has ${stat.nlink} links`);
    if (stat.size > MAX_BYTES) return refused(`${path} is ${stat.size} bytes long`);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let state: UpgradeState;
  try {
    state = JSON.parse(text) as UpgradeState;
  } catch {
    return refused(`${path} is not JSON`);
  }
  const problem = shapeProblem(state) ?? verify(state);
  return problem ? refused(`${path}: ${problem}`) : { kind: 'ok', state };
}

function refused(reason: string): UpgradeStateRead {
  return { kind: 'refused', reason };
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already.
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isIdentity = (value: unknown): value is ProcessIdentity => {
  const identity = value as ProcessIdentity | undefined;
  return isCount(identity?.pid) && identity.pid > 0 && isCount(identity.startTime) && typeof identity.bootId === 'string';
};

function shapeProblem(state: UpgradeState): string | undefined {
  if (state?.version !== UPGRADE_STATE_VERSION) return `not an upgrade state of version ${UPGRADE_STATE_VERSION}`;
  if (typeof state.id !== 'string' || typeof state.from !== 'string' || !isIdentity(state.supervisor)) return 'not an upgrade state';
  if (!isCount(state.lock?.fd) || !isCount(state.lock.dev) || !isCount(state.lock.ino)) return 'no instance lock';
  if (!Array.isArray(state.pools) || state.pools.length === 0) return 'no pool';
  for (const pool of state.pools) {
    const ok = typeof pool.key === 'string' && typeof pool.name === 'string' && isCount(pool.generation) && isCount(pool.nextGeneration) && isCount(pool.desiredWorkers) && typeof pool.blocking === 'boolean';
    if (!ok || !isCount(pool.socket?.fd) || !isCount(pool.socket.inode) || !Array.isArray(pool.workers)) return `pool ${String(pool?.name)} is malformed`;
    for (const worker of pool.workers) {
      const fds = [worker.stdout, worker.stderr].every((fd) => fd === undefined || isCount(fd));
      if (!isCount(worker.slot) || !isIdentity(worker.identity) || !isCount(worker.ageMs) || !isCount(worker.restarts) || !fds) return `a worker of pool ${pool.name} is malformed`;
    }
  }
  return undefined;
}

/** Every process is the one recorded, every descriptor the one described; the first difference refuses the whole. */
function verify(state: UpgradeState): string | undefined {
  if (state.supervisor.pid !== process.pid || !isSameProcess(state.supervisor)) return `written for process ${state.supervisor.pid}, not this one (pid ${process.pid})`;
  if (state.supervisor.bootId !== currentBootId()) return 'written in another boot';
  const lock = describeFd(state.lock.fd);
  if (!lock?.isFile() || lock.dev !== state.lock.dev || lock.ino !== state.lock.ino) return `descriptor ${state.lock.fd} is not the instance lock`;
  const seen = new Set<number>();
  for (const pool of state.pools) {
    const socket = describeFd(pool.socket.fd);
    if (!socket?.isSocket() || socket.ino !== pool.socket.inode || !isListening(pool.socket.fd)) return `descriptor ${pool.socket.fd} is not pool ${pool.name}'s listening socket`;
    for (const worker of pool.workers) {
      const { pid } = worker.identity;
      if (seen.has(pid)) return `process ${pid} is named twice`;
      seen.add(pid);
      if (!isSameProcess(worker.identity)) return `process ${pid} of pool ${pool.name} is not the worker that was recorded (gone, or its pid reused)`;
      if (readStat(pid)?.ppid !== process.pid) return `process ${pid} of pool ${pool.name} is not our child`;
    }
  }
  return undefined;
}

function describeFd(fd: number): ReturnType<typeof fstatSync> | undefined {
  try {
    return fstatSync(fd);
  } catch {
    return undefined;
  }
}

function isListening(fd: number): boolean {
  try {
    return getIntOption(fd, SOL_SOCKET, SO_ACCEPTCONN) === 1;
  } catch {
    return false;
  }
}

/**
 * What our end of the worker's stdout (1) or stderr (2) is called in /proc: the same `pipe:[INODE]` for a pipe, the
 * peer's `socket:[INODE]` for the socketpair libuv makes of a 'pipe' stdio. Undefined when it is neither.
 */
function ourEndOf(pid: number, workerFd: 1 | 2): string | undefined {
  const theirs = linkOf(`/proc/${pid}/fd/${workerFd}`);
  if (theirs?.startsWith('pipe:')) return theirs;
  const socket = /^socket:\[(\d+)\]$/.exec(theirs ?? '');
  const peer = socket ? unixPeerInode(Number(socket[1])) : undefined;
  return peer !== undefined ? `socket:[${peer}]` : undefined;
}

/** Our descriptor for the other end of a worker's stdout or stderr; undefined when its output does not come to us. */
export function pipeOfWorker(pid: number, workerFd: 1 | 2, ours: readonly number[]): number | undefined {
  const wanted = ourEndOf(pid, workerFd);
  return wanted === undefined ? undefined : ours.find((fd) => linkOf(`/proc/self/fd/${fd}`) === wanted);
}

/** The same check on the new program's side: a descriptor that is not the worker's output any more is not read. */
export function isWorkerPipe(pid: number, workerFd: 1 | 2, fd: number): boolean {
  const wanted = ourEndOf(pid, workerFd);
  return wanted !== undefined && linkOf(`/proc/self/fd/${fd}`) === wanted;
}

function linkOf(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

export function selfIdentity(): ProcessIdentity {
  return identityOf(process.pid) as ProcessIdentity;
}
