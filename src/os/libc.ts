/**
 * The few libc calls Node lacks, through koffi. This is the only module that imports koffi: a
 * new koffi major touches this file alone. Every failing call throws a SyscallError carrying the
 * call, the errno name and the path or address it was about.
 */
import koffi from 'koffi';
import { constants as osConstants } from 'node:os';
import { fstatSync, readdirSync, statfsSync } from 'node:fs';

import { AF_INET, AF_INET6, AF_UNIX } from './address-families.js';

export { AF_INET, AF_INET6, AF_UNIX };
// Linux values (the same on x86_64, arm64 and the other generic-ABI architectures).
export const SOCK_STREAM = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_REUSEPORT = 15;
export const SO_TYPE = 3;
export const SO_ACCEPTCONN = 30;
export const SO_DOMAIN = 39;
export const SO_ATTACH_REUSEPORT_CBPF = 51;
export const IPPROTO_TCP = 6;
export const TCP_INFO = 11;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const O_NONBLOCK = 0o4000;
export const SHUT_RD = 0;

const errnoNames = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, value]) => [value, name]),
);

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
    readonly description: string,
    readonly subject?: string,
  ) {
    super(`${syscall}${subject ? ` ${subject}` : ''}: ${code} (${description})`);
    this.name = 'SyscallError';
  }
}

const lib = koffi.load('libc.so.6');

const c = {
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
  listen: lib.func('int listen(int fd, int backlog)'),
  connect: lib.func('int connect(int fd, const void *addr, uint32_t len)'),
  close: lib.func('int close(int fd)'),
  shutdown: lib.func('int shutdown(int fd, int how)'),
  setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  getsockopt: lib.func('int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *len)'),
  getsockname: lib.func('int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *len)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
  strerror: lib.func('const char *strerror(int errnum)'),
};

function fail(syscall: string, subject?: string): never {
  const errno = koffi.errno();
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const description = String(c.strerror(errno) ?? 'unknown error').toLowerCase();
  throw new SyscallError(syscall, errno, code, description, subject);
}

function check(result: number, syscall: string, subject?: string): number {
  if (result < 0) fail(syscall, subject);
  return result;
}

export function socket(domain: number, type: number, subject?: string, protocol = 0): number {
  return check(c.socket(domain, type, protocol) as number, 'socket', subject);
}

export function bind(fd: number, sockaddr: Buffer, subject?: string): void {
  check(c.bind(fd, sockaddr, sockaddr.length) as number, 'bind', subject);
}

export function listen(fd: number, backlog: number, subject?: string): void {
  check(c.listen(fd, backlog) as number, 'listen', subject);
}

export function connect(fd: number, sockaddr: Buffer, subject?: string): void {
  check(c.connect(fd, sockaddr, sockaddr.length) as number, 'connect', subject);
}

export function close(fd: number): void {
  check(c.close(fd) as number, 'close');
}

export function shutdown(fd: number, how: number, subject?: string): void {
  check(c.shutdown(fd, how) as number, 'shutdown', subject);
}

export function setIntOption(fd: number, level: number, name: number, value: number, subject?: string): void {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  check(c.setsockopt(fd, level, name, buffer, 4) as number, 'setsockopt', subject);
}

export function setBufferOption(fd: number, level: number, name: number, value: Buffer, subject?: string): void {
  check(c.setsockopt(fd, level, name, value, value.length) as number, 'setsockopt', subject);
}

/** An int socket option (SO_TYPE, SO_ACCEPTCONN, SO_REUSEPORT, SO_DOMAIN). */
export function getIntOption(fd: number, level: number, name: number, subject?: string): number {
  const buffer = Buffer.alloc(4);
  const length = [4];
  check(c.getsockopt(fd, level, name, buffer, length) as number, 'getsockopt', subject);
  return buffer.readInt32LE(0);
}

export function getBufferOption(fd: number, level: number, name: number, size: number): Buffer {
  const buffer = Buffer.alloc(size);
  const length = [size];
  check(c.getsockopt(fd, level, name, buffer, length) as number, 'getsockopt');
  return buffer.subarray(0, length[0]);
}

export function getsockname(fd: number): Buffer {
  const buffer = Buffer.alloc(128);
  const length = [128];
  check(c.getsockname(fd, buffer, length) as number, 'getsockname');
  return buffer.subarray(0, length[0]);
}

export function getStatusFlags(fd: number): number {
  return check(c.fcntl(fd, F_GETFL) as number, 'fcntl(F_GETFL)');
}

export function setStatusFlags(fd: number, flags: number): void {
  check(c.fcntl(fd, F_SETFL, 'int', flags) as number, 'fcntl(F_SETFL)');
}

const Passwd = koffi.struct('fcgi_spawn_passwd', {
  pw_name: 'const char *',
  pw_passwd: 'const char *',
  pw_uid: 'uint32_t',
  pw_gid: 'uint32_t',
  pw_gecos: 'const char *',
  pw_dir: 'const char *',
  pw_shell: 'const char *',
});
const Group = koffi.struct('fcgi_spawn_group', {
  gr_name: 'const char *',
  gr_passwd: 'const char *',
  gr_gid: 'uint32_t',
  gr_mem: 'void *',
});
const users = {
  getpwnam: lib.func('fcgi_spawn_passwd *getpwnam(const char *name)'),
  getpwuid: lib.func('fcgi_spawn_passwd *getpwuid(uint32_t uid)'),
  getgrnam: lib.func('fcgi_spawn_group *getgrnam(const char *name)'),
  getgrgid: lib.func('fcgi_spawn_group *getgrgid(uint32_t gid)'),
};

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** pw_dir and pw_shell: a worker run as this user gets them as HOME and SHELL. */
  readonly home: string;
  readonly shell: string;
}

export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
}

/** The user database through NSS, as getpwnam(3) sees it (LDAP and systemd users included). */
export function lookupUser(nameOrUid: string | number): PasswdEntry | undefined {
  const pointer = typeof nameOrUid === 'number' ? users.getpwuid(nameOrUid) : users.getpwnam(nameOrUid);
  if (!pointer) return undefined;
  const entry = koffi.decode(pointer, Passwd) as { pw_name: string; pw_uid: number; pw_gid: number; pw_dir: string | null; pw_shell: string | null };
  return { name: entry.pw_name, uid: entry.pw_uid, gid: entry.pw_gid, home: entry.pw_dir ?? '', shell: entry.pw_shell ?? '' };
}

export function lookupGroup(nameOrGid: string | number): GroupEntry | undefined {
  const pointer = typeof nameOrGid === 'number' ? users.getgrgid(nameOrGid) : users.getgrnam(nameOrGid);
  if (!pointer) return undefined;
  const entry = koffi.decode(pointer, Group) as { gr_name: string; gr_gid: number };
  return { name: entry.gr_name, gid: entry.gr_gid };
}

const SockFilter = koffi.struct('fcgi_spawn_sock_filter', { code: 'uint16_t', jt: 'uint8_t', jf: 'uint8_t', k: 'uint32_t' });
const SockFprog = koffi.struct('fcgi_spawn_sock_fprog', { len: 'uint16_t', filter: koffi.pointer(SockFilter) });
const setsockoptProgram = lib.func('int setsockopt(int fd, int level, int name, const fcgi_spawn_sock_fprog *prog, uint32_t len)');
const BPF_RET_K = 0x06;

/**
 * Attach to the SO_REUSEPORT group of `fd` a one-instruction classic BPF program, `ret #index`:
 * every new connection to the group goes to the member at that index (members are indexed in
 * join order; when one leaves, the last moves into its place).
 */
export function steerReusePortGroup(fd: number, index: number, subject?: string): void {
  const program = { len: 1, filter: [{ code: BPF_RET_K, jt: 0, jf: 0, k: index }] };
  check(setsockoptProgram(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, program, koffi.sizeof(SockFprog)) as number, 'setsockopt(SO_ATTACH_REUSEPORT_CBPF)', subject);
}

/** struct tcp_info: on a listening socket tcpi_unacked is the accept queue's length, tcpi_sacked its limit. */
const TCP_INFO_SIZE = 104;
const TCPI_UNACKED_OFFSET = 24;
const TCPI_SACKED_OFFSET = 28;

export function tcpListenQueue(fd: number): { readonly length: number; readonly limit: number } {
  const info = getBufferOption(fd, IPPROTO_TCP, TCP_INFO, TCP_INFO_SIZE);
  return { length: info.readUInt32LE(TCPI_UNACKED_OFFSET), limit: info.readUInt32LE(TCPI_SACKED_OFFSET) };
}

const SOCK_DGRAM = 2;
const sendto = lib.func('intptr_t sendto(int fd, const void *buf, uintptr_t len, int flags, const void *addr, uint32_t addrlen)');

/** One datagram to an AF_UNIX path ('@name' is the abstract namespace), for systemd's NOTIFY_SOCKET. */
export function sendUnixDatagram(path: string, message: Buffer): void {
  const name = Buffer.from(path.startsWith('@') ? `\0${path.slice(1)}` : path);
  const address = Buffer.alloc(2 + name.length + (path.startsWith('@') ? 0 : 1));
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, 2);
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, path);
  try {
    check(Number(sendto(fd, message, message.length, 0, address, address.length)), 'sendto', path);
  } finally {
    close(fd);
  }
}

const sendCall = lib.func('intptr_t send(int fd, const void *buf, uintptr_t len, int flags)');
const recvCall = lib.func('intptr_t recv(int fd, _Out_ void *buf, uintptr_t len, int flags)');
const AF_NETLINK = 16;
const MSG_DONTWAIT = 0x40;

/**
 * One netlink request and its reply datagram (sock_diag answers within send(), so the receive never waits:
 * MSG_DONTWAIT makes sure of it). The messages are built and read by their module (os/sock-diag.ts).
 */
export function netlinkExchange(protocol: number, request: Buffer, replySize: number): Buffer {
  const fd = socket(AF_NETLINK, 2 /* SOCK_DGRAM */ | SOCK_CLOEXEC, 'netlink', protocol);
  try {
    check(Number(sendCall(fd, request, request.length, 0)), 'send', 'netlink');
    const reply = Buffer.alloc(replySize);
    const length = check(Number(recvCall(fd, reply, reply.length, MSG_DONTWAIT)), 'recv', 'netlink');
    return reply.subarray(0, length);
  } finally {
    close(fd);
  }
}

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Mark every descriptor from 3 up that this process inherited as close-on-exec, so that workers
 * get only what they are handed (a launching shell's or harness's stray pipes otherwise reach every
 * worker). Node's own descriptors already are.
 */
export function closeInheritedOnExec(keep: readonly number[] = []): number[] {
  const marked: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return marked;
  }
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd < 3 || keep.includes(fd)) continue;
    const flags = c.fcntl(fd, F_GETFD) as number;
    if (flags < 0 || (flags & FD_CLOEXEC) !== 0) continue;
    if ((c.fcntl(fd, F_SETFD, 'int', flags | FD_CLOEXEC) as number) === 0) marked.push(fd);
  }
  return marked;
}

/**
 * Set or clear FD_CLOEXEC on one descriptor: an in-place upgrade (runtime/upgrade.ts) clears it on the
 * sockets, the instance lock and the workers' output pipes so that the new program inherits them.
 */
export function setCloseOnExec(fd: number, closeOnExec: boolean): void {
  const flags = check(c.fcntl(fd, F_GETFD) as number, 'fcntl(F_GETFD)', String(fd));
  const wanted = closeOnExec ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (wanted !== flags) check(c.fcntl(fd, F_SETFD, 'int', wanted) as number, 'fcntl(F_SETFD)', String(fd));
}

export function isCloseOnExec(fd: number): boolean {
  return ((check(c.fcntl(fd, F_GETFD) as number, 'fcntl(F_GETFD)', String(fd))) & FD_CLOEXEC) !== 0;
}

const execveCall = lib.func('int execve(const char *path, const char **argv, const char **envp)');

/**
 * Replace this process's program (Node 20 has no process.execve): same pid, same parent, the descriptors without
 * FD_CLOEXEC kept, other threads gone. Returns only on failure, by throwing. Measured (Node 20, Linux 6.18): the
 * main thread blocks no signal (SigBlk 0), so the new program starts with an empty mask; SIGPIPE and SIGXFSZ stay
 * ignored across execve, as a new node sets them anyway; a flock stays held by the open file description.
 */
export function execve(file: string, argv: readonly string[], env: Readonly<Record<string, string>>): never {
  const environment = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  execveCall(file, [...argv, null], [...environment, null]);
  return fail('execve', file);
}

const syscallInt = lib.func('long syscall(long number, ...)');
// Generic syscall numbers, the same on x86_64 and arm64 (Linux 5.6+).
const SYS_PIDFD_OPEN = 434;
const SYS_PIDFD_GETFD = 438;

/**
 * The local TCP port of another process's socket descriptor, through pidfd_getfd (a duplicate is
 * borrowed and closed at once): exact and cheap where /proc/net/tcp would be read whole (tens of
 * thousands of TIME_WAIT lines on a loaded host). Undefined when not a TCP socket or not allowed.
 */
export function socketLocalPort(pid: number, fd: number): number | undefined {
  const pidfd = Number(syscallInt(SYS_PIDFD_OPEN, 'int', pid, 'uint', 0));
  if (pidfd < 0) return undefined;
  try {
    const borrowed = Number(syscallInt(SYS_PIDFD_GETFD, 'int', pidfd, 'int', fd, 'uint', 0));
    if (borrowed < 0) return undefined;
    try {
      const address = getsockname(borrowed);
      const family = address.readUInt16LE(0);
      return family === AF_INET || family === AF_INET6 ? address.readUInt16BE(2) : undefined;
    } catch {
      return undefined;
    } finally {
      close(borrowed);
    }
  } finally {
    close(pidfd);
  }
}

/** statfs f_type of pidfs (linux/magic.h): pidfds are its inodes from Linux 6.9, anonymous inodes before. */
const PID_FS_MAGIC = 0x50494446;

/**
 * The inode number of a pidfd for `pid`, when pidfds live on pidfs (Linux >= 6.9): unique for the boot, what
 * systemd (>= 257) passes as LISTEN_PIDFDID. Undefined before pidfs (every pidfd is then the same anonymous
 * inode) or when pidfd_open fails.
 */
export function pidfdInode(pid: number): bigint | undefined {
  const pidfd = Number(syscallInt(SYS_PIDFD_OPEN, 'int', pid, 'uint', 0));
  if (pidfd < 0) return undefined;
  try {
    // statfs follows /proc's link to the pidfd's own inode.
    if (statfsSync(`/proc/self/fd/${pidfd}`).type !== PID_FS_MAGIC) return undefined;
    return fstatSync(pidfd, { bigint: true }).ino;
  } catch {
    return undefined;
  } finally {
    close(pidfd);
  }
}

// --- Paths relative to directory descriptors (issue 9: no root file reachable through a worker) ---
// A worker's user may be able to write the directory a socket lives in: every step after the parent
// directory was opened is taken relative to a descriptor, so a symlink or a renamed directory cannot
// redirect it. Linux values.
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const RENAME_NOREPLACE = 1;

const at = {
  openat: lib.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
  mkdirat: lib.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  fchownat: lib.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
  fchmodat: lib.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)'),
  renameat2: lib.func('int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags)'),
  unlinkat: lib.func('int unlinkat(int dirfd, const char *path, int flags)'),
};

/** A directory entry relative to `dirfd`, opened read-only with O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC: never through a link. */
export function openDirectoryAt(dirfd: number, name: string, subject = name): number {
  return check(at.openat(dirfd, name, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0) as number, 'openat', subject);
}

export function mkdirAt(dirfd: number, name: string, mode: number, subject = name): void {
  check(at.mkdirat(dirfd, name, mode) as number, 'mkdirat', subject);
}

/** fchownat with AT_SYMLINK_NOFOLLOW: a link in the place of `name` is changed itself, never what it points to. -1 keeps. */
export function chownAt(dirfd: number, name: string, uid: number, gid: number, subject = name): void {
  check(at.fchownat(dirfd, name, uid >>> 0, gid >>> 0, AT_SYMLINK_NOFOLLOW) as number, 'fchownat', subject);
}

/**
 * fchmodat with AT_SYMLINK_NOFOLLOW. Measured here (glibc 2.36, Linux 6.18): it changes a socket's
 * mode and fails with EOPNOTSUPP on a symlink instead of following it. glibc before 2.32 fails with
 * ENOTSUP for every file: callers that made the directory themselves (0700, only we can add to it)
 * may then fall back to `followLinks`.
 */
export function chmodAt(dirfd: number, name: string, mode: number, options: { followLinks?: boolean; subject?: string } = {}): void {
  const flags = options.followLinks ? 0 : AT_SYMLINK_NOFOLLOW;
  check(at.fchmodat(dirfd, name, mode, flags) as number, 'fchmodat', options.subject ?? name);
}

/** renameat2: with RENAME_NOREPLACE an existing `newName` is an EEXIST error instead of being replaced. */
export function renameAt(oldDirfd: number, oldName: string, newDirfd: number, newName: string, flags = 0, subject = newName): void {
  check(at.renameat2(oldDirfd, oldName, newDirfd, newName, flags) as number, 'renameat2', subject);
}

/** unlinkat: the entry itself (a link is removed, never followed); AT_REMOVEDIR for an empty directory. */
export function unlinkAt(dirfd: number, name: string, flags = 0, subject = name): void {
  check(at.unlinkat(dirfd, name, flags) as number, 'unlinkat', subject);
}

// ── flock(2): the instance lock (control/instance-lock.ts) ──────────────────────────────────────
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = osConstants.errno.EWOULDBLOCK;
const flockCall = lib.func('int flock(int fd, int operation)');

/**
 * flock(fd, LOCK_EX | LOCK_NB): true when taken, false when another open file description holds it.
 * The lock belongs to the open file description, so it lasts as long as the descriptor (and any
 * inherited copy of it) stays open, and the kernel drops it when the holder dies, SIGKILL included.
 */
export function tryLockExclusive(fd: number, subject?: string): boolean {
  if ((flockCall(fd, LOCK_EX | LOCK_NB) as number) === 0) return true;
  if (koffi.errno() === EWOULDBLOCK) return false;
  return fail('flock', subject);
}

// The queue watch (runtime/queue-watch.ts): an epoll set with the listening sockets (one-shot) and an eventfd
// that stops its thread. struct epoll_event is packed on x86_64 (12 bytes), naturally aligned elsewhere (16).
const EPOLLIN = 0x1;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EPOLL_CLOEXEC = 0o2000000;
const EFD_CLOEXEC = 0o2000000;
const EVENT_SIZE = process.arch === 'x64' ? 12 : 16;
const DATA_OFFSET = process.arch === 'x64' ? 4 : 8;
const epoll = {
  create1: lib.func('int epoll_create1(int flags)'),
  ctl: lib.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
  wait: lib.func('int epoll_wait(int epfd, _Out_ void *events, int maxevents, int timeout)'),
  eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
  write: lib.func('intptr_t write(int fd, const void *buf, uintptr_t count)'),
};

function epollEvent(events: number, id: number): Buffer {
  const event = Buffer.alloc(EVENT_SIZE);
  event.writeUInt32LE(events >>> 0, 0);
  event.writeUInt32LE(id, DATA_OFFSET);
  return event;
}

export function epollCreate(): number {
  return check(epoll.create1(EPOLL_CLOEXEC) as number, 'epoll_create1');
}

/** Add (first time) or re-arm a descriptor for one EPOLLIN report carrying `id`. */
export function epollArmOnce(epfd: number, fd: number, id: number, add: boolean): void {
  check(epoll.ctl(epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, epollEvent(EPOLLIN | EPOLLONESHOT, id)) as number, 'epoll_ctl');
}

/** Level-triggered, for the eventfd that stops the watch. */
export function epollAdd(epfd: number, fd: number, id: number): void {
  check(epoll.ctl(epfd, EPOLL_CTL_ADD, fd, epollEvent(EPOLLIN, id)) as number, 'epoll_ctl');
}

export function epollRemove(epfd: number, fd: number): void {
  epoll.ctl(epfd, EPOLL_CTL_DEL, fd, null);
}

/** Blocks until something is ready; the ids reported. EINTR is an empty answer. */
export function epollWait(epfd: number, max = 16): number[] {
  const events = Buffer.alloc(EVENT_SIZE * max);
  const count = epoll.wait(epfd, events, max, -1) as number;
  if (count < 0) {
    if (koffi.errno() === osConstants.errno.EINTR) return [];
    fail('epoll_wait');
  }
  return Array.from({ length: count }, (_, i) => events.readUInt32LE(i * EVENT_SIZE + DATA_OFFSET));
}

export function eventfdCreate(): number {
  return check(epoll.eventfd(0, EFD_CLOEXEC) as number, 'eventfd');
}

export function eventfdSignal(fd: number): void {
  const one = Buffer.alloc(8);
  one.writeBigUInt64LE(1n);
  check(Number(epoll.write(fd, one, 8)), 'write', 'eventfd');
}

// ── Child subreaper and reaping of adopted children (runtime/reaper.ts) ────────────────────────
const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const prctl = lib.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)');
const waitpidCall = lib.func('int waitpid(int pid, _Out_ int *status, int options)');
const ECHILD = osConstants.errno.ECHILD;
const signalNames = new Map<number, string>(Object.entries(osConstants.signals).map(([name, value]) => [value, name]));

/**
 * prctl(PR_SET_CHILD_SUBREAPER): orphans of our descendants (a worker's setsid()'d helper whose
 * worker died) are reparented to this process instead of init, so we can stop and reap them.
 */
export function becomeChildSubreaper(): void {
  check(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) as number, 'prctl(PR_SET_CHILD_SUBREAPER)');
}

export interface WaitStatus {
  /** Exit code when the process exited by itself; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: string | null;
}

/**
 * waitpid(pid, WNOHANG) on one child: its status when it had exited (and is now reaped), undefined
 * while it runs or when it is not our child (ECHILD). Never called with -1: libuv waits for the
 * pids it spawned itself, and a wait that took one of them from it would lose that worker's exit.
 */
export function reapChild(pid: number): WaitStatus | undefined {
  const status = [0];
  const result = waitpidCall(pid, status, WNOHANG) as number;
  if (result === 0) return undefined;
  if (result < 0) {
    if (koffi.errno() === ECHILD) return undefined;
    return fail('waitpid', String(pid));
  }
  const raw = status[0] ?? 0;
  const termSignal = raw & 0x7f;
  if (termSignal === 0) return { code: (raw >> 8) & 0xff, signal: null };
  return { code: null, signal: signalNames.get(termSignal) ?? `signal ${termSignal}` };
}
