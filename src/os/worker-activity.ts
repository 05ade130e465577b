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

function threadSees(pid: number, tid: number, listenFds: readonly number[], inode: number, numbers: SyscallNumbers): Seen {
  // "<nr> <arg1> ..." while blocked in a call; "running" or "-1 ..." otherwise.
  const [nrText, firstArg] = (readProcText(`/proc/${pid}/task/${tid}/syscall`) ?? '').split(' ');
  const nr = Number(nrText);
  const first = Number.parseInt(firstArg ?? '', 16);
  if (!Number.isInteger(nr) || nr < 0 || !Number.isFinite(first)) return 'other';
  if (numbers.accept.includes(nr)) return listenFds.includes(first) ? 'accept' : 'other';
  if (numbers.select.includes(nr)) return listenFds.some((fd) => fd < first) ? 'poll' : 'waiting';
  // poll's descriptors are in the caller's memory: holding the socket is all we can see.
  if (numbers.poll.includes(nr)) return listenFds.length > 0 ? 'poll' : 'waiting';
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
