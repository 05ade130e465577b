/**
 * Runs Debian's supervisord (package `supervisor`) with its own configuration in a temporary directory, never
 * the system service: the same flooder workers, stdout_logfile_maxbytes / stdout_logfile_backups rotation.
 * CPU is counted from the moment its workers appear (its own start-up excluded) to their last exit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FLOODER } from '../../test/log/helpers.js';
import { childPids, cmdline, cpuSeconds, sleep, statusMb, waitExit } from './proc.js';

export interface SupervisordWorker {
  readonly id: string;
  readonly lines: number;
  readonly lineLength: number;
  readonly logfile: string;
  /** 0: no rotation (a FIFO). */
  readonly maxBytes: number;
  readonly backups: number;
}

export interface SupervisordReport {
  readonly wallMs: number;
  readonly cpuSeconds: number;
  readonly peakRssMb: number;
  readonly exitMs: Readonly<Record<string, number>>;
}

export function supervisordAvailable(): boolean {
  return fs.existsSync('/usr/bin/supervisord');
}

function config(dir: string, workers: readonly SupervisordWorker[]): string {
  const programs = workers.map((worker) =>
    [
      `[program:${worker.id}]`,
      `command=${process.execPath} ${FLOODER} ${worker.lines} ${worker.lineLength} stdout --id ${worker.id}`,
      'autostart=true',
      'autorestart=false',
      'startsecs=0',
      `stdout_logfile=${worker.logfile}`,
      `stdout_logfile_maxbytes=${worker.maxBytes}`,
      `stdout_logfile_backups=${worker.backups}`,
      `stderr_logfile=${path.join(dir, `${worker.id}.err`)}`,
    ].join('\n'),
  );
  const head = ['[supervisord]', 'nodaemon=true', 'user=root', `logfile=${path.join(dir, 'supervisord.log')}`, `pidfile=${path.join(dir, 'supervisord.pid')}`];
  return `${[head.join('\n'), ...programs].join('\n\n')}\n`;
}

function flooders(pid: number): Map<number, string> {
  const found = new Map<number, string>();
  for (const child of childPids(pid)) {
    const id = / --id (\S+)/.exec(cmdline(child))?.[1];
    if (id !== undefined) found.set(child, id);
  }
  return found;
}

/** Waits until `pid` used no CPU for 300 ms: output still in the pipes after the workers exited is written. */
export async function settle(pid: number): Promise<void> {
  let before = cpuSeconds(pid);
  for (;;) {
    await sleep(300);
    const now = cpuSeconds(pid);
    if (now === before) return;
    before = now;
  }
}

export async function runSupervisord(dir: string, workers: readonly SupervisordWorker[]): Promise<SupervisordReport> {
  const conf = path.join(dir, 'supervisord.conf');
  fs.writeFileSync(conf, config(dir, workers));
  const daemon = spawn('/usr/bin/supervisord', ['-n', '-c', conf], { stdio: 'ignore' });
  const pid = daemon.pid;
  if (pid === undefined) throw new Error('unable to start supervisord');
  try {
    let running = flooders(pid);
    const deadline = Date.now() + 10_000;
    while (running.size < workers.length) {
      if (Date.now() > deadline) throw new Error(`supervisord started ${running.size} of ${workers.length} workers in 10 s`);
      await sleep(2);
      running = flooders(pid);
    }
    const cpuStart = cpuSeconds(pid);
    const start = performance.now();
    const exitMs: Record<string, number> = {};
    // supervisord writes what it read before it reaps; poll until every worker is gone.
    while (running.size > 0) {
      await sleep(5);
      const now = flooders(pid);
      for (const [child, id] of running) if (!now.has(child)) exitMs[id] = performance.now() - start;
      running = now;
    }
    const wallMs = performance.now() - start;
    await settle(pid);
    return { wallMs, cpuSeconds: cpuSeconds(pid) - cpuStart, peakRssMb: statusMb(pid, 'VmHWM'), exitMs };
  } finally {
    process.kill(pid, 'SIGTERM');
    await waitExit(daemon);
  }
}
