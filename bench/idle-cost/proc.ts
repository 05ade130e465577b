/**
 * What the idle-cost benchmark reads of a process through /proc: the context switches of each thread,
 * the resident set split into anonymous and file-backed pages, the mappings that hold it, and the
 * system call each thread waits in. Reading another process's /proc files does not wake it.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ThreadCounters {
  readonly tid: number;
  readonly comm: string;
  readonly voluntary: number;
  readonly nonvoluntary: number;
}

function numericEntries(path: string): number[] {
  try {
    return readdirSync(path)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

function field(text: string, key: string): number | undefined {
  const match = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Every thread of the process with its switch counters (a thread that ends while we read is left out). */
export function threadCounters(pid: number): ThreadCounters[] {
  const threads: ThreadCounters[] = [];
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
    } catch {
      continue;
    }
    threads.push({
      tid,
      comm: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?',
      voluntary: field(status, 'voluntary_ctxt_switches') ?? 0,
      nonvoluntary: field(status, 'nonvoluntary_ctxt_switches') ?? 0,
    });
  }
  return threads;
}

export function switchesOf(threads: readonly ThreadCounters[]): number {
  return threads.reduce((sum, t) => sum + t.voluntary + t.nonvoluntary, 0);
}

export interface ThreadDelta {
  readonly tid: number;
  readonly comm: string;
  readonly voluntary: number;
  readonly nonvoluntary: number;
  /** Not there at the first look: all its switches fall in the window. */
  readonly born: boolean;
}

export interface SwitchDelta {
  readonly total: number;
  readonly threads: readonly ThreadDelta[];
  /** Threads seen at the first look and gone at the last: their switches in between are not counted. */
  readonly vanished: readonly number[];
}

export function switchDelta(before: readonly ThreadCounters[], after: readonly ThreadCounters[]): SwitchDelta {
  const first = new Map(before.map((t) => [t.tid, t]));
  const threads = after.map((t) => {
    const was = first.get(t.tid);
    return {
      tid: t.tid,
      comm: t.comm,
      voluntary: t.voluntary - (was?.voluntary ?? 0),
      nonvoluntary: t.nonvoluntary - (was?.nonvoluntary ?? 0),
      born: was === undefined,
    };
  });
  const seen = new Set(after.map((t) => t.tid));
  return {
    total: threads.reduce((sum, t) => sum + t.voluntary + t.nonvoluntary, 0),
    threads,
    vanished: before.filter((t) => !seen.has(t.tid)).map((t) => t.tid),
  };
}

export interface Memory {
  readonly rssKiB: number;
  readonly anonKiB: number;
  readonly fileKiB: number;
  readonly shmemKiB: number;
  /** Peak resident set since the process started. */
  readonly hwmKiB: number;
  readonly threads: number;
}

export function memoryOf(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return undefined;
  }
  return {
    rssKiB: field(status, 'VmRSS') ?? Number.NaN,
    anonKiB: field(status, 'RssAnon') ?? Number.NaN,
    fileKiB: field(status, 'RssFile') ?? Number.NaN,
    shmemKiB: field(status, 'RssShmem') ?? Number.NaN,
    hwmKiB: field(status, 'VmHWM') ?? Number.NaN,
    threads: field(status, 'Threads') ?? Number.NaN,
  };
}

/** Resident KiB per mapping name (`[anon]` for nameless ones), largest first: where the RSS is. */
export function residentByMapping(pid: number): { readonly name: string; readonly kib: number }[] {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return [];
  }
  const totals = new Map<string, number>();
  let name = '[anon]';
  for (const line of smaps.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (head) {
      name = head[1]?.trim() || '[anon]';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals.set(name, (totals.get(name) ?? 0) + Number(rss[1]));
  }
  return [...totals].map(([mapping, kib]) => ({ name: mapping, kib })).sort((a, b) => b.kib - a.kib);
}

// asm/unistd.h: the calls an idle thread of these programs waits in.
const SYSCALL_NAMES: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  x64: { 0: 'read', 7: 'poll', 23: 'select', 34: 'pause', 35: 'nanosleep', 43: 'accept', 61: 'wait4', 128: 'rt_sigtimedwait', 130: 'rt_sigsuspend', 202: 'futex', 230: 'clock_nanosleep', 232: 'epoll_wait', 270: 'pselect6', 271: 'ppoll', 281: 'epoll_pwait', 288: 'accept4', 441: 'epoll_pwait2' },
  arm64: { 22: 'epoll_pwait', 63: 'read', 72: 'pselect6', 73: 'ppoll', 98: 'futex', 101: 'nanosleep', 115: 'clock_nanosleep', 133: 'rt_sigsuspend', 137: 'rt_sigtimedwait', 202: 'accept', 242: 'accept4', 260: 'wait4', 441: 'epoll_pwait2' },
};

/** `futex(0x55d0c8)`, `epoll_pwait(fd 14)`, `running`: the call a thread is blocked in, from /proc/PID/task/TID/syscall. */
export function blockedIn(pid: number, tid: number): string {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'latin1').trim();
  } catch {
    return 'unknown';
  }
  if (text === 'running' || text.startsWith('-1')) return 'running';
  const [nrText, firstArg] = text.split(' ');
  const nr = Number(nrText);
  const name = SYSCALL_NAMES[process.arch]?.[nr] ?? `syscall ${nr}`;
  if (name === 'futex') return `futex(${firstArg ?? '?'})`;
  if (/^(epoll|accept|read|poll|select)/.test(name)) return `${name}(fd ${Number.parseInt(firstArg ?? '', 16)})`;
  return name;
}

/**
 * Which of Node's threads this is. Node 20 names none of them (all `node`), but starts them in a fixed
 * order (src/node_platform.cc, inspector_agent.cc, libuv's threadpool.c): the main thread, the platform's
 * delayed-task scheduler (its own libuv loop, so it waits in epoll), --v8-pool-size V8 workers (4),
 * the inspector's SIGUSR1 watcher, then libuv's pool (4, on first use). The call each waits in is printed
 * beside the guess so that a reader can check it.
 */
export function nodeThreadRole(pid: number, tid: number, allTids: readonly number[], v8PoolSize = 4): string {
  if (tid === pid) return 'main thread (JS, event loop)';
  const index = [...allTids].sort((a, b) => a - b).indexOf(tid);
  if (index === 1) return 'platform delayed-task scheduler';
  if (index >= 2 && index < 2 + v8PoolSize) return 'V8 platform worker (GC, compiler tasks)';
  if (index === 2 + v8PoolSize) return 'inspector SIGUSR1 watcher';
  return 'libuv threadpool (fs, dns)';
}

/** Direct children of a process, from each thread's children file. */
export function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const tid of numericEntries(`/proc/${pid}/task`)) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
      if (text !== '') pids.push(...text.split(' ').map(Number));
    } catch {
      // The thread ended while we looked.
    }
  }
  return pids;
}

export function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return undefined;
  }
}
