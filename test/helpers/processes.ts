/** Processes as the tests see them: alive or not, groups, descendants, CPU time, by pid. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { allProcesses, hasExited, processGroupMembers, readStat } from '../../src/os/proc.js';

export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && !hasExited(stat);
}

/** Live members of a process group (the supervisor's own reader). */
export { processGroupMembers as groupMembers };

export function childrenOf(pid: number): number[] {
  return allProcesses()
    .filter((stat) => stat.ppid === pid && !hasExited(stat))
    .map((stat) => stat.pid);
}

/** User + system CPU time of a process in clock ticks (100 per second on Linux). */
export function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** The supplementary groups line of /proc/PID/status, as numbers. */
export function supplementaryGroups(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const line = /^Groups:\s*(.*)$/m.exec(status)?.[1] ?? '';
  return line.trim() === '' ? [] : line.trim().split(/\s+/).map(Number);
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A port nothing listens on right now (the kernel picks it; we release it at once). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A spawned program's exit code and all it wrote. Output may still be in the pipes when 'exit' comes (a
 * fast command exits right after its write): the answer is complete at 'close'. A daemon that kept a copy
 * of the pipes would delay 'close' for ever, so after the exit the pipes get a bounded wait, then are let
 * go. SIGKILLed and rejected when it has not exited within timeoutMs.
 */
export function outputOf(child: ChildProcess, what: string, timeoutMs: number): Promise<RunOutput> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let exitCode: number | null = null;
    let lingering: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(lingering);
      resolve({ code: exitCode, stdout, stderr });
    };
    child.once('exit', (code) => {
      exitCode = code;
      clearTimeout(timer);
      lingering = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done();
      }, 5_000);
    });
    child.once('close', done);
  });
}
