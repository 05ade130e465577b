/**
 * PM2 with pm2-logrotate, installed with npm into a temporary directory (optional: skipped with a message when
 * npm cannot install it). Its own PM2_HOME, so no PM2 of the machine is touched; `pm2 kill` at the end.
 * pm2-logrotate's settings only take effect through `pm2 set pm2-logrotate:KEY VALUE` (issue 4).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { FLOODER } from '../../test/log/helpers.js';
import { settle, type SupervisordReport } from './supervisord.js';
import { childPids, cmdline, cpuSeconds, sleep, statusMb } from './proc.js';

export interface Pm2Worker {
  readonly id: string;
  readonly lines: number;
  readonly lineLength: number;
  readonly logfile: string;
}

/** Installs pm2 under `prefix` (pm2-logrotate comes later, through `pm2 install`); the pm2 binary, or why not. */
export function installPm2(prefix: string): { pm2: string } | { reason: string } {
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', prefix, 'pm2@6'], { stdio: 'pipe', timeout: 300_000 });
    return { pm2: path.join(prefix, 'node_modules', '.bin', 'pm2') };
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0] ?? 'npm install failed' };
  }
}

export async function runPm2(pm2: string, home: string, workers: readonly Pm2Worker[], maxSize: string, retain: number): Promise<SupervisordReport> {
  const env = { ...process.env, PM2_HOME: home };
  const run = (...args: string[]): string => execFileSync(pm2, args, { env, stdio: 'pipe', timeout: 120_000 }).toString();
  try {
    run('ping');
    const god = Number(fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8'));
    // By name: PM2 installs it with npm into PM2_HOME/modules (from a local path its installer fails: MODULE_NOT_FOUND).
    run('install', 'pm2-logrotate');
    run('set', 'pm2-logrotate:max_size', maxSize);
    run('set', 'pm2-logrotate:retain', String(retain));
    run('set', 'pm2-logrotate:workerInterval', '1');
    const rotator = childPids(god).find((child) => cmdline(child).includes('pm2-logrotate'));
    // pm2-logrotate runs as a child of PM2's daemon: the supervisor side is both processes.
    const cpu = (): number => cpuSeconds(god) + (rotator === undefined ? 0 : cpuSeconds(rotator));
    const cpuStart = cpu();
    const start = performance.now();
    for (const worker of workers) {
      const args = [String(worker.lines), String(worker.lineLength), 'stdout', '--id', worker.id];
      run('start', FLOODER, '--name', worker.id, '--no-autorestart', '--output', worker.logfile, '--error', `${worker.logfile}.err`, '--', ...args);
    }
    const exitMs: Record<string, number> = {};
    let running = new Set(workers.map((worker) => worker.id));
    while (running.size > 0) {
      await sleep(5);
      const now = new Set(childPids(god).map((child) => / --id (\S+)/.exec(cmdline(child))?.[1] ?? ''));
      now.delete('');
      for (const id of running) if (!now.has(id)) exitMs[id] = performance.now() - start;
      running = new Set([...running].filter((id) => now.has(id)));
    }
    const wallMs = performance.now() - start;
    await settle(god);
    // Give pm2-logrotate one more check interval (1 s) so its last rotation is in the files we read.
    await sleep(2000);
    const peakRssMb = statusMb(god, 'VmHWM') + (rotator === undefined ? 0 : statusMb(rotator, 'VmHWM'));
    return { wallMs, cpuSeconds: cpu() - cpuStart, peakRssMb, exitMs };
  } finally {
    try {
      run('kill');
    } catch {
      // the daemon is gone already
    }
  }
}

/** Every file pm2 and pm2-logrotate left for `logfile` (rotated copies are named `<name>__<date>.log`), oldest first. */
export function pm2Files(logfile: string): string[] {
  const dir = path.dirname(logfile);
  const base = path.basename(logfile, '.log');
  const rotated = fs.readdirSync(dir).filter((name) => name.startsWith(`${base}__`)).sort();
  return [...rotated.map((name) => path.join(dir, name)), logfile];
}
