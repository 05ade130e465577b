/**
 * Worker output through size-based rotation: fcgi-spawn's capture (src/log/) side by side with supervisord and
 * PM2 + pm2-logrotate, in one run. Not a test: it prints a table and exits 1 only if it could not run.
 *
 *   npx tsc -p . && node dist/bench/log-rotation.js [--lines N] [--rounds N] [--slow-lines N] [--no-pm2] [--json PATH]
 *
 * Rounds (default 5) interleave the tools; each row is the round with the median CPU time, its CPU also given per
 * 100 MB of output and as a ratio to supervisord's median (CPU/sv: issue 10's bar is ≤ 1.0× for raw).
 *
 * Throughput: 2 flooder workers write N lines of 100 bytes in all (default 1,000,000) to stdout, each worker
 * into its own log rotated at 10M × 5 backups (all of it is retained, so every line can be checked). Measured:
 * wall time from the workers' start to their last exit; supervisor-side CPU seconds (fcgi-spawn: process.cpuUsage
 * of the capturing process; others: /proc/PID/stat of their daemon from the moment the workers run); peak RSS;
 * lines lost, cut in two, repeated (summed over all rounds); the largest file against the 10M limit.
 * Slow sink: worker `slow` logs to a pipe drained at 2 MB/s, worker `fast` to a file; both write --slow-lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startSlowReader, waitExit } from './log-rotation/proc.js';
import type { CaptureReport, Plan } from './log-rotation/capture.js';
import { installPm2, pm2Files, runPm2 } from './log-rotation/pm2.js';
import { runSupervisord, supervisordAvailable, type SupervisordReport } from './log-rotation/supervisord.js';
import { rotatedSet, verify, type Verdict } from './log-rotation/verify.js';

const MAX_SIZE = 10 * 1024 * 1024;
const BACKUPS = 5;
const LINE_LENGTH = 100;
/** CPU is also given per 100 MB of worker output (10^8 bytes: the default run's 1,000,000 lines of 100 bytes). */
const HUNDRED_MB = 100_000_000;
const SLOW_RATE = 2_000_000;
const TEXT_PREFIX = /^\S+ worker=\d+ pid=\d+ stdout: /;
const CAPTURE = path.join(path.dirname(new URL(import.meta.url).pathname), 'log-rotation', 'capture.js');

interface Row {
  readonly name: string;
  /** CPU seconds of every round, when the row is the median of several. */
  readonly cpuRange?: readonly number[];
  readonly report: SupervisordReport & { readonly idleRssMb?: number };
  readonly verdict: Verdict;
}

function capture(plan: Plan): CaptureReport {
  const out = execFileSync(process.execPath, [CAPTURE, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  return JSON.parse(out.toString()) as CaptureReport;
}

function sum(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce((a, b) => ({
    intact: a.intact + b.intact,
    lost: a.lost + b.lost,
    rotatedOut: a.rotatedOut + b.rotatedOut,
    cut: a.cut + b.cut,
    repeated: a.repeated + b.repeated,
    largestFileBytes: Math.max(a.largestFileBytes, b.largestFileBytes),
  }));
}

function ours(dir: string, format: 'raw' | 'text', perWorker: number): Row {
  const ids = ['w0', 'w1'];
  const workers = ids.map((id) => ({ id, lines: perWorker, lineLength: LINE_LENGTH, sink: { path: path.join(dir, `${id}.log`), maxSize: MAX_SIZE, maxFiles: BACKUPS } }));
  const report = capture({ format, workers });
  const strip = format === 'text' ? TEXT_PREFIX : undefined;
  const verdict = sum(ids.map((id) => verify(rotatedSet(path.join(dir, `${id}.log`), BACKUPS), id, perWorker, LINE_LENGTH, strip)));
  return { name: `fcgi-spawn (${format})`, report, verdict };
}

async function supervisord(dir: string, perWorker: number): Promise<Row> {
  const ids = ['w0', 'w1'];
  const workers = ids.map((id) => ({ id, lines: perWorker, lineLength: LINE_LENGTH, logfile: path.join(dir, `${id}.log`), maxBytes: MAX_SIZE, backups: BACKUPS }));
  const report = await runSupervisord(dir, workers);
  const verdict = sum(ids.map((id) => verify(rotatedSet(path.join(dir, `${id}.log`), BACKUPS), id, perWorker, LINE_LENGTH)));
  return { name: 'supervisord 4.2.5', report, verdict };
}

async function pm2(dir: string, perWorker: number, pm2Binary: string): Promise<Row | string> {
  const ids = ['w0', 'w1'];
  const workers = ids.map((id) => ({ id, lines: perWorker, lineLength: LINE_LENGTH, logfile: path.join(dir, `${id}.log`) }));
  try {
    const report = await runPm2(pm2Binary, path.join(dir, 'home'), workers, '10M', BACKUPS);
    const verdict = sum(ids.map((id) => verify(pm2Files(path.join(dir, `${id}.log`)), id, perWorker, LINE_LENGTH)));
    return { name: 'PM2 + pm2-logrotate', report, verdict };
  } catch (error) {
    return `PM2 skipped: ${(error as Error).message.split('\n')[0] ?? ''}`;
  }
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function table(rows: readonly Row[], bytes: number): string {
  const base = rows.find((row) => row.name.startsWith('supervisord'));
  const per100Mb = (cpuSeconds: number): number => (cpuSeconds * HUNDRED_MB) / bytes;
  const header = ['', 'wall s', 'CPU s (range)', 'CPU s/100 MB', 'CPU/sv', 'peak RSS MB', 'RSS growth', 'lost', 'cut', 'repeated', 'rotated out', 'largest file'];
  const lines = rows.map((row) => {
    const { report, verdict } = row;
    const growth = report.idleRssMb === undefined ? '-' : fixed(report.peakRssMb - report.idleRssMb, 1);
    const range = row.cpuRange && row.cpuRange.length > 1 ? ` (${fixed(Math.min(...row.cpuRange), 2)}–${fixed(Math.max(...row.cpuRange), 2)})` : '';
    const ratio = base === undefined ? '-' : `${fixed(report.cpuSeconds / base.report.cpuSeconds, 2)}×`;
    const over = verdict.largestFileBytes - MAX_SIZE;
    const largest = `${fixed(verdict.largestFileBytes / 1048576, 2)} MiB (${over > 0 ? '+' : ''}${over} B)`;
    return [row.name, fixed(report.wallMs / 1000, 2), `${fixed(report.cpuSeconds, 2)}${range}`, fixed(per100Mb(report.cpuSeconds), 2), ratio, fixed(report.peakRssMb, 1), growth, String(verdict.lost), String(verdict.cut), String(verdict.repeated), String(verdict.rotatedOut), largest];
  });
  const all = [header, ...lines];
  const widths = header.map((_, column) => Math.max(...all.map((cells) => (cells[column] ?? '').length)));
  return all.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')).join('\n');
}

async function slowSink(dir: string, lines: number): Promise<string[]> {
  const out: string[] = [];
  const plan: Plan = {
    format: 'raw',
    workers: [
      { id: 'slow', lines, lineLength: LINE_LENGTH, sink: { path: path.join(dir, 'slow.out'), pipeRate: SLOW_RATE } },
      { id: 'fast', lines, lineLength: LINE_LENGTH, sink: { path: path.join(dir, 'fast.log'), maxSize: MAX_SIZE, maxFiles: BACKUPS } },
    ],
  };
  const report = capture(plan);
  out.push(`fcgi-spawn:  fast worker done in ${fixed((report.exitMs['fast'] ?? 0) / 1000, 2)} s, slow worker in ${fixed((report.exitMs['slow'] ?? 0) / 1000, 2)} s; peak RSS ${fixed(report.peakRssMb, 1)} MB (growth ${fixed(report.peakRssMb - report.idleRssMb, 1)})`);
  if (!supervisordAvailable()) return [...out, 'supervisord: skipped (not installed)'];
  const svDir = fs.mkdtempSync(path.join(dir, 'sv-'));
  const fifo = path.join(svDir, 'slow.fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = startSlowReader(SLOW_RATE, fifo, path.join(svDir, 'slow.out'));
  const sv = await runSupervisord(svDir, [
    { id: 'slow', lines, lineLength: LINE_LENGTH, logfile: fifo, maxBytes: 0, backups: 0 },
    { id: 'fast', lines, lineLength: LINE_LENGTH, logfile: path.join(svDir, 'fast.log'), maxBytes: MAX_SIZE, backups: BACKUPS },
  ]);
  await waitExit(reader);
  out.push(`supervisord: fast worker done in ${fixed((sv.exitMs['fast'] ?? 0) / 1000, 2)} s, slow worker in ${fixed((sv.exitMs['slow'] ?? 0) / 1000, 2)} s; peak RSS ${fixed(sv.peakRssMb, 1)} MB`);
  return out;
}

/** The round with the median CPU time, carrying every round's CPU time; lost/cut/repeated summed over rounds. */
function median(rows: readonly Row[]): Row {
  const sorted = [...rows].sort((a, b) => a.report.cpuSeconds - b.report.cpuSeconds);
  const middle = sorted[Math.floor((sorted.length - 1) / 2)] as Row;
  return { ...middle, cpuRange: rows.map((row) => row.report.cpuSeconds), verdict: { ...middle.verdict, ...sumFaults(rows) } };
}

function sumFaults(rows: readonly Row[]): Pick<Verdict, 'lost' | 'cut' | 'repeated' | 'largestFileBytes'> {
  const verdicts = rows.map((row) => row.verdict);
  const total = (key: 'lost' | 'cut' | 'repeated'): number => verdicts.reduce((sum, verdict) => sum + verdict[key], 0);
  return { lost: total('lost'), cut: total('cut'), repeated: total('repeated'), largestFileBytes: Math.max(...verdicts.map((v) => v.largestFileBytes)) };
}

async function main(): Promise<void> {
  const options = { lines: { type: 'string' }, 'slow-lines': { type: 'string' }, rounds: { type: 'string' }, 'no-pm2': { type: 'boolean' }, json: { type: 'string' } } as const;
  const { values } = parseArgs({ options });
  const total = Number(values.lines ?? 1_000_000);
  const rounds = Number(values.rounds ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`invalid --rounds ${JSON.stringify(values.rounds)}: expected a whole number ≥ 1`);
  const slowLines = Number(values['slow-lines'] ?? 50_000);
  if (!Number.isInteger(total) || total < 2 || !Number.isInteger(slowLines) || slowLines < 1) {
    throw new Error(`invalid --lines ${JSON.stringify(values.lines)} or --slow-lines ${JSON.stringify(values['slow-lines'])}: expected whole numbers`);
  }
  const perWorker = Math.floor(total / 2);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcgi-spawn-bench-logs-'));
  const notes: string[] = [];
  try {
    const fresh = (name: string): string => fs.mkdtempSync(path.join(root, `${name}-`));
    const runs = new Map<string, Row[]>();
    const add = (row: Row): void => void runs.set(row.name, [...(runs.get(row.name) ?? []), row]);
    const pm2Binary = values['no-pm2'] === true ? { reason: '--no-pm2' } : installPm2(path.join(root, 'npm'));
    if ('reason' in pm2Binary) notes.push(`PM2 skipped: ${pm2Binary.reason}`);
    if (!supervisordAvailable()) notes.push('supervisord skipped: /usr/bin/supervisord not found (apt-get install supervisor)');
    // Rounds interleave the tools, so that a slow moment of the machine does not favour one of them.
    for (let round = 0; round < rounds; round += 1) {
      add(ours(fresh('raw'), 'raw', perWorker));
      add(ours(fresh('text'), 'text', perWorker));
      if (supervisordAvailable()) add(await supervisord(fresh('supervisord'), perWorker));
      if ('pm2' in pm2Binary) {
        const row = await pm2(fresh('pm2'), perWorker, pm2Binary.pm2);
        if (typeof row === 'string') notes.push(row);
        else add(row);
      }
    }
    const rows = [...runs.values()].map(median);
    console.log(`${total} lines of ${LINE_LENGTH} bytes from 2 workers, rotation at 10M × ${BACKUPS}; median of ${rounds} rounds by CPU; ${os.cpus().length} CPUs, Node ${process.version}`);
    console.log(table(rows, perWorker * 2 * LINE_LENGTH));
    for (const note of notes) console.log(note);
    console.log(`\nslow sink: each worker writes ${slowLines} lines; 'slow' logs to a pipe drained at 2 MB/s, 'fast' to a file`);
    const slow = await slowSink(fresh('slow'), slowLines);
    for (const line of slow) console.log(line);
    if (values.json !== undefined) {
      fs.writeFileSync(values.json, `${JSON.stringify({ lines: total, rounds, rows, notes, slowSink: slow }, null, 2)}\n`);
      console.log(`results written to ${values.json}`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  console.error(`log-rotation: ${error.message}`);
  process.exit(1);
});
