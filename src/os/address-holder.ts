/**
 * Who holds the address a bind was refused on, read from /proc: so that "address in use" names the
 * program (nginx, another pool) instead of guessing. The listening socket's inode comes from the
 * namespace's tables (/proc/net/tcp, tcp6, unix), its holder from the /proc/PID/fd links. Another
 * user's fd links are unreadable without root: then there is no answer, and the caller says less.
 */
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { socketDescriptors } from './connections.js';
import { numericEntries, readProcText, readStat } from './proc.js';
import { encodeSockaddr, formatAddress, tcpFamily, type ListenAddress } from './sockaddr.js';

export interface AddressHolder {
  /** The topmost process holding the socket (nginx's master, not its workers). */
  readonly pid: number;
  /** Its command name (/proc/PID/comm), or `fcgi-spawn` for one of ours. */
  readonly name: string;
  /** What the listener is bound to, as we print addresses (0.0.0.0:9005 may be what refused 127.0.0.1:9005). */
  readonly bound: string;
  /** An fcgi-spawn supervisor: another instance of ours. */
  readonly ours: boolean;
}

interface Listener {
  readonly inode: number;
  readonly bound: string;
}

const LISTEN = '0A';

/** The address bytes of a /proc/net/tcp{,6} field: 32-bit words printed in host byte order. */
function decodeHost(hex: string): Buffer {
  const bytes = Buffer.from(hex, 'hex');
  if (endianness() === 'LE') for (let at = 0; at < bytes.length; at += 4) bytes.subarray(at, at + 4).reverse();
  return bytes;
}

/** ::ffff:a.b.c.d is the IPv4 address a.b.c.d. */
function normalized(bytes: Buffer): Buffer {
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.subarray(12) : bytes;
}

/** Whether a listener on `theirs` refuses a bind of `ours` to the same port. */
function conflicts(ours: Buffer, theirs: Buffer): boolean {
  const a = normalized(ours);
  const b = normalized(theirs);
  const wildcard = (bytes: Buffer): boolean => bytes.every((byte) => byte === 0);
  // [::] (dual-stack) covers every IPv4 address; 0.0.0.0 covers no IPv6 one.
  if (a.length !== b.length) return wildcard(a.length === 16 ? a : b);
  return wildcard(a) || wildcard(b) || a.equals(b);
}

function hostText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // The longest run of two or more zero groups becomes '::'.
  const text = groups.join(':');
  const runs = text.match(/(?:^|:)0(?::0)+(?::|$)/g) ?? [];
  const longest = runs.reduce((best, run) => (run.length > best.length ? run : best), '');
  return longest === '' ? text : text.replace(longest, '::');
}

function tableLines(path: string): string[][] {
  return (readProcText(path) ?? '').split('\n').slice(1).map((line) => line.trim().split(/\s+/));
}

function tcpListeners(host: string, port: number): Listener[] {
  // The address bytes of struct sockaddr_in (at 4) or sockaddr_in6 (at 8).
  const sockaddr = encodeSockaddr({ kind: 'tcp', host, port });
  const ours = tcpFamily(host) === 4 ? sockaddr.subarray(4, 8) : sockaddr.subarray(8, 24);
  const listeners: Listener[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const [, local, , state, , , , , , inode] of tableLines(table)) {
      if (state !== LISTEN || !local || !inode) continue;
      const [hex = '', portHex = ''] = local.split(':');
      if (parseInt(portHex, 16) !== port) continue;
      const theirs = decodeHost(hex);
      if (!conflicts(ours, theirs)) continue;
      listeners.push({ inode: Number(inode), bound: formatAddress({ kind: 'tcp', host: hostText(theirs), port }) });
    }
  }
  return listeners;
}

/** Unix listeners: flags __SO_ACCEPTCON (0x10000), bound to the path. */
function unixListeners(path: string): Listener[] {
  return tableLines('/proc/net/unix')
    .filter((fields) => fields[7] === path && (parseInt(fields[3] ?? '0', 16) & 0x10000) !== 0)
    .map((fields) => ({ inode: Number(fields[6]), bound: path }));
}

/** Every process holding one of the inodes, by inode. */
function holdersOf(inodes: ReadonlySet<number>): Map<number, number[]> {
  const holders = new Map<number, number[]>();
  for (const pid of numericEntries('/proc')) {
    const inode = [...socketDescriptors(pid).values()].find((held) => inodes.has(held));
    if (inode !== undefined) holders.set(inode, [...(holders.get(inode) ?? []), pid]);
  }
  return holders;
}

function isFcgiSpawn(pid: number): boolean {
  const args = (readProcText(`/proc/${pid}/cmdline`) ?? '').split('\0').slice(0, 3);
  return args.some((arg) => ['fcgi-spawn', 'fcgi-spawn.js'].includes(basename(arg)));
}

/** The process holding the listener on (or covering) this address, when /proc can tell. */
export function addressHolder(address: ListenAddress): AddressHolder | undefined {
  const listeners = address.kind === 'unix' ? unixListeners(address.path) : tcpListeners(address.host, address.port);
  if (listeners.length === 0) return undefined;
  const holders = holdersOf(new Set(listeners.map((listener) => listener.inode)));
  for (const listener of listeners) {
    const pids = holders.get(listener.inode) ?? [];
    // The topmost holder: a master whose workers inherited the socket from it.
    const top = pids.find((pid) => !pids.includes(readStat(pid)?.ppid ?? 0));
    if (top === undefined) continue;
    const ours = isFcgiSpawn(top);
    const name = ours ? 'fcgi-spawn' : (readProcText(`/proc/${top}/comm`) ?? '').trim() || 'an unnamed process';
    return { pid: top, name, bound: listener.bound, ours };
  }
  return undefined;
}
