/**
 * Which connections a process holds that were accepted from a pool's socket: a process holding one
 * is busy, whatever it waits in (DESIGN.md "What a worker is doing"). TCP connections are recognised
 * by their local port, read through the process's own descriptors (pidfd_getfd + getsockname, Linux
 * >= 5.6); where that cannot tell, and for Unix sockets, from the network namespace's tables.
 */
import { readlinkSync } from 'node:fs';
import { numericEntries, readProcText } from './proc.js';

/** What identifies the pool's socket in /proc. */
export interface SocketIdentity {
  readonly inode: number;
  /** TCP: connections accepted from it have this local port. */
  readonly port?: number;
  /** Unix: connections accepted from it show the listener's path in /proc/net/unix. */
  readonly path?: string;
}

/** A process's socket descriptors: fd → socket inode. */
export type SocketDescriptors = ReadonlyMap<number, number>;

export function socketDescriptors(pid: number): Map<number, number> {
  const found = new Map<number, number>();
  for (const fd of numericEntries(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) found.set(fd, Number(match[1]));
    } catch {
      // Closed while we looked.
    }
  }
  return found;
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

function tableLines(path: string): string[] {
  return (readProcText(path) ?? '').split('\n').slice(1);
}

/**
 * The inodes of the connections accepted from the pool's socket, from the network namespace's
 * tables (TCP: local port = ours, not listening; Unix: the listener's bind path). The fallback: a
 * busy host's table holds tens of thousands of lines.
 */
function acceptedFromTables(socket: SocketIdentity, pid: number): Set<number> {
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
      if (fields[7] === socket.path) inodes.add(Number(fields[6]));
    }
  }
  inodes.delete(socket.inode);
  return inodes;
}

/**
 * One look at the connections of a pool's workers: the tables, where they are needed at all, are
 * read once per look however many processes it asks about.
 */
export class ConnectionLook {
  private fromTables: Set<number> | undefined;

  constructor(readonly socket: SocketIdentity) {}

  /** Whether the process holds a connection accepted from the socket, among the given descriptors. */
  holds(pid: number, descriptors: SocketDescriptors): boolean {
    const others = [...descriptors].filter(([, inode]) => inode !== this.socket.inode);
    if (others.length === 0) return false;
    if (this.socket.port !== undefined) {
      const byPort = this.byPort(pid, descriptors, others);
      if (byPort !== undefined) return byPort;
    }
    this.fromTables ??= acceptedFromTables(this.socket, pid);
    const accepted = this.fromTables;
    return others.some(([, inode]) => accepted.has(inode));
  }

  /**
   * TCP through the process's own descriptors. The listener's own port answering proves the reader
   * works for this process, so a descriptor without a port is not TCP (the stdio socketpairs every
   * worker has) rather than unknown: no table is read. Undefined where the reader cannot tell
   * (no pidfd_getfd, EPERM, the listener not held).
   */
  private byPort(pid: number, descriptors: SocketDescriptors, others: ReadonlyArray<readonly [number, number]>): boolean | undefined {
    const { port, inode } = this.socket;
    if (!portReader) return undefined;
    // A worker's stdio socketpairs are looked at on every probe of it: their answers are kept by inode.
    const unknown = others.filter(([, held]) => !knownPorts.has(held));
    if (unknown.length > 0) {
      const listener = [...descriptors].find(([, held]) => held === inode);
      if (!listener || portReader(pid, listener[0]) !== port) return undefined;
      for (const [fd, held] of unknown) remember(held, portReader(pid, fd));
    }
    return others.some(([, held]) => knownPorts.get(held) === port);
  }
}

/**
 * What a socket inode's local port was, or 'none' where it is no TCP socket (a socketpair): fixed for the
 * socket's life once known (an unbound TCP socket, port 0, is not kept: it may yet get one), and socket
 * inodes are not reused while the counter that draws them has not wrapped. Bounded: the oldest go first.
 */
const knownPorts = new Map<number, number | 'none'>();
const KNOWN_PORTS_MAX = 16_384;

function remember(inode: number, port: number | undefined): void {
  if (port === 0) return;
  if (knownPorts.size >= KNOWN_PORTS_MAX) knownPorts.delete(knownPorts.keys().next().value as number);
  knownPorts.set(inode, port ?? 'none');
}

/** Whether the process holds a connection that was accepted from the pool's socket. */
export function servingConnection(pid: number, socket: SocketIdentity): boolean {
  return new ConnectionLook(socket).holds(pid, socketDescriptors(pid));
}
