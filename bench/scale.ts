/**
 * Scale: what one event costs as the pool grows (issue 8 "Scale", issue 10 "the cost of one event must not grow
 * with the pool"). For each pool size (8, 64, 256 fcgiwrap workers by default; 1024 with --workers), fcgi-spawn and
 * spawn-fcgi + multiwatch in turn, one at a time on the machine:
 *  - at rest: the supervisor's RSS, CPU and context switches (wake-ups) over --idle-s;
 *  - `fcgi-spawn status -p PORT`: wall time of --status-runs runs (the CLI against the running daemon);
 *  - --storms times: SIGKILL of every worker at once, then the time until as many new workers are blocked in
 *    accept() on the socket (read from /proc as the product reads it), the supervisor's CPU meanwhile, and its
 *    RSS before, at restore and after --settle-ms.
 * Then how each figure grows from one size to the next, beside the pool's own growth.
 *
 *   npm run bench:scale                                   # builds, then 8, 64, 256
 *   node dist/bench/scale.js --workers 8,64,256,1024 --json /tmp/scale.json
 *
 * A benchmark, not a test: it exits 1 only if it could not measure, a storm timed out, or something it started
 * is still running.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FcgiSpawnDaemon, Multiwatch, type Contender, type FcgiSpawnPaths } from './idle-cost/contenders.js';
import { describeMachine, findPrograms, type DebianProgram } from './machine/environment.js';
import { numberArgument, parseArguments } from './machine/arguments.js';
import { freePort } from '../test/helpers/processes.js';
import { measureRest, storm, timeCommand, type Timings } from './scale/measure.js';
import { renderReport, type Run } from './scale/report.js';
import { spawnFloor } from './scale/spawn-floor.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TAG = 'scale';
const USAGE = `usage: node dist/bench/scale.js [--workers LIST] [--idle-s S] [--storms N] [--status-runs N]
       [--settle-ms MS] [--poll-ms MS] [--timeout-ms MS] [--no-multiwatch] [--json PATH]
  --workers LIST     pool sizes, comma-separated (default 8,64,256; add 1024 for issue 10's full set: see
                     the README for how long it takes)
  --idle-s S         window at rest for CPU and wake-ups (default 10)
  --storms N         kill-everything storms per pool size and supervisor (default 3)
  --status-runs N    timed runs of fcgi-spawn status per pool size (default 20)
  --settle-ms MS     pause after start and after each storm (default 2000; above --start-secs, so that a
                     storm's kills are not counted as early crashes)
  --poll-ms MS       /proc polling interval during a storm (default 2)
  --timeout-ms MS    give up on a storm after this long (default 120000)
  --no-multiwatch    fcgi-spawn alone
  --json PATH        also write the results as JSON`;

const PROGRAMS: readonly DebianProgram[] = [
  { name: 'fcgiwrap', pkg: 'fcgiwrap' },
  { name: 'spawn-fcgi', pkg: 'spawn-fcgi', versionArgs: ['-v'] },
  { name: 'multiwatch', pkg: 'multiwatch', versionArgs: ['-v'] },
];

interface Options {
  readonly counts: readonly number[];
  readonly idleS: number;
  readonly storms: number;
  readonly statusRuns: number;
  readonly settleMs: number;
  readonly pollMs: number;
  readonly timeoutMs: number;
  readonly multiwatch: boolean;
  readonly json: string | undefined;
}

const number = (name: string, text: string | undefined, fallback: number, min: number, integer: boolean): number => numberArgument(TAG, name, text, fallback, min, integer);

function counts(text: string | undefined): number[] {
  const list = (text ?? '8,64,256').split(',').map((part) => number('--workers', part, 0, 1, true));
  if (list.some((n) => n > 4096)) throw new Error(`${TAG}: --workers '${text}': at most 4096 workers (fcgi-spawn's -F)`);
  return [...new Set(list)].sort((a, b) => a - b);
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string' },
      'idle-s': { type: 'string' },
      storms: { type: 'string' },
      'status-runs': { type: 'string' },
      'settle-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'no-multiwatch': { type: 'boolean' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  return {
    counts: counts(values.workers),
    idleS: number('--idle-s', values['idle-s'], 10, 1, false),
    storms: number('--storms', values.storms, 3, 1, true),
    statusRuns: number('--status-runs', values['status-runs'], 20, 1, true),
    settleMs: number('--settle-ms', values['settle-ms'], 2000, 0, false),
    pollMs: number('--poll-ms', values['poll-ms'], 2, 1, false),
    timeoutMs: number('--timeout-ms', values['timeout-ms'], 120_000, 1, false),
    multiwatch: values['no-multiwatch'] !== true,
    json: values.json,
  };
}

interface Setup {
  readonly contender: Contender;
  readonly tool: Run['tool'];
  readonly port: number;
}

async function setups(workers: number, options: Options, programs: Readonly<Record<string, string | undefined>>, paths: FcgiSpawnPaths): Promise<Setup[]> {
  const fcgiwrap = programs.fcgiwrap as string;
  const list: Setup[] = [];
  const spec = (key: string, label: string) => ({ key, label, role: 'supervisor' as const, node: key === 'fcgi-spawn', workers });
  const port = await freePort();
  list.push({ tool: 'fcgi-spawn', port, contender: new FcgiSpawnDaemon(spec('fcgi-spawn', `fcgi-spawn ×${workers}`), paths, port, [fcgiwrap]) });
  const spawnFcgi = programs['spawn-fcgi'];
  if (options.multiwatch && spawnFcgi && programs.multiwatch) {
    const mwPort = await freePort();
    // -t 0: multiwatch counts a death within -t ms (default 10000) of a spawn as a failed start and stops
    // forking that slot after -r (3) of them; storms a few seconds apart would exhaust it. No delay changes.
    const command = [spawnFcgi, '-n', '-a', '127.0.0.1', '-p', String(mwPort), '--', programs.multiwatch, '-f', String(workers), '-t', '0', '--', fcgiwrap];
    list.push({ tool: 'multiwatch', port: mwPort, contender: new Multiwatch(spec('multiwatch', `spawn-fcgi + multiwatch ×${workers}`), command) });
  }
  return list;
}

function shown(command: readonly string[]): string {
  return command.map((word) => (word === process.execPath ? 'node' : word.startsWith(REPO) ? relative(process.cwd(), word) || word : word)).join(' ');
}

let interrupted: NodeJS.Signals | undefined;

async function measure(setup: Setup, workers: number, options: Options, env: NodeJS.ProcessEnv, cli: string): Promise<Run> {
  const c = setup.contender;
  const launched = performance.now();
  await c.start(Date.now() + 30_000 + workers * 200);
  const startMs = performance.now() - launched;
  await delay(options.settleMs);
  const rest = await measureRest(c.supervisorPid, options.idleS);
  const status = setup.tool === 'fcgi-spawn' ? timeCommand(process.execPath, [cli, 'status', '-p', String(setup.port)], env, options.statusRuns) : undefined;
  const storms = [];
  for (let i = 0; i < options.storms && !interrupted; i += 1) {
    const result = await storm(c, workers, options);
    storms.push(result);
    process.stderr.write(`${TAG}: ${c.spec.label}: storm ${i + 1}: ${result.restoreMs.toFixed(0)} ms, ${result.cpuMs.toFixed(0)} ms CPU${result.timedOut ? ' (TIMED OUT)' : ''}\n`);
    if (result.timedOut) break;
  }
  return { tool: setup.tool, label: c.spec.label, command: shown(c.command), workers, startMs, rest, ...(status ? { status } : {}), storms };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const found = findPrograms(TAG, PROGRAMS);
  if (!found.paths.fcgiwrap) throw new Error('fcgiwrap is needed (apt-get install fcgiwrap)');
  const machine = describeMachine(REPO, PROGRAMS, found);
  const notes = [...found.notes];
  const scratch = mkdtempSync(join(os.tmpdir(), 'scale-bench-'));
  const paths: FcgiSpawnPaths = { cli: join(REPO, 'bin', 'fcgi-spawn.js'), runDir: join(scratch, 'run'), logDir: join(scratch, 'log') };
  mkdirSync(paths.runDir, { mode: 0o700 });
  mkdirSync(paths.logDir);
  const env = { ...process.env, FCGI_SPAWN_RUN_DIR: paths.runDir, FCGI_SPAWN_LOG_DIR: paths.logDir };
  const started: Contender[] = [];
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupted = sig;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort if something throws past the cleanup below: nothing of ours may outlive us.
  process.on('exit', () => started.forEach((c) => c.killEverythingNow()));

  const nodeBaseline: Timings = timeCommand(process.execPath, ['-e', '0'], env, options.statusRuns);
  const floor = spawnFloor(200);
  const runs: Run[] = [];
  const stopNotes: string[] = [];
  let failure: string | undefined;
  const began = performance.now();
  const elapsedByCountS: Record<number, number> = {};
  for (const workers of options.counts) {
    if (interrupted || failure) break;
    const sizeBegan = performance.now();
    for (const setup of await setups(workers, options, found.paths, paths)) {
      if (interrupted || failure) break;
      started.push(setup.contender);
      process.stderr.write(`${TAG}: ${setup.contender.spec.label}\n`);
      try {
        runs.push(await measure(setup, workers, options, env, paths.cli));
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
        process.stderr.write(`${TAG}: ${failure}\n`);
      }
      const note = await setup.contender.stop(15_000);
      if (note) stopNotes.push(note);
    }
    elapsedByCountS[workers] = (performance.now() - sizeBegan) / 1000;
  }
  const elapsedS = (performance.now() - began) / 1000;
  rmSync(scratch, { recursive: true, force: true });
  const left = started.flatMap((c) => c.leftovers());
  const workerCount = started.reduce((n, c) => n + c.workers.size, 0);
  let cleanup = left.length === 0 ? `${started.length} supervisors and ${workerCount} workers started; none left running; temp dir removed` : `STILL RUNNING: ${left.join(', ')}`;
  if (stopNotes.length > 0) cleanup += ` (${stopNotes.join('; ')})`;
  if (interrupted) {
    process.stderr.write(`${TAG}: interrupted by ${interrupted}; ${cleanup}\n`);
    return 130;
  }
  if (runs.length === 0) {
    process.stderr.write(`${TAG}: nothing measured; ${cleanup}\n`);
    return 1;
  }
  const description = { machine, counts: options.counts, idleS: options.idleS, storms: options.storms, statusRuns: options.statusRuns, pollMs: options.pollMs, settleMs: options.settleMs, nodeBaseline, notes, cleanup, elapsedS, elapsedByCountS, ...(floor ? { spawnFloor: floor } : {}) };
  process.stdout.write(`${renderReport(description, runs)}\n`);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), ...description, runs }, null, 2)}\n`);
    process.stdout.write(`results written to ${options.json}\n`);
  }
  const timedOut = runs.some((run) => run.storms.some((s) => s.timedOut));
  return failure || timedOut || left.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${TAG}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
