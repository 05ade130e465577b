/**
 * Idle cost: context switches and RSS of the supervisor process with 8 idle workers over a 30 s window,
 * for fcgi-spawn (fcgiwrap workers, and the Node responder fixture), beside a bare `node` process and
 * spawn-fcgi + multiwatch and supervisord running the same fcgiwrap pool, all in the same window.
 * Targets (issue 3): 0 switches for fcgi-spawn, RSS ≤ 1.25× the bare node process.
 *
 *   npx tsc -p . && node dist/bench/idle-cost.js [--window-s 30] [--settle-ms 2000] [--json PATH]
 *
 * Switches are voluntary + nonvoluntary summed over /proc/PID/task/*\/status of the supervisor alone
 * (not its workers), end minus start of the window; reading another process's /proc does not wake it.
 * Sampled every --sample-ms to say when and which thread woke. With --explain (default) the same pool
 * also runs in the foreground under `node --trace-gc --trace-gc-verbose` (collections, and the memory
 * reducer's decisions) and `node --no-memory-reducer`, in the same
 * window, so that wake-ups can be laid beside garbage collections; idle `node` processes that only
 * imported some modules show where the RSS goes. A benchmark, not a test: it exits 1 only if it could
 * not measure or something it started is still running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Contender, FcgiSpawnDaemon, FcgiSpawnForeground, IdleNode, Multiwatch, Supervisord, type ContenderSpec, type FcgiSpawnPaths } from './idle-cost/contenders.js';
import { blockedIn, memoryOf, nodeThreadRole, residentByMapping, switchDelta, switchesOf, threadCounters, type ThreadCounters } from './idle-cost/proc.js';
import { renderReport, type GcEvent, type Measured, type ThreadFinding } from './idle-cost/report.js';
import { describeMachine, findPrograms, type DebianProgram } from './machine/environment.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TAG = 'idle-cost';
const USAGE = `usage: node dist/bench/idle-cost.js [--window-s S] [--settle-ms MS] [--sample-ms MS] [--workers N]
       [--no-explain] [--no-attribution] [--json PATH]
  --window-s S       length of the measured window (default 30)
  --settle-ms MS     pause after the last supervisor is ready, before the window opens (default 2000)
  --sample-ms MS     sampling interval inside the window, for the timeline (default 1000)
  --workers N        idle workers per supervisor (default 8)
  --no-explain       skip the foreground runs under --trace-gc and --no-memory-reducer
  --no-attribution   skip the idle node processes that show where the RSS goes
  --json PATH        also write the results as JSON`;

const PROGRAMS: readonly DebianProgram[] = [
  { name: 'fcgiwrap', pkg: 'fcgiwrap' },
  { name: 'spawn-fcgi', pkg: 'spawn-fcgi', versionArgs: ['-v'] },
  { name: 'multiwatch', pkg: 'multiwatch', versionArgs: ['-v'] },
  { name: 'supervisord', pkg: 'supervisor', versionArgs: ['--version'] },
];

interface Options {
  readonly windowS: number;
  readonly settleMs: number;
  readonly sampleMs: number;
  readonly workers: number;
  readonly explain: boolean;
  readonly attribution: boolean;
  readonly json: string | undefined;
}

class UsageError extends Error {}

function number(name: string, text: string | undefined, fallback: number, min: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${TAG}: ${name} '${text}' is not ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return value;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      'window-s': { type: 'string' },
      'settle-ms': { type: 'string' },
      'sample-ms': { type: 'string' },
      workers: { type: 'string' },
      'no-explain': { type: 'boolean' },
      'no-attribution': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  return {
    windowS: number('--window-s', values['window-s'], 30, 1, false),
    settleMs: number('--settle-ms', values['settle-ms'], 2000, 0, false),
    sampleMs: number('--sample-ms', values['sample-ms'], 1000, 100, false),
    workers: number('--workers', values.workers, 8, 1, true),
    explain: values['no-explain'] !== true,
    attribution: values['no-attribution'] !== true,
    json: values.json,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

const IDLE = 'setInterval(() => {}, 1 << 30);';

/** Idle node processes that imported only the given modules: where the supervisor's RSS comes from. */
function attributionProbes(): Contender[] {
  const url = (path: string): string => pathToFileURL(join(REPO, path)).href;
  const probes: [string, string, readonly string[]][] = [
    ['esm', 'node, ESM -e, nothing imported', []],
    ['commander', '+ commander', ['commander']],
    ['winston', '+ winston', ['winston']],
    ['execa', '+ execa', ['execa']],
    ['koffi', '+ koffi', ['koffi']],
    ['deps', '+ commander, winston, execa, koffi', ['commander', 'winston', 'execa', 'koffi']],
    ['cli', '+ dist/src/cli.js (every command loads it)', [url('dist/src/cli.js')]],
    ['start', '+ dist/src/commands/start.js (the daemon code, not run)', [url('dist/src/commands/start.js')]],
  ];
  return probes.map(([key, label, modules]) => {
    const script = `${modules.map((m) => `await import(${JSON.stringify(m)});`).join(' ')} ${IDLE}`;
    const probe = new IdleNode({ key: `rss-${key}`, label, role: 'attribution', node: true, workers: 0 }, [process.execPath, '--input-type=module', '-e', script]);
    probe.cwd = REPO;
    return probe;
  });
}

async function contenders(options: Options, programs: Readonly<Record<string, string | undefined>>, scratch: string, notes: string[]): Promise<Contender[]> {
  const list: Contender[] = [];
  const spec = (key: string, label: string, role: ContenderSpec['role'], node: boolean): ContenderSpec => ({ key, label, role, node, workers: options.workers });
  const paths: FcgiSpawnPaths = { cli: join(REPO, 'bin', 'fcgi-spawn.js'), runDir: join(scratch, 'run'), logDir: join(scratch, 'log') };
  const responder = [process.execPath, join(REPO, 'test', 'fixtures', 'fcgi-responder.mjs')];
  const { fcgiwrap, multiwatch } = programs;
  const spawnFcgi = programs['spawn-fcgi'];
  if (options.attribution) list.push(...attributionProbes());
  list.push(new IdleNode({ key: 'node', label: 'bare node', role: 'baseline', node: true, workers: 0 }, [process.execPath, '-e', IDLE]));
  if (fcgiwrap && spawnFcgi && multiwatch) {
    const port = await freePort();
    const args = ['-n', '-a', '127.0.0.1', '-p', String(port), '--', multiwatch, '-f', String(options.workers), '--', fcgiwrap];
    list.push(new Multiwatch(spec('multiwatch', 'spawn-fcgi + multiwatch, fcgiwrap', 'supervisor', false), [spawnFcgi, ...args]));
  } else notes.push('spawn-fcgi + multiwatch skipped: spawn-fcgi, multiwatch or fcgiwrap missing');
  if (fcgiwrap && programs.supervisord) {
    const dir = join(scratch, 'supervisord');
    mkdirSync(dir);
    list.push(new Supervisord(spec('supervisord', 'supervisord, fcgiwrap', 'supervisor', false), programs.supervisord, dir, await freePort(), fcgiwrap));
  } else notes.push('supervisord skipped: supervisord or fcgiwrap missing');
  const diagnosisWorker = fcgiwrap ? [fcgiwrap] : responder;
  if (options.explain) {
    const label = fcgiwrap ? 'fcgiwrap' : 'node responder';
    list.push(new FcgiSpawnForeground(spec('fg-trace-gc', `fcgi-spawn -n under --trace-gc, ${label}`, 'diagnosis', true), paths, await freePort(), ['--trace-gc', '--trace-gc-verbose'], diagnosisWorker));
    if (fcgiwrap) {
      // Node workers make the supervisor's start-up allocate more (see the report): its reducer waits longer.
      list.push(new FcgiSpawnForeground(spec('fg-trace-gc-node', 'fcgi-spawn -n under --trace-gc, node responder', 'diagnosis', true), paths, await freePort(), ['--trace-gc', '--trace-gc-verbose'], responder));
    }
    list.push(new FcgiSpawnForeground(spec('fg-no-reducer', `fcgi-spawn -n under --no-memory-reducer, ${label}`, 'diagnosis', true), paths, await freePort(), ['--no-memory-reducer'], diagnosisWorker));
  }
  if (fcgiwrap) list.push(new FcgiSpawnDaemon(spec('fcgi-spawn-fcgiwrap', 'fcgi-spawn, fcgiwrap', 'supervisor', true), paths, await freePort(), [fcgiwrap]));
  else notes.push('fcgi-spawn with fcgiwrap skipped: fcgiwrap missing');
  list.push(new FcgiSpawnDaemon(spec('fcgi-spawn-node', 'fcgi-spawn, node responder', 'supervisor', true), paths, await freePort(), responder));
  return list;
}

interface Window {
  readonly openedAt: number;
  readonly before: Map<Contender, ThreadCounters[]>;
  /** Per sample: each contender's threads at that moment. */
  readonly samples: Map<Contender, ThreadCounters[]>[];
  readonly after: Map<Contender, ThreadCounters[]>;
}

async function measureWindow(pool: readonly Contender[], options: Options, stop: () => boolean): Promise<Window> {
  const look = (): Map<Contender, ThreadCounters[]> => new Map(pool.map((c) => [c, threadCounters(c.supervisorPid)]));
  const openedAt = performance.now();
  const before = look();
  const samples: Map<Contender, ThreadCounters[]>[] = [];
  const end = openedAt + options.windowS * 1000;
  for (let next = openedAt + options.sampleMs; next < end - 1 && !stop(); next += options.sampleMs) {
    // One timer per sample and nothing else: the benchmark stays out of the supervisors' way.
    await delay(Math.max(0, next - performance.now()));
    samples.push(look());
  }
  await delay(Math.max(0, end - performance.now()));
  return { openedAt, before, samples, after: look() };
}

function threadFindings(c: Contender, w: Window, options: Options): ThreadFinding[] {
  const after = w.after.get(c) ?? [];
  const delta = switchDelta(w.before.get(c) ?? [], after);
  const tids = after.map((t) => t.tid);
  const series = [w.before, ...w.samples, w.after].map((m) => new Map((m.get(c) ?? []).map((t) => [t.tid, t.voluntary + t.nonvoluntary])));
  return delta.threads
    .filter((t) => t.voluntary + t.nonvoluntary > 0)
    .map((t) => {
      const when: { atS: number; switches: number }[] = [];
      for (let i = 1; i < series.length; i += 1) {
        const d = (series[i]?.get(t.tid) ?? 0) - (series[i - 1]?.get(t.tid) ?? 0);
        if (d > 0) when.push({ atS: Math.round(((i - 1) * options.sampleMs) / 100) / 10, switches: d });
      }
      const role = c.spec.node ? nodeThreadRole(c.supervisorPid, t.tid, tids) : t.tid === c.supervisorPid ? 'main thread' : 'thread';
      return { tid: t.tid, role: `${role}${t.born ? ' (new)' : ''}`, blockedIn: blockedIn(c.supervisorPid, t.tid), voluntary: t.voluntary, nonvoluntary: t.nonvoluntary, when };
    });
}

/** `[pid:0x…]  8153 ms: Mark-Compact (reduce) …`: ms since the isolate started, taken as the process's spawn. */
function gcEvents(c: Contender, openedAt: number): GcEvent[] {
  const events: GcEvent[] = [];
  for (const line of c.stdout.split('\n')) {
    const match = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: (.*)$/.exec(line.trim());
    // --trace-gc-verbose adds heap tables; keep the collections and the memory reducer's decisions.
    if (!match || !/^(Memory reducer:|Mark-Compact|Scavenge|Mark-Sweep|Minor)/.test(match[2] ?? '')) continue;
    const at = c.spawnedAt + Number(match[1]);
    events.push({ atS: (at - openedAt) / 1000, sinceReadyS: (at - c.readyAt) / 1000, line: (match[2] ?? '').replace(/\s+/g, ' ').trim() });
  }
  return events;
}

function measured(c: Contender, w: Window, options: Options): Measured {
  const before = w.before.get(c) ?? [];
  const after = w.after.get(c) ?? [];
  const all = [before, ...w.samples.map((s) => s.get(c) ?? []), after];
  const timeline: number[] = [];
  for (let i = 1; i < all.length; i += 1) timeline.push(switchesOf(all[i] ?? []) - switchesOf(all[i - 1] ?? []));
  const shownCommand = c.command.map((word) => (word === process.execPath ? 'node' : word.startsWith(REPO) ? relative(process.cwd(), word) || word : word));
  return {
    key: c.spec.key,
    label: c.spec.label,
    role: c.spec.role,
    command: shownCommand.join(' '),
    pid: c.supervisorPid,
    workers: c.spec.workers,
    readyToWindowS: (w.openedAt - c.readyAt) / 1000,
    switches: switchDelta(before, after),
    memory: memoryOf(c.supervisorPid),
    mappings: residentByMapping(c.supervisorPid),
    timeline,
    threads: threadFindings(c, w, options),
    ...(c.spec.key.startsWith('fg-trace-gc') ? { gc: gcEvents(c, w.openedAt) } : {}),
  };
}

let interrupted: NodeJS.Signals | undefined;

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const found = findPrograms(TAG, PROGRAMS);
  const machine = describeMachine(REPO, PROGRAMS, found);
  const notes = [...found.notes];
  const scratch = mkdtempSync(join(os.tmpdir(), 'idle-cost-bench-'));
  mkdirSync(join(scratch, 'run'), { mode: 0o700 });
  mkdirSync(join(scratch, 'log'));
  const pool = await contenders(options, found.paths, scratch, notes);

  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort if something throws past the cleanup below: nothing of ours may outlive us.
  process.on('exit', () => pool.forEach((c) => c.killEverythingNow()));

  let window: Window | undefined;
  let failure: string | undefined;
  try {
    for (const c of pool) {
      if (interrupted) break;
      process.stderr.write(`${TAG}: starting ${c.spec.label}\n`);
      await c.start(Date.now() + 30_000);
    }
    if (!interrupted) {
      await delay(options.settleMs);
      process.stderr.write(`${TAG}: measuring for ${options.windowS} s\n`);
      window = await measureWindow(pool, options, () => interrupted !== undefined);
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${TAG}: ${failure}\n`);
  }
  const results = window && !interrupted ? pool.map((c) => measured(c, window as Window, options as Options)) : [];

  const stopNotes: string[] = [];
  for (const c of [...pool].reverse()) {
    const note = await c.stop(15_000);
    if (note) stopNotes.push(note);
  }
  rmSync(scratch, { recursive: true, force: true });
  const left = pool.flatMap((c) => c.leftovers());
  const workerCount = pool.reduce((n, c) => n + c.workers.size, 0);
  let cleanup = left.length === 0 ? `${pool.length} supervisors/processes and ${workerCount} workers started; none left running; temp dir removed` : `STILL RUNNING: ${left.join(', ')}`;
  if (stopNotes.length > 0) cleanup += ` (${stopNotes.join('; ')})`;

  if (interrupted) {
    process.stderr.write(`${TAG}: interrupted by ${interrupted}; ${cleanup}\n`);
    return 130;
  }
  if (failure || results.length === 0) {
    process.stderr.write(`${TAG}: nothing measured; ${cleanup}\n`);
    return 1;
  }
  const run = { machine, windowS: options.windowS, settleMs: options.settleMs, sampleMs: options.sampleMs, workers: options.workers, notes, cleanup };
  process.stdout.write(`${renderReport(run, results)}\n`);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), ...run, results }, null, 2)}\n`);
    process.stdout.write(`results written to ${options.json}\n`);
  }
  return left.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${TAG}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
