/**
 * CPU time used during a run by processes that are not the benchmark's: another session's tests on the
 * same 2 CPUs would otherwise show up as a slow tool. Ours: this process and its descendants, every process
 * the Ledger recorded (PM2's daemon, spawn-fcgi's orphaned workers) and their descendants; the kernel's
 * threads count as neither. /proc is sampled every 250 ms (about 3 ms of CPU each time). A process's time
 * includes its reaped children's (cutime, cstime): short-lived commands are counted through whoever reaps
 * them, and a process that was already counted while alive is taken back out when it disappears. An estimate
 * (a reaper that exits unseen is lost), good enough to tell a quiet run from a disturbed one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Ledger } from './process.js';

const SAMPLE_EVERY_MS = 250;

interface Entry {
  readonly ppid: number;
  readonly startTime: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly lifetime: number;
}

function snapshot(): Map<number, Entry> {
  const entries = new Map<number, Entry>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // After the command: ppid is field 4, utime..cstime fields 14–17, starttime field 22 (proc(5)).
      const lifetime = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      entries.set(Number(name), { ppid: Number(f[1]), startTime: Number(f[19]), lifetime });
    } catch {
      // gone while we looked
    }
  }
  return entries;
}

/** The pids of a snapshot that belong to others: neither ours nor the kernel's. */
function othersIn(entries: Map<number, Entry>, roots: ReadonlySet<number>): Set<number> {
  const ours = new Map<number, boolean>();
  const decide = (pid: number): boolean => {
    const known = ours.get(pid);
    if (known !== undefined) return known;
    ours.set(pid, false); // guards a cycle in a snapshot taken while pids were recycled
    const entry = entries.get(pid);
    const mine = pid === 2 || roots.has(pid) || (entry !== undefined && entry.ppid > 1 && decide(entry.ppid));
    ours.set(pid, mine);
    return mine;
  };
  return new Set([...entries.keys()].filter((pid) => !decide(pid)));
}

/** Starts sampling; the function returned stops it and gives the CPU seconds others used meanwhile. */
export function othersCpuMeter(ledger: Ledger): () => number {
  const roots = (): Set<number> => new Set([process.pid, ...ledger.pids()]);
  let previous = snapshot();
  let previousOthers = othersIn(previous, roots());
  let ticks = 0;
  const sample = (): void => {
    const now = snapshot();
    const others = othersIn(now, roots());
    for (const pid of others) {
      const entry = now.get(pid) as Entry;
      const before = previous.get(pid);
      const same = before !== undefined && before.startTime === entry.startTime && previousOthers.has(pid);
      ticks += entry.lifetime - (same ? before.lifetime : 0);
    }
    for (const pid of previousOthers) {
      const gone = previous.get(pid) as Entry;
      const still = now.get(pid);
      if (still && still.startTime === gone.startTime) continue;
      // Whoever reaped it (its parent, or init after a reparenting) now holds its whole life in cutime,
      // and the part we saw was counted already.
      ticks -= gone.lifetime;
    }
    previous = now;
    previousOthers = others;
  };
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    sample();
    return Math.max(0, ticks) / 100; // USER_HZ
  };
}
