/**
 * What the process manager reads of one worker at a look (core/manager-look.ts), beside the one classification
 * (worker-activity.ts): its context switches (idle at two looks with none in between: it served nothing), the
 * sockets its group holds besides the listener (a new connection changes them), whether a thread waits for its
 * client or in an event loop (request-timeout does not count that time), and the PSS of its group.
 */
import type { WorkerSample } from '../core/events.js';
import { ConnectionLook, socketDescriptors, type SocketIdentity } from './connections.js';
import { groupDescendants, numericEntries, readProcText } from './proc.js';
import { syscallNumbers } from './syscall-numbers.js';
import { workerActivity } from './worker-activity.js';

/** read, readv, recvfrom, recvmsg: the descriptor is the first argument. */
const READS: Readonly<Record<string, readonly number[]>> = { x64: [0, 19, 45, 47], arm64: [63, 65, 207, 212], riscv64: [63, 65, 207, 212] };

function members(pgid: number): number[] {
  return [pgid, ...groupDescendants(pgid)];
}

function statusField(pid: number, names: readonly string[]): number {
  const text = readProcText(`/proc/${pid}/status`) ?? '';
  let sum = 0;
  for (const name of names) sum += Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return sum;
}

/** PSS: a page shared by n processes counts 1/n to each, so a forking master and its children add up right (RSS would count shared pages once per process). */
function pssBytes(pid: number): number {
  return Number(/^Pss:\s+(\d+) kB$/m.exec(readProcText(`/proc/${pid}/smaps_rollup`) ?? '')?.[1] ?? 0) * 1024;
}

function epollHolds(pid: number, epollFd: number, inodes: ReadonlySet<number>): boolean {
  const info = readProcText(`/proc/${pid}/fdinfo/${epollFd}`) ?? '';
  for (const match of info.matchAll(/^tfd:.*\bino:([0-9a-f]+)/gm)) if (inodes.has(parseInt(match[1] ?? '', 16))) return true;
  return false;
}

function waitsOnClient(pid: number, descriptors: ReadonlyMap<number, number>, listener: number): boolean {
  const numbers = syscallNumbers();
  const reads = READS[process.arch] ?? [];
  if (!numbers) return false;
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    const [nrText, argText] = (readProcText(`/proc/${pid}/task/${tid}/syscall`) ?? '').split(' ');
    const nr = Number(nrText);
    const fd = Number.parseInt(argText ?? '', 16);
    // Only the event loop that holds the sockets: every Node process also has a platform thread in epoll_pwait
    // on a loop of its own (measured), which says nothing of its requests.
    if (numbers.epoll.includes(nr) && epollHolds(pid, fd, new Set(descriptors.values()))) return true;
    if (reads.includes(nr) && descriptors.has(fd) && descriptors.get(fd) !== listener) return true;
  }
  return false;
}

export function sampleWorker(pgid: number, socket: SocketIdentity, look: ConnectionLook, memory: boolean): WorkerSample | undefined {
  const activity = workerActivity(pgid, socket, look)?.activity;
  if (activity === undefined) return undefined;
  let switches = 0;
  let pss = 0;
  let waiting = false;
  const held: number[] = [];
  for (const pid of members(pgid)) {
    const descriptors = socketDescriptors(pid);
    for (const inode of descriptors.values()) if (inode !== socket.inode) held.push(inode);
    switches += statusField(pid, ['voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches']);
    if (memory) pss += pssBytes(pid);
    if (activity === 'busy' && !waiting) waiting = waitsOnClient(pid, descriptors, socket.inode);
  }
  const connections = [...new Set(held)].sort((a, b) => a - b).join(',');
  return { pid: pgid, activity, switches, connections, waitingOnClient: waiting, ...(memory ? { pss } : {}) };
}

/** What a worker stopped for request-timeout was blocked in, for its log line. */
export function blockedIn(pid: number): { wchan: string; syscall: string } {
  const wchan = (readProcText(`/proc/${pid}/wchan`) ?? '?').trim() || '?';
  const syscall = (readProcText(`/proc/${pid}/syscall`) ?? '?').trim().split(' ')[0] ?? '?';
  return { wchan, syscall };
}
