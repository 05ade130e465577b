/**
 * The part of `status` that is not the CLI's start-up: the daemon's answer on the control socket, and
 * what the daemon does to build it — per worker, workerActivity() as src/runtime/status.ts calls it
 * (the group's members through their children files, their descriptors and blocked calls; the
 * connection tables only where the descriptors cannot tell), timed here in the benchmark's own process on the same /proc;
 * and the FastCGI request of `probe`, done in this process with the command's own code.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { runProbe } from '../../src/commands/probe.js';
import { sendControl } from '../../src/control/client.js';
import { allProcesses } from '../../src/os/proc.js';
import { workerActivity } from '../../src/os/worker-activity.js';

export interface DaemonSide {
  /** `status` request → answer on the control socket, as the CLI sees it. */
  readonly answerMs: Summary;
  readonly processes: number;
  /** One pass over /proc/N/stat (processGroupMembers does one per call). */
  readonly procScanMs: Summary;
  readonly tcpLines: number;
  readonly tcpReadMs: Summary;
  /** workerActivity(worker, socket) per worker, as status does it. */
  readonly perWorkerMs: Summary;
  readonly workers: number;
  /** `probe 127.0.0.1:PORT /` done in this process (runProbe, the command's code): the request's round trip. */
  readonly probeMs: Summary;
}

export interface Summary {
  readonly n: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  const median = ((sorted[Math.floor(mid)] ?? Number.NaN) + (sorted[Math.ceil(mid)] ?? Number.NaN)) / 2;
  return { n: sorted.length, medianMs: median, minMs: sorted[0] ?? Number.NaN, maxMs: sorted[sorted.length - 1] ?? Number.NaN };
}

function timeIt(times: number, run: () => void): number[] {
  const out: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const t = performance.now();
    run();
    out.push(performance.now() - t);
  }
  return out;
}

function socketInode(pid: number): number | undefined {
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/0`));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function lines(path: string): number {
  try {
    return readFileSync(path, 'latin1').split('\n').length - 2;
  } catch {
    return 0;
  }
}

export async function measureDaemonSide(controlPath: string, workers: readonly number[], port: number, rounds: number): Promise<DaemonSide> {
  const answers: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const t = performance.now();
    const response = await sendControl(controlPath, { command: 'status' }, 10_000);
    answers.push(performance.now() - t);
    if (!response.ok) throw new Error(`status over ${controlPath}: ${response.message}`);
  }
  const probes: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const t = performance.now();
    const code = await runProbe(`127.0.0.1:${port}`, '/', { timeoutMs: 10_000, params: {}, print: () => {}, printError: () => {} });
    probes.push(performance.now() - t);
    if (code !== 0) throw new Error(`probe 127.0.0.1:${port} / exited with ${code}`);
  }
  const inode = socketInode(workers[0] ?? 0);
  const perWorker: number[] = [];
  if (inode !== undefined) {
    for (let i = 0; i < Math.max(1, Math.floor(rounds / 5)); i += 1) {
      for (const pid of workers) perWorker.push(...timeIt(1, () => workerActivity(pid, { inode, port })));
    }
  }
  return {
    answerMs: summarize(answers),
    processes: allProcesses().length,
    procScanMs: summarize(timeIt(rounds, () => allProcesses())),
    tcpLines: lines('/proc/self/net/tcp') + lines('/proc/self/net/tcp6'),
    tcpReadMs: summarize(timeIt(rounds, () => (readFileSync('/proc/self/net/tcp', 'latin1'), readFileSync('/proc/self/net/tcp6', 'latin1')))),
    perWorkerMs: summarize(perWorker),
    workers: workers.length,
    probeMs: summarize(probes),
  };
}
