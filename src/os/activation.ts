/**
 * systemd socket activation, the supervisor's side (sd_listen_fds(3)): the listening sockets a .socket unit (or
 * systemd-socket-activate) made before starting us, at fds 3, 4, … with LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES in our environment.
 *
 * These variables come from whoever started us, so nothing in them is trusted: LISTEN_PID must be our pid (else
 * they were meant for another process and are ignored), the count is bounded, every fd must be a stream socket in
 * listening state whose address the kernel reports (getsockname: never a name from the environment picks a path),
 * and a name is only a label to match a pool by. The variables are removed from our environment once read, so
 * workers never see them, and the fds are marked close-on-exec: a worker gets its pool's socket, as it is handed
 * today, and nothing else.
 */
import { fstatSync } from 'node:fs';
import { AF_INET, AF_INET6, AF_UNIX } from './address-families.js';
import * as libc from './libc.js';
import { formatAddress, type ListenAddress } from './sockaddr.js';

/** sd_listen_fds' first fd. */
export const LISTEN_FDS_START = 3;
/** More than any .socket unit of ours would pass; a larger count is a mistake, not a configuration. */
const MAX_FDS = 256;
const SOCK_STREAM = 1;

export class ActivationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActivationError';
  }
}

export interface InheritedSocket {
  readonly fd: number;
  /** LISTEN_FDNAMES' entry (FileDescriptorName=), when given. */
  readonly name?: string;
  /** What the kernel says the socket is bound to. */
  readonly address: ListenAddress;
  /** systemd set SO_REUSEPORT (ReusePort=yes): a reload's new TCP socket can join its group. */
  readonly reusePort: boolean;
}

const VARIABLES = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_PIDFDID', 'LISTEN_FDNAMES'] as const;

/** Whether the environment passes sockets to this very process (cheap: no fd is looked at). */
export function activatedFor(env: NodeJS.ProcessEnv, pid: number): boolean {
  return env.LISTEN_FDS !== undefined && env.LISTEN_PID !== undefined && env.LISTEN_PID.trim() === String(pid);
}

/** sd_listen_fds fails on a LISTEN_PID that is not a pid (parse_pid), rather than guessing whom it was for. */
function listenPid(text: string): number {
  const trimmed = text.trim();
  if (!/^[1-9]\d{0,9}$/.test(trimmed) || Number(trimmed) > 0x7fffffff) throw new ActivationError(`LISTEN_PID='${text}': expected a process id`);
  return Number(trimmed);
}

/**
 * systemd >= 257 also names the process by its pidfd's inode (LISTEN_PIDFDID), which a recycled pid cannot fake; as
 * sd_listen_fds: not a number is an error, another inode means the sockets were not for us, and where pidfds have
 * no such inode (before Linux 6.9) the pid alone decides.
 */
function pidfdMatches(text: string | undefined, pid: number): boolean {
  if (text === undefined) return true;
  if (!/^\d{1,20}$/.test(text.trim())) throw new ActivationError(`LISTEN_PIDFDID='${text}': expected the inode number of a pidfd`);
  const own = libc.pidfdInode(pid);
  return own === undefined || own === BigInt(text.trim());
}

function count(text: string): number {
  if (!/^\d+$/.test(text)) throw new ActivationError(`LISTEN_FDS='${text}': expected a number of sockets (1 to ${MAX_FDS})`);
  const value = Number(text);
  if (value < 1 || value > MAX_FDS) throw new ActivationError(`LISTEN_FDS=${text}: expected 1 to ${MAX_FDS} sockets`);
  return value;
}

/** systemd's own rule for a name (fdname_is_valid): printable ASCII but ':', at most 255 bytes. */
function names(text: string | undefined, fds: number): (string | undefined)[] {
  if (text === undefined || text === '') return new Array<string | undefined>(fds).fill(undefined);
  const parts = text.split(':');
  if (parts.length !== fds) throw new ActivationError(`LISTEN_FDNAMES='${text}' names ${parts.length} socket(s), LISTEN_FDS=${fds}: expected one name per socket`);
  for (const name of parts) {
    if (name.length === 0 || name.length > 255 || !/^[\x21-\x7e]+$/.test(name)) {
      throw new ActivationError(`LISTEN_FDNAMES: '${name}' is not a valid socket name (1 to 255 printable ASCII characters, no ':')`);
    }
  }
  return parts;
}

function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // The WHATWG URL serializer writes an IPv6 address in its canonical compressed form (RFC 5952).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The address of a bound socket, from getsockname; only what a pool could be configured with. */
function boundAddress(fd: number): ListenAddress {
  const raw = libc.getsockname(fd);
  const family = raw.readUInt16LE(0);
  if (family === AF_INET && raw.length >= 8) return { kind: 'tcp', host: [...raw.subarray(4, 8)].join('.'), port: raw.readUInt16BE(2) };
  if (family === AF_INET6 && raw.length >= 24) return { kind: 'tcp', host: ipv6Text(raw.subarray(8, 24)), port: raw.readUInt16BE(2) };
  if (family === AF_UNIX) {
    const path = raw.subarray(2);
    if (path.length === 0 || path[0] === 0) throw new ActivationError(`fd ${fd} is an abstract or unnamed Unix socket: expected one bound to a path (ListenStream=/run/…)`);
    const end = path.indexOf(0);
    return { kind: 'unix', path: path.subarray(0, end === -1 ? path.length : end).toString('utf8') };
  }
  throw new ActivationError(`fd ${fd} is a socket of address family ${family}: expected TCP (IPv4, IPv6) or a Unix path`);
}

function inspect(fd: number, name: string | undefined): InheritedSocket {
  const shown = name === undefined ? `fd ${fd}` : `fd ${fd} (${name})`;
  let isSocket: boolean;
  try {
    isSocket = fstatSync(fd).isSocket();
  } catch (error) {
    throw new ActivationError(`LISTEN_FDS: ${shown} is not open (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!isSocket) throw new ActivationError(`LISTEN_FDS: ${shown} is not a socket`);
  if (libc.getIntOption(fd, libc.SOL_SOCKET, libc.SO_TYPE, shown) !== SOCK_STREAM) throw new ActivationError(`${shown} is not a stream socket: expected ListenStream= (FastCGI runs over TCP or a Unix stream socket)`);
  if (libc.getIntOption(fd, libc.SOL_SOCKET, libc.SO_ACCEPTCONN, shown) !== 1) throw new ActivationError(`${shown} is not listening: expected a socket systemd listens on (Accept=no)`);
  const address = boundAddress(fd);
  const reusePort = address.kind === 'tcp' && libc.getIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEPORT, shown) !== 0;
  return { fd, ...(name !== undefined ? { name } : {}), address, reusePort };
}

/**
 * The sockets passed to us, or undefined when the environment names none for this process. Removes the
 * variables from `env` in every case (a mismatched LISTEN_PID was meant for someone else; our workers get none
 * of it), and marks the fds close-on-exec. Throws ActivationError on anything that is not as sd_listen_fds says.
 */
export function takeActivation(env: NodeJS.ProcessEnv, pid: number): InheritedSocket[] | undefined {
  const [pidText, pidfdText, fdsText, namesText] = [env.LISTEN_PID, env.LISTEN_PIDFDID, env.LISTEN_FDS, env.LISTEN_FDNAMES];
  for (const key of VARIABLES) delete env[key];
  // In sd_listen_fds' order: no LISTEN_PID, or another process's, or no LISTEN_FDS, is "no sockets" (bind as usual).
  if (pidText === undefined || listenPid(pidText) !== pid || !pidfdMatches(pidfdText, pid) || fdsText === undefined) return undefined;
  const fds = count(fdsText.trim());
  const labels = names(namesText, fds);
  const sockets = labels.map((name, i) => inspect(LISTEN_FDS_START + i, name));
  libc.closeInheritedOnExec();
  return sockets;
}

export function describeInherited(socket: InheritedSocket): string {
  return `fd ${socket.fd}${socket.name !== undefined ? ` '${socket.name}'` : ''} (${formatAddress(socket.address)})`;
}
