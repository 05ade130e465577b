/**
 * Linux /proc readers: which processes form a worker's process group, and whether one of them
 * waits on the pool's socket (DESIGN.md "Worker readiness").
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * How a worker was seen on the pool's socket: blocked in accept() (idle), in epoll_wait() with the
 * socket in its set (an event-loop worker), or holding a connection accepted from it (busy: under
 * load a worker may never be caught waiting, and php-cgi may even serve PHP_FCGI_MAX_REQUESTS and
 * exit between two looks).
 */
export type Listening = 'accept' | 'epoll' | 'serving';

/** What identifies the pool's socket in /proc. */
export interface SocketIdentity {
  readonly inode: number;
  /** TCP: connections accepted from it have this local port. */
  readonly port?: number;
  /** Unix: connections accepted from it show the listener's path in /proc/net/unix. */
  readonly path?: string;
}

interface SyscallNumbers {
  readonly accept: readonly number[];
  readonly epoll: readonly number[];
  /** wait4, waitid: a prefork master (php-cgi, fcgiwrap -c) waiting for its children. */
  readonly wait: readonly number[];
}

// Syscall numbers differ by architecture (asm/unistd.h). Elsewhere wchan is the hint.
const SYSCALLS: Readonly<Record<string, SyscallNumbers>> = {
  x64: { accept: [43, 288], epoll: [232, 281, 441], wait: [61, 247] },
  arm64: { accept: [202, 242], epoll: [22, 441], wait: [260, 95] },
};

export interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** Clock ticks since boot: with the pid, the identity of a process (pids are recycled). */
  readonly startTime: number;
}

/**
 * /proc files read through one buffer kept for the process: readFileSync allocates 64 KiB per call,
 * which glibc keeps after GC — measured, thousands of probes while workers start grew the heap by
 * tens of MiB.
 */
const chunk = Buffer.allocUnsafe(64 * 1024);

export function readProcText(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let text = '';
    for (;;) {
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read <= 0) return text;
      text += chunk.toString('latin1', 0, read);
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export function readStat(pid: number): ProcStat | undefined {
  const text = readProcText(`/proc/${pid}/stat`);
  if (text === undefined || text === '') return undefined;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    state: fields[0] ?? '?',
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    startTime: Number(fields[19]),
  };
}

/** The numeric entries of a /proc directory (pids, tids, fds); none when it cannot be read. */
export function numericEntries(path: string): number[] {
  try {
    return readdirSync(path)
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

export function allProcesses(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of numericEntries('/proc')) {
    const stat = readStat(pid);
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Live (not zombie) members of a process group. */
export function processGroupMembers(pgid: number): number[] {
  return allProcesses()
    .filter((stat) => stat.pgrp === pgid && stat.state !== 'Z')
    .map((stat) => stat.pid);
}

/** The socket inode behind a process's fd, from its /proc/PID/fd link (`socket:[INODE]`). */
export function socketInodeOf(pid: number, fd: number): number | undefined {
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function epollWatches(pid: number, epollFd: number, inode: number): boolean {
  try {
    const info = readProcText(`/proc/${pid}/fdinfo/${epollFd}`) ?? '';
    for (const match of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) {
      if (parseInt(match[1] ?? '', 16) === inode) return true;
    }
  } catch {
    // The process or the fd went away while we looked.
  }
  return false;
}

function threadListening(pid: number, tid: number, inode: number, numbers: SyscallNumbers): Listening | undefined {
  const text = readProcText(`/proc/${pid}/task/${tid}/syscall`);
  if (text === undefined) return undefined;
  // "<nr> <arg1> ..." while blocked in a syscall; "running" or "-1 ..." otherwise.
  const [nrText, firstArg] = text.split(' ');
  const nr = Number(nrText);
  const fd = Number.parseInt(firstArg ?? '', 16);
  if (!Number.isFinite(nr) || !Number.isFinite(fd)) return undefined;
  if (numbers.accept.includes(nr)) return socketInodeOf(pid, fd) === inode ? 'accept' : undefined;
  if (numbers.epoll.includes(nr)) return epollWatches(pid, fd, inode) ? 'epoll' : undefined;
  return undefined;
}

/** Whether /proc can tell readiness on this machine (syscall numbers known and the file readable). */
export function canObserveSyscalls(): boolean {
  if (!SYSCALLS[process.arch]) return false;
  try {
    readFileSync('/proc/self/syscall', 'latin1');
    return true;
  } catch {
    return false;
  }
}

/**
 * How the given process waits on the socket, if any thread of it does: blocked in accept() on it
 * (idle, ready) or in epoll_wait() on an epoll set that contains it (an event-loop worker).
 */
export function listeningState(pid: number, inode: number): Listening | undefined {
  const numbers = SYSCALLS[process.arch];
  if (!numbers) return undefined;
  let found: Listening | undefined;
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    const state = threadListening(pid, tid, inode, numbers);
    if (state === 'accept') return state;
    found ??= state;
  }
  return found;
}

function socketInodes(pid: number, except: number): Set<number> {
  const inodes = new Set<number>();
  for (const fd of numericEntries(`/proc/${pid}/fd`)) {
    const inode = socketInodeOf(pid, fd);
    if (inode !== undefined && inode !== except) inodes.add(inode);
  }
  return inodes;
}

function tableLines(path: string): string[] {
  return (readProcText(path) ?? '').split('\n').slice(1);
}

/**
 * The inodes of the connections accepted from the pool's socket, from the network namespace's
 * tables (TCP: local port = ours, not listening; Unix: the listener's bind path). The fallback: a
 * busy host's table holds tens of thousands of lines.
 */
function acceptedConnections(socket: SocketIdentity, pid: number): Set<number> {
  const inodes = new Set<number>();
  if (socket.port !== undefined) {
    for (const table of ['tcp', 'tcp6']) {
      for (const line of tableLines(`/proc/${pid}/net/${table}`)) {
        const fields = line.trim().split(/\s+/);
        const local = fields[1];
        if (!local || fields[3] === '0A') continue;
        if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === socket.port) inodes.add(Number(fields[9]));
      }
    }
  } else if (socket.path !== undefined) {
    for (const line of tableLines(`/proc/${pid}/net/unix`)) {
      const fields = line.trim().split(/\s+/);
      if (fields[7] === socket.path && Number(fields[6]) !== socket.inode) inodes.add(Number(fields[6]));
    }
  }
  inodes.delete(socket.inode);
  return inodes;
}

type PortReader = (pid: number, fd: number) => number | undefined;
let portReader: PortReader | undefined;

/**
 * The supervisor lends its libc reader (pidfd_getfd + getsockname): this module stays free of koffi
 * so that the CLI's light paths can read /proc through it without loading it.
 */
export function useSocketPortReader(reader: PortReader): void {
  portReader = reader;
}

/** TCP through the worker's own descriptors; undefined where the reader could not tell (no pidfd_getfd, EPERM). */
function servingByPort(pid: number, port: number, listenInode: number): boolean | undefined {
  if (!portReader) return undefined;
  let answered = false;
  for (const fd of numericEntries(`/proc/${pid}/fd`)) {
    const inode = socketInodeOf(pid, fd);
    if (inode === undefined || inode === listenInode) continue;
    const local = portReader(pid, fd);
    if (local === undefined) continue;
    answered = true;
    if (local === port) return true;
  }
  return answered ? false : undefined;
}

/**
 * Whether the process holds a connection that was accepted from the pool's socket: TCP by the local
 * port of its descriptors where the port reader can tell, otherwise from the namespace's tables.
 */
export function servingConnection(pid: number, socket: SocketIdentity): boolean {
  if (socket.port !== undefined) {
    const byPort = servingByPort(pid, socket.port, socket.inode);
    if (byPort !== undefined) return byPort;
  }
  const inodes = socketInodes(pid, socket.inode);
  if (inodes.size === 0) return false;
  const connections = acceptedConnections(socket, pid);
  for (const inode of inodes) if (connections.has(inode)) return true;
  return false;
}

function processState(pid: number, socket: SocketIdentity): Listening | undefined {
  return listeningState(pid, socket.inode) ?? (servingConnection(pid, socket) ? 'serving' : undefined);
}

/** The best answer among a worker's process group: its leader first, then the other members. */
export function groupListeningState(pgid: number, socket: SocketIdentity): Listening | undefined {
  const leader = processState(pgid, socket);
  if (leader === 'accept') return leader;
  let found = leader;
  for (const pid of groupDescendants(pgid)) {
    const state = processState(pid, socket);
    if (state === 'accept') return state;
    found ??= state;
  }
  return found;
}

/**
 * The leader's descendants in its process group, through /proc/PID/task/TID/children: a worker's
 * children (php-cgi's, fcgiwrap -c's) without reading every process on the host. Where the kernel
 * has no children files, the whole table is read instead.
 */
export function groupDescendants(pgid: number): number[] {
  if (readProcText(`/proc/${pgid}/task/${pgid}/children`) === undefined) {
    return processGroupMembers(pgid).filter((pid) => pid !== pgid);
  }
  const found: number[] = [];
  const queue = [pgid];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const tid of numericEntries(`/proc/${pid}/task`)) {
      for (const child of (readProcText(`/proc/${pid}/task/${tid}/children`) ?? '').split(' ')) {
        const childPid = Number(child);
        if (!Number.isInteger(childPid) || childPid <= 0) continue;
        const stat = readStat(childPid);
        if (stat?.pgrp === pgid && stat.state !== 'Z') found.push(childPid);
        queue.push(childPid);
      }
    }
  }
  return found;
}

export type Activity = 'idle' | 'listening' | 'busy';

function waitingForChildren(pid: number, numbers: SyscallNumbers): boolean {
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    const nr = Number((readProcText(`/proc/${pid}/task/${tid}/syscall`) ?? '').split(' ')[0]);
    if (numbers.wait.includes(nr)) return true;
  }
  return false;
}

/**
 * What a worker's process group is doing, from the syscalls its members are blocked in — no
 * connection tables (a busy host's /proc/net/tcp holds tens of thousands of lines): idle when every
 * member waits in accept() on the socket (a master may wait for its children instead); listening
 * when an event loop has the socket in its epoll set; busy otherwise (serving, or between two
 * requests: looked at again later). Undefined where /proc cannot tell.
 */
export function groupActivity(pgid: number, inode: number): Activity | undefined {
  const numbers = SYSCALLS[process.arch];
  if (!numbers) return undefined;
  const members = [pgid, ...groupDescendants(pgid)];
  let accepting = 0;
  let listening = 0;
  for (const pid of members) {
    const state = listeningState(pid, inode);
    if (state === 'accept') accepting += 1;
    else if (state === 'epoll') listening += 1;
    else if (!(pid === pgid && members.length > 1 && waitingForChildren(pid, numbers))) return 'busy';
  }
  if (listening > 0) return 'listening';
  return accepting > 0 ? 'idle' : 'busy';
}
