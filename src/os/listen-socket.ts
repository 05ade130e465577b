/**
 * The pool's listening socket, made with libc and never registered with the supervisor's event
 * loop: a listening net.Server in the supervisor would accept, and so steal, connections meant for
 * the workers (measured, DESIGN.md "Contracts").
 *
 * Several generations of a pool may hold a socket on the same address at once (zero-drop reload):
 * the first TCP socket binds exclusively and only then sets SO_REUSEPORT, so any other holder of the
 * port is refused while a later generation of this pool (SO_REUSEPORT before its bind) can still join.
 */
import { fstatSync, lstatSync, unlinkSync } from 'node:fs';
import * as libc from './libc.js';
import type { SocketIdentity } from './connections.js';
import { unixListenQueue, type QueueLength } from './sock-diag.js';
import { SocketPlace } from './socket-place.js';
import { encodeSockaddr, decodePort, formatAddress, tcpFamily, type ListenAddress, type TcpAddress, type UnixAddress } from './sockaddr.js';

export class SocketPathError extends Error {
  constructor(
    readonly path: string,
    readonly reason: 'in-use' | 'not-a-socket',
  ) {
    super(
      reason === 'in-use'
        ? `socket ${path} is in use: a server accepts connections there`
        : `${path} exists and is not a socket: refusing to replace it`,
    );
    this.name = 'SocketPathError';
  }
}

export interface TcpOptions {
  readonly backlog: number;
  /** Join the SO_REUSEPORT group of an existing socket of this pool (a new generation). */
  readonly joinGroup?: boolean;
  /** Runs between bind() and listen(): a socket joins its reuseport group, and may be picked, at listen(). */
  readonly beforeListen?: () => void;
}

export interface UnixOptions {
  readonly backlog: number;
  /** Permission bits applied after bind (the bind itself happens under umask 0177). */
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Leave it in its private directory until renameOverPublicPath() (a new generation). */
  readonly staged?: boolean;
}

/** A socket systemd made and passed to us (socket activation): it outlives us, and is systemd's to keep. */
export interface Adopted {
  /** SO_REUSEPORT was set on it (ReusePort=yes): a new generation's TCP socket can join its group. */
  readonly reusePort: boolean;
}

export class ListenSocket {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly address: ListenAddress,
    /** The socket's inode: what /proc/PID/fd links and epoll fdinfo name it by. */
    readonly inode: number,
    /** Unix: where its file is (socket-place.ts). */
    private readonly place: SocketPlace | undefined,
    /** The path the socket was bound at: what /proc/net/unix shows for it and its connections, even after a rename. */
    private readonly bindName: string | undefined,
    /** Passed to us by systemd: never unlinked, renamed or shut down (the next start of the service adopts it again). */
    readonly adopted?: Adopted,
  ) {}

  /**
   * A listening socket systemd passed us (os/activation.ts checked it), lent by adopted-sockets.ts: used as it is. It
   * has no place of ours (socket-place.ts), so nothing here can unlink or rename its path; its owner and mode are the
   * .socket unit's; close() leaves the fd open (the table closes it when the supervisor exits).
   */
  static adopt(fd: number, address: ListenAddress, adopted: Adopted): ListenSocket {
    return new ListenSocket(fd, address, fstatSync(fd).ino, undefined, address.kind === 'unix' ? address.path : undefined, adopted);
  }

  /**
   * A listening socket of ours that the previous program handed over across execve (an in-place upgrade; the new
   * program checked its inode). A Unix one has no place of ours any more: its path is renamed over by the next
   * generation's socket, never unlinked by this one.
   */
  static inherit(fd: number, address: ListenAddress, bindName?: string): ListenSocket {
    const actual = address.kind === 'tcp' ? { ...address, port: decodePort(libc.getsockname(fd)) } : address;
    return new ListenSocket(fd, actual, fstatSync(fd).ino, undefined, address.kind === 'unix' ? (bindName ?? address.path) : undefined);
  }

  /** The path it was bound at, as /proc/net/unix names it (handed to the next program by an upgrade). */
  get boundName(): string | undefined {
    return this.bindName;
  }

  static openTcp(address: TcpAddress, options: TcpOptions): ListenSocket {
    const family = tcpFamily(address.host) === 4 ? libc.AF_INET : libc.AF_INET6;
    const name = formatAddress(address);
    const fd = libc.socket(family, libc.SOCK_STREAM | libc.SOCK_CLOEXEC, name);
    try {
      libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEADDR, 1, name);
      if (options.joinGroup) libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEPORT, 1, name);
      libc.bind(fd, encodeSockaddr(address), name);
      // Measured: a bind without SO_REUSEPORT fails on a port any listener holds; setting it now
      // still lets our own next generation join the group.
      if (!options.joinGroup) libc.setIntOption(fd, libc.SOL_SOCKET, libc.SO_REUSEPORT, 1, name);
      options.beforeListen?.();
      libc.listen(fd, options.backlog, name);
      const port = decodePort(libc.getsockname(fd));
      return new ListenSocket(fd, { ...address, port }, fstatSync(fd).ino, undefined, undefined);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
  }

  /**
   * Bound in a private directory beside the public path, given its owner and mode there, then renamed
   * into place (socket-place.ts): nothing is ever done by path in a directory others may write. The
   * first socket of a pool probes the public path for a stale socket first, and never replaces what
   * appears there after the probe.
   */
  static openUnix(address: UnixAddress, options: UnixOptions): ListenSocket {
    if (!options.staged) removeStaleSocket(address.path);
    const place = SocketPlace.create(address.path);
    let fd: number | undefined;
    try {
      const bindPath = place.bindPath;
      fd = libc.socket(libc.AF_UNIX, libc.SOCK_STREAM | libc.SOCK_CLOEXEC, address.path);
      // Nobody but us can reach the private directory; the umask still keeps the file 0600 until its mode is set.
      const previousUmask = process.umask(0o177);
      try {
        libc.bind(fd, encodeSockaddr({ kind: 'unix', path: bindPath }), address.path);
      } finally {
        process.umask(previousUmask);
      }
      place.bound();
      place.setOwnerAndMode(options.mode, options.uid, options.gid);
      libc.listen(fd, options.backlog, address.path);
      if (!options.staged) moveIntoPlace(place, address.path);
      return new ListenSocket(fd, address, fstatSync(fd).ino, place, bindPath);
    } catch (error) {
      if (fd !== undefined) libc.close(fd);
      place.close();
      throw error;
    }
  }

  /** How /proc names this socket and the connections accepted from it. */
  get identity(): SocketIdentity {
    return this.address.kind === 'tcp'
      ? { inode: this.inode, port: this.address.port }
      : { inode: this.inode, path: this.bindName ?? this.address.path };
  }

  get name(): string {
    return formatAddress(this.address);
  }

  get blocking(): boolean {
    return (libc.getStatusFlags(this.fd) & libc.O_NONBLOCK) === 0;
  }

  /**
   * The mode lives on the open file description every worker shares: libuv's spawn makes a child's
   * fds 0-2 blocking and an exiting Node worker restores what it saw, so the supervisor re-asserts
   * the pool's mode after every spawn and exit (DESIGN.md "Blocking mode").
   */
  setBlocking(blocking: boolean): void {
    const flags = libc.getStatusFlags(this.fd);
    const wanted = blocking ? flags & ~libc.O_NONBLOCK : flags | libc.O_NONBLOCK;
    if (wanted !== flags) libc.setStatusFlags(this.fd, wanted);
  }

  /** Move a staged socket from its private directory over its public path (Unix reload). */
  renameOverPublicPath(): void {
    this.place?.moveToPublic({ replace: true });
  }

  /**
   * The listen queue and its limit as the kernel keeps them (the backlog capped by net.core.somaxconn): TCP
   * through TCP_INFO, Unix through sock_diag. Undefined when closed or unreadable.
   */
  queue(): QueueLength | undefined {
    if (this.closed) return undefined;
    if (this.address.kind === 'tcp') return libc.tcpListenQueue(this.fd);
    return unixListenQueue(this.inode);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * TCP: every accept() blocked on it fails with EINVAL (libfcgi programs and php-cgi then exit by
   * themselves) and it leaves its reuseport group — but whatever is still queued is reset (measured
   * 3 of 3), so only on an empty queue.
   */
  shutdownListener(): void {
    // systemd's socket stays listening for the next start: a shutdown would leave it dead in systemd's hands.
    if (this.closed || this.address.kind !== 'tcp' || this.adopted) return;
    libc.shutdown(this.fd, libc.SHUT_RD, this.name);
  }

  /**
   * Close the descriptor, and remove the socket file if the path still names our socket. systemd's socket is only let
   * go of: its fd belongs to the table of adopted sockets (adopted-sockets.ts), which keeps it for a pool added later.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.adopted) return;
    libc.close(this.fd);
    this.place?.close();
  }

  /** Remove the socket file (graceful stop: no new connect() reaches us) if it is still ours. */
  unlinkPath(): void {
    this.place?.unlink();
  }
}

/** A first socket never replaces what appeared at its path after the probe: probe again, once. */
function moveIntoPlace(place: SocketPlace, path: string): void {
  try {
    place.moveToPublic({ replace: false });
  } catch (error) {
    if (!(error instanceof libc.SyscallError && error.code === 'EEXIST')) throw error;
    removeStaleSocket(path);
    place.moveToPublic({ replace: false });
  }
}

/** After a SIGKILLed supervisor: remove its socket file if nobody accepts there any more. */
export function removeStaleSocketPath(path: string): void {
  try {
    removeStaleSocket(path);
  } catch {
    // In use again, or not a socket: not ours to remove.
  }
}

/**
 * An existing path is probed with connect(): refused means a stale socket left by a dead server,
 * which is removed; accepted means a live server, which is left alone. Anything but a socket is
 * never deleted.
 */
function removeStaleSocket(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stat.isSocket()) throw new SocketPathError(path, 'not-a-socket');
  if (isLiveUnixSocket(path)) throw new SocketPathError(path, 'in-use');
  unlinkSync(path);
}

function isLiveUnixSocket(path: string): boolean {
  // Non-blocking so that a live server with a full queue answers EAGAIN instead of blocking us.
  const fd = libc.socket(libc.AF_UNIX, libc.SOCK_STREAM | libc.SOCK_CLOEXEC | libc.O_NONBLOCK, path);
  try {
    libc.connect(fd, encodeSockaddr({ kind: 'unix', path }), path);
    return true;
  } catch (error) {
    if (error instanceof libc.SyscallError && (error.code === 'ECONNREFUSED' || error.code === 'ENOENT')) return false;
    if (error instanceof libc.SyscallError && error.code === 'EAGAIN') return true;
    throw error;
  } finally {
    // The probe opened a real connection to a live server: close it at once.
    libc.close(fd);
  }
}
