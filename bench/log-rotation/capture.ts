/**
 * The fcgi-spawn side of the log-rotation benchmark, run as its own process so that its CPU and memory are
 * measured alone: spawns the flooder workers, captures their stdout through captureWorkerOutput into one
 * rotating file each (or a pipe to a slow reader), and prints one JSON line of measurements.
 *   node dist/bench/log-rotation/capture.js '<Plan as JSON>'
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openRotatingFile } from '../../src/log/rotating-file.js';
import type { LineSink } from '../../src/log/sink.js';
import { StreamSink } from '../../src/log/stream-sink.js';
import type { WorkerLogFormat } from '../../src/log/worker-line-format.js';
import { captureWorkerOutput } from '../../src/log/worker-output.js';
import { FLOODER } from '../../test/log/helpers.js';
import { startSlowReader, statusMb, waitExit } from './proc.js';

export interface WorkerPlan {
  readonly id: string;
  readonly lines: number;
  readonly lineLength: number;
  /** A rotating file, or a pipe to a reader draining `pipeRate` bytes/s into `path`. */
  readonly sink: { readonly path: string; readonly maxSize: number; readonly maxFiles: number } | { readonly path: string; readonly pipeRate: number };
}

export interface Plan {
  readonly format: WorkerLogFormat;
  readonly workers: readonly WorkerPlan[];
}

export interface CaptureReport {
  readonly wallMs: number;
  readonly cpuSeconds: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
  /** ms from the start to each worker's exit, by id. */
  readonly exitMs: Readonly<Record<string, number>>;
  readonly droppedLines: number;
}

async function openSink(plan: WorkerPlan): Promise<{ sink: LineSink; reader?: ReturnType<typeof startSlowReader> }> {
  const target = plan.sink;
  if ('maxSize' in target) return { sink: await openRotatingFile(target) };
  const reader = startSlowReader(target.pipeRate, '-', target.path);
  if (reader.stdin === null) throw new Error('slow reader has no stdin');
  return { sink: new StreamSink(reader.stdin, { endStream: true }), reader };
}

/** One small worker through capture first, so "idle" is a supervisor that has spawned and logged before. */
async function warmUp(plan: Plan): Promise<void> {
  const file = `${plan.workers[0]?.sink.path ?? '/tmp/fcgi-spawn-bench'}.warmup`;
  const sink = await openRotatingFile({ path: file, maxSize: 1 << 20, maxFiles: 1 });
  const child = spawn(process.execPath, [FLOODER, '1000', '100', 'stdout', '--id', 'warmup'], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.stdout === null || child.pid === undefined) throw new Error(`unable to start ${FLOODER}`);
  await captureWorkerOutput({ stream: child.stdout, streamName: 'stdout', workerIndex: 0, pid: child.pid, sink, format: plan.format }).done;
  await Promise.all([waitExit(child), sink.end()]);
  fs.rmSync(file);
}

async function run(plan: Plan): Promise<CaptureReport> {
  const opened = await Promise.all(plan.workers.map(openSink));
  await warmUp(plan);
  const idleRssMb = statusMb(process.pid, 'VmRSS');
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const exitMs: Record<string, number> = {};
  const work = plan.workers.map(async (worker, index) => {
    const { sink } = opened[index] ?? {};
    if (sink === undefined) throw new Error(`no sink for worker ${worker.id}`);
    const child = spawn(process.execPath, [FLOODER, String(worker.lines), String(worker.lineLength), 'stdout', '--id', worker.id], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.stdout === null || child.pid === undefined) throw new Error(`unable to start ${FLOODER}`);
    const exited = waitExit(child).then(() => (exitMs[worker.id] = performance.now() - start));
    const options = { stream: child.stdout, streamName: 'stdout' as const, workerIndex: index, pid: child.pid, sink, format: plan.format };
    await Promise.all([captureWorkerOutput(options).done, exited]);
    await sink.end();
  });
  await Promise.all(work);
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  await Promise.all(opened.map(({ reader }) => (reader ? waitExit(reader) : undefined)));
  const droppedLines = opened.reduce((sum, { sink }) => sum + sink.stats().droppedLines, 0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { wallMs, cpuSeconds, idleRssMb, peakRssMb: statusMb(process.pid, 'VmHWM'), exitMs, droppedLines };
}

const planText = process.argv[2];
if (planText === undefined) {
  process.stderr.write('usage: node dist/bench/log-rotation/capture.js PLAN_JSON\n');
  process.exit(2);
}
run(JSON.parse(planText) as Plan).then(
  (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
  (error: Error) => {
    process.stderr.write(`log-rotation capture: ${error.message}\n`);
    process.exit(1);
  },
);
