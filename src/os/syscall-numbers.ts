/**
 * The numbers of the system calls a worker can be found blocked in, per architecture: they differ
 * (x86_64: asm/unistd_64.h; aarch64 and riscv64 share asm-generic/unistd.h, which has no poll,
 * select, epoll_wait nor pause: glibc implements them with ppoll, pselect6, epoll_pwait and
 * rt_sigsuspend there). /proc/PID/task/TID/syscall names the call by its number.
 */

export interface SyscallNumbers {
  /** accept, accept4: the descriptor is the first argument. */
  readonly accept: readonly number[];
  /** select, pselect6: the first argument is nfds, one past the highest descriptor watched. */
  readonly select: readonly number[];
  /** poll, ppoll: the descriptors are in the caller's memory, out of our sight. */
  readonly poll: readonly number[];
  /** epoll_wait, epoll_pwait, epoll_pwait2: the epoll descriptor is the first argument. */
  readonly epoll: readonly number[];
  /** pause, wait4, waitid, rt_sigsuspend, rt_sigtimedwait: waiting for children or a signal. */
  readonly wait: readonly number[];
}

const X86_64: SyscallNumbers = {
  accept: [43, 288],
  select: [23, 270],
  poll: [7, 271],
  epoll: [232, 281, 441],
  wait: [34, 61, 247, 130, 128],
};

const GENERIC: SyscallNumbers = {
  accept: [202, 242],
  select: [72],
  poll: [73],
  epoll: [22, 441],
  wait: [260, 95, 133, 137],
};

/** Keyed by process.arch. Elsewhere /proc cannot tell, and --start-secs is the readiness fallback. */
const BY_ARCH: Readonly<Record<string, SyscallNumbers>> = {
  x64: X86_64,
  arm64: GENERIC,
  riscv64: GENERIC,
};

export function syscallNumbers(arch: string = process.arch): SyscallNumbers | undefined {
  return BY_ARCH[arch];
}
