/**
 * What a worker's process group is doing, read from /proc (DESIGN.md "What a worker is doing"): one
 * classification that readiness, drain and status all use. For every process of the group, in this
 * order: holding a connection accepted from the socket is busy, whatever it waits in (a busy
 * fcgiwrap sits in pselect6 on its CGI's pipes with fd 0 still the listening socket); blocked in
 * accept() on the socket, or in poll/select with the socket in reach (gunicorn's sync worker sits in
 * pselect6 on a dup of it), is idle; in epoll_wait with the socket in its set is listening (an event
 * loop); anything else is busy. A group leader that holds no connection and only waits for its
 * children or a signal takes its members' state.
 */
import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { ConnectionLook, socketDescriptors, type SocketIdentity } from './connections.js';
import { groupDescendants, numericEntries, readProcText } from './proc.js';
import { syscallNumbers, type SyscallNumbers } from './syscall-numbers.js';

/**
 * How a worker was seen able to take connections: blocked in accept() on the socket, in poll or
 * select holding it, in epoll_wait with it in the set, or serving one accepted from it (under load a
 * worker may never be caught waiting, and php-cgi may even serve PHP_FCGI_MAX_REQUESTS and exit
 * between two looks).
 */
export type Listening = 'accept' | 'poll' | 'epoll' | 'serving';

export type Activity = 'idle' | 'listening' | 'busy';

export interface WorkerActivity {
  readonly activity: Activity;
  /** How some member takes connections: the worker is ready. Undefined while none does. */
  readonly ready?: Listening;
}

/**
 * What one process is doing. `waiting`: for its children or a signal, in a call that cannot involve
 * the socket (pause, wait4, …; a select whose nfds stops below the socket's descriptors, or a poll
 * or epoll without it: gunicorn's master sleeps in pselect6(4, …) on its signal pipe while holding
 * the socket at fd 6, measured).
 */
type Seen = Listening | 'waiting' | 'other';

/** A process's answer is the best of its threads' (Node's and gunicorn gthread's helper threads wait in futex). */
const RANK: readonly Seen[] = ['accept', 'poll', 'epoll', 'waiting', 'other'];

/** Whether /proc can tell what workers do on this machine (syscall numbers known and the file readable). */
export function canObserveSyscalls(): boolean {
  return syscallNumbers() !== undefined && readProcText('/proc/self/syscall') !== undefined;
}

function epollWatches(pid: number, epollFd: number, inode: number): boolean {
  const info = readProcText(`/proc/${pid}/fdinfo/${epollFd}`) ?? '';
  for (const match of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
    if (parseInt(match[1] ?? '', 16) === inode) return true;
  }
  return false;
}

/** At most this many pollfds are read: a server polling more is looked at by the holding rule alone. */
const MAX_POLL_FDS = 4096;

/**
 * Whether a poll()/ppoll() waits on one of the socket's descriptors, read from the caller's pollfd array
 * (struct pollfd: int fd, short events, short revents). php-cgi polls the connection it has just accepted
 * (up to 5 s for its first record) while fd 0 is still the listening socket: "holds the socket" alone made
 * it idle, an auto pool's socket non-blocking, and php-cgi's next accept() fail with EAGAIN, which ends it.
 * Undefined where the memory cannot be read (no ptrace access, the call ended while we looked).
 */
function pollWatches(pid: number, pointer: bigint, count: number, listenFds: readonly number[]): boolean | undefined {
  if (count <= 0 || count > MAX_POLL_FDS || pointer === 0n) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r');
    const entries = Buffer.alloc(count * 8);
    if (readSync(fd, entries, 0, entries.length, pointer) !== entries.length) return undefined;
    for (let index = 0; index < count; index += 1) {
      if (listenFds.includes(entries.readInt32LE(index * 8))) return true;
    }
    return false;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function threadSees(pid: number, tid: number, listenFds: readonly number[], inode: number, numbers: SyscallNumbers): Seen {
  // "<nr> <arg1> ..." while blocked in a call; "running" or "-1 ..." otherwise.
  const [nrText, firstArg, secondArg] = (readProcText(`/proc/${pid}/task/${tid}/syscall`) ?? '').split(' ');
  const nr = Number(nrText);
  const first = Number.parseInt(firstArg ?? '', 16);
  if (!Number.isInteger(nr) || nr < 0 || !Number.isFinite(first)) return 'other';
  if (numbers.accept.includes(nr)) return listenFds.includes(first) ? 'accept' : 'other';
  if (numbers.select.includes(nr)) return listenFds.some((fd) => fd < first) ? 'poll' : 'waiting';
  if (numbers.poll.includes(nr)) {
    if (listenFds.length === 0) return 'waiting';
    // The descriptors are in the caller's memory; where it cannot be read, holding the socket is all we see.
    const watches = pollWatches(pid, BigInt.asUintN(64, BigInt(`0x${(firstArg ?? '').replace(/^0x/, '')}`)), Number.parseInt(secondArg ?? '', 16), listenFds);
    return watches === false ? 'other' : 'poll';
  }
  if (numbers.epoll.includes(nr)) return epollWatches(pid, first, inode) ? 'epoll' : 'waiting';
  return numbers.wait.includes(nr) ? 'waiting' : 'other';
}

/** Undefined when the process is gone. */
function processSees(pid: number, look: ConnectionLook, numbers: SyscallNumbers): Seen | undefined {
  const tids = numericEntries(`/proc/${pid}/task`);
  if (tids.length === 0) return undefined;
  const descriptors = socketDescriptors(pid);
  if (look.holds(pid, descriptors)) return 'serving';
  const { inode } = look.socket;
  const listenFds = [...descriptors].filter(([, held]) => held === inode).map(([fd]) => fd);
  let best: Seen = 'other';
  for (const tid of tids) {
    const seen = threadSees(pid, tid, listenFds, inode, numbers);
    if (RANK.indexOf(seen) < RANK.indexOf(best)) best = seen;
    if (best === 'accept') break;
  }
  return best;
}

const READY_ORDER: readonly Listening[] = ['accept', 'poll', 'epoll', 'serving'];

/**
 * What the worker whose process group is `pgid` is doing. Idle when every member counted waits on
 * the socket in accept/poll/select; listening when an event loop is among them and none is busy;
 * busy otherwise (serving, or between two looks: looked at again later). Ready when some member
 * takes connections. Undefined where /proc cannot tell. Pass one look to several calls to read the
 * connection tables (where needed at all) once.
 */
export function workerActivity(pgid: number, socket: SocketIdentity, look = new ConnectionLook(socket)): WorkerActivity | undefined {
  const numbers = syscallNumbers();
  if (!numbers) return undefined;
  const leader = processSees(pgid, look, numbers);
  const members: Seen[] = [];
  for (const pid of groupDescendants(pgid)) {
    const seen = processSees(pid, look, numbers);
    if (seen) members.push(seen);
  }
  // php-cgi's master in wait4, `fcgiwrap -c`'s in pause(), gunicorn's in pselect6 on its pipe.
  const counted = leader === 'waiting' && members.length > 0 ? members : leader ? [leader, ...members] : members;
  const everyone = leader ? [leader, ...members] : members;
  const ready = READY_ORDER.find((how) => everyone.includes(how));
  const busy = counted.length === 0 || counted.some((seen) => seen === 'serving' || seen === 'waiting' || seen === 'other');
  const activity: Activity = busy ? 'busy' : counted.includes('epoll') ? 'listening' : 'idle';
  return ready ? { activity, ready } : { activity };
}

/**
 * Whether the worker is ready, and how (a readiness probe: run for every starting worker, several times
 * each while a whole pool starts). The common answer first, at the cost of two small reads: the group
 * leader's main thread blocked in accept() on a descriptor that is the socket (fcgiwrap, php-cgi without
 * children) is ready, whatever else it holds. Anything else is looked at as workerActivity does.
 */
export function workerReadiness(pgid: number, socket: SocketIdentity): Listening | undefined {
  const numbers = syscallNumbers();
  if (!numbers) return undefined;
  const [nrText, firstArg] = (readProcText(`/proc/${pgid}/syscall`) ?? '').split(' ');
  if (numbers.accept.includes(Number(nrText))) {
    const fd = Number.parseInt(firstArg ?? '', 16);
    try {
      if (Number.isInteger(fd) && readlinkSync(`/proc/${pgid}/fd/${fd}`) === `socket:[${socket.inode}]`) return 'accept';
    } catch {
      // Gone, or the descriptor closed while we looked: the full look below says so.
    }
  }
  return workerActivity(pgid, socket)?.ready;
}
