/**
 * CLI latency: the commands scripts and health checks run many times a minute — `status`, `stop`, `probe`,
 * and the cheap `--help` / `--version` paths — against `node -e 0`, with hyperfine. Target (issue 3,
 * DESIGN.md "CLI start-up"): each within 1.5× of `node -e 0`.
 *
 *   npx tsc -p . && node dist/bench/cli-latency.js [--runs 30] [--warmup 3] [--workers 2] [--json PATH]
 *
 * One running instance (Node responder workers, so that `probe /` answers 200) serves status and probe;
 * `stop` gets a fresh instance before every run through hyperfine's --prepare, outside the timing; the
 * "stopped" rows use a port nothing runs on. Every run's exit code is checked. Then, to say where the
 * time goes: the daemon's answer to `status` timed on its own (and what the daemon does per worker to
 * build it), the modules each command loads (a load hook; winston, koffi, execa, chokidar must not be
 * among them), what importing each module costs by itself, and a `node --cpu-prof` breakdown of each
 * command's start-up by what ran (ESM loader, CommonJS loader, packages, our code, GC). A benchmark, not a test: it exits 1
 * only if it could not measure, an exit code was wrong, or something it started is still running.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { profileCommand, type Breakdown } from './cli-latency/cpu-profile.js';
import { measureDaemonSide, type DaemonSide } from './cli-latency/daemon-side.js';
import { commandLine, hyperfineVersion, runHyperfine, type HyperfineOptions, type TimedCommand, type Timing } from './cli-latency/hyperfine.js';
import { importCommands, importTargets, recordLoads, type LoadedModules } from './cli-latency/modules.js';
import { renderReport } from './cli-latency/report.js';
import { holdTcpSockets, type TcpLoad } from './cli-latency/tcp-load.js';
import { describeMachine, findPrograms, type DebianProgram } from './machine/environment.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TAG = 'cli-latency';
const USAGE = `usage: node dist/bench/cli-latency.js [--runs N] [--warmup N] [--rounds N] [--workers N] [--no-modules]
       [--tcp-sockets N] [--json PATH]
  --runs N       timed runs per command, all rounds together (default 30)
  --warmup N     warm-up runs per command in each round (default 3)
  --rounds N     hyperfine invocations over all commands, order rotated, runs pooled (default 5)
  --workers N    Node responder workers of the instances status, probe and stop run against (default 2)
  --no-modules   skip the module analysis (which modules load, what each import costs, CPU profiles)
  --tcp-sockets N  hold N idle TCP sockets on 127.0.0.1 during the run, as a busy host has (default 0)
  --json PATH    also write the results as JSON`;

const PROGRAMS: readonly DebianProgram[] = [{ name: 'hyperfine', pkg: 'hyperfine', versionArgs: ['--version'] }];

interface Options {
  readonly runs: number;
  readonly warmup: number;
  readonly rounds: number;
  readonly workers: number;
  readonly modules: boolean;
  readonly tcpSockets: number;
  readonly json: string | undefined;
}

class UsageError extends Error {}

function integer(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min) throw new UsageError(`${TAG}: ${name} '${text}' is not an integer ≥ ${min}`);
  return value;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      workers: { type: 'string' },
      'no-modules': { type: 'boolean' },
      'tcp-sockets': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  return {
    runs: integer('--runs', values.runs, 30, 2),
    warmup: integer('--warmup', values.warmup, 3, 0),
    rounds: integer('--rounds', values.rounds, 5, 1),
    workers: integer('--workers', values.workers, 2, 1),
    modules: values['no-modules'] !== true,
    tcpSockets: integer('--tcp-sockets', values['tcp-sockets'], 0, 0),
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

/** Every live process whose environment carries our scratch directory: the daemons and workers we started. */
function ourProcesses(scratch: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`FCGI_SPAWN_RUN_DIR=${join(scratch, 'run')}\0`)) {
        const state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${name}/stat`, 'latin1'))?.[1];
        if (state !== 'Z') found.push(Number(name));
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

function killLeftovers(scratch: string): number[] {
  const left = ourProcesses(scratch);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  return left;
}

interface Setup {
  readonly cli: string;
  readonly env: NodeJS.ProcessEnv;
  readonly workers: number;
}

function fcgi(setup: Setup, ...args: string[]): string[] {
  return [process.execPath, setup.cli, ...args];
}

function startArgs(setup: Setup, port: number): string[] {
  return ['start', '-p', String(port), '-F', String(setup.workers), '--allow-root', '--', process.execPath, join(REPO, 'test', 'fixtures', 'fcgi-responder.mjs')];
}

function run(setup: Setup, argv: readonly string[]): { status: number | null; text: string } {
  const [file, ...args] = argv;
  const result = spawnSync(file ?? '', args, { encoding: 'utf8', env: setup.env, timeout: 60_000 });
  return { status: result.status, text: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim() };
}

function startInstance(setup: Setup, port: number): number {
  const result = run(setup, fcgi(setup, ...startArgs(setup, port)));
  const pid = /\bready \(pid (\d+)\)/.exec(result.text)?.[1];
  if (result.status !== 0 || pid === undefined) throw new Error(`start -p ${port} exited with ${result.status}: ${result.text}`);
  return Number(pid);
}

function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim();
    if (text) pids.push(...text.split(' ').map(Number));
  }
  return pids;
}

function commands(setup: Setup, ports: { running: number; stopped: number; stopTarget: number }, startsLog: string): TimedCommand[] {
  const node0 = [process.execPath, '-e', '0'];
  const prepare = ['sh', '-c', `exec ${commandLine(fcgi(setup, ...startArgs(setup, ports.stopTarget)))} >> ${commandLine([startsLog])}`];
  return [
    { key: 'node-first', label: 'node -e 0', argv: node0, expectExit: 0 },
    { key: 'help', label: 'fcgi-spawn --help', argv: fcgi(setup, '--help'), expectExit: 0 },
    { key: 'version', label: 'fcgi-spawn --version', argv: fcgi(setup, '--version'), expectExit: 0 },
    { key: 'status', label: 'fcgi-spawn status (running)', argv: fcgi(setup, 'status', '-p', String(ports.running)), expectExit: 0 },
    { key: 'status-stopped', label: 'fcgi-spawn status (not running)', argv: fcgi(setup, 'status', '-p', String(ports.stopped)), expectExit: 3 },
    { key: 'probe', label: 'fcgi-spawn probe 127.0.0.1:PORT /', argv: fcgi(setup, 'probe', `127.0.0.1:${ports.running}`, '/'), expectExit: 0 },
    { key: 'stop-stopped', label: 'fcgi-spawn stop (not running)', argv: fcgi(setup, 'stop', '-p', String(ports.stopped)), expectExit: 0 },
    { key: 'stop', label: 'fcgi-spawn stop (running)', argv: fcgi(setup, 'stop', '-p', String(ports.stopTarget)), expectExit: 0, prepare },
    { key: 'node-last', label: 'node -e 0 (second row)', argv: node0, expectExit: 0 },
  ];
}

function moduleLoads(setup: Setup, ports: { running: number; stopped: number; stopTarget: number }, scratch: string): LoadedModules[] {
  const record = (key: string, label: string, ...args: string[]): LoadedModules => recordLoads(key, label, fcgi(setup, ...args), REPO, scratch, setup.env);
  const loads = [
    record('help', '--help', '--help'),
    record('status', 'status (running)', 'status', '-p', String(ports.running)),
    record('status-stopped', 'status (not running)', 'status', '-p', String(ports.stopped)),
    record('probe', 'probe', 'probe', `127.0.0.1:${ports.running}`, '/'),
    record('reload', 'reload (running)', 'reload', '-p', String(ports.running)),
    record('stop-stopped', 'stop (not running)', 'stop', '-p', String(ports.stopped)),
    // start (the launching process) must load the heavy modules: it shows the recorder sees them.
    record('start', 'start (the launcher; for contrast)', ...startArgs(setup, ports.stopTarget)),
    record('stop', 'stop (running)', 'stop', '-p', String(ports.stopTarget)),
  ];
  return loads;
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const found = findPrograms(TAG, PROGRAMS);
  const hyperfine = found.paths.hyperfine;
  if (!hyperfine) {
    process.stderr.write(`${TAG}: ${found.notes.join('; ')}\n`);
    return 1;
  }
  const machine = describeMachine(REPO, PROGRAMS, found);
  const scratch = mkdtempSync(join(os.tmpdir(), 'cli-latency-bench-'));
  mkdirSync(join(scratch, 'run'), { mode: 0o700 });
  mkdirSync(join(scratch, 'log'));
  const setup: Setup = {
    cli: join(REPO, 'bin', 'fcgi-spawn.js'),
    env: { ...process.env, FCGI_SPAWN_RUN_DIR: join(scratch, 'run'), FCGI_SPAWN_LOG_DIR: join(scratch, 'log') },
    workers: options.workers,
  };
  const ports = { running: await freePort(), stopped: await freePort(), stopTarget: await freePort() };
  const startsLog = join(scratch, 'stop-runs.log');
  let tcpLoad: TcpLoad | undefined;
  // Last resort if something throws past the cleanup below: nothing of ours may outlive us.
  process.on('exit', () => {
    killLeftovers(scratch);
    if (tcpLoad && tcpLoad.child.exitCode === null) tcpLoad.child.kill('SIGKILL');
  });
  const hf: HyperfineOptions = { hyperfine, warmup: options.warmup, runs: options.runs, rounds: options.rounds, scratch, env: setup.env, cwd: REPO, tag: TAG };
  const notes = [...found.notes];
  let timings: Timing[] = [];
  let imports: Timing[] = [];
  let daemon: DaemonSide | undefined;
  let loads: LoadedModules[] = [];
  const profiles: { label: string; breakdown: Breakdown }[] = [];
  let failure: string | undefined;
  try {
    if (options.tcpSockets > 0) {
      tcpLoad = await holdTcpSockets(options.tcpSockets, 120_000);
      notes.push(`--tcp-sockets ${options.tcpSockets}: that many idle TCP sockets on 127.0.0.1 held open by pid ${tcpLoad.child.pid} during the whole run`);
    }
    const supervisor = startInstance(setup, ports.running);
    const list = commands(setup, ports, startsLog);
    for (const c of list.filter((x) => !x.prepare)) {
      const result = run(setup, c.argv);
      if (result.status !== c.expectExit) throw new Error(`${c.label} exited with ${result.status}, expected ${c.expectExit}: ${result.text.slice(0, 500)}`);
    }
    timings = runHyperfine(list, hf, 'commands');
    const starts = readFileSync(startsLog, 'utf8').match(/\bready \(pid \d+\)/g) ?? [];
    const expected = options.rounds * (options.warmup + Math.max(2, Math.ceil(options.runs / options.rounds)));
    if (starts.length !== expected) notes.push(`stop (running): ${starts.length} instances started by --prepare for ${expected} stop runs`);
    else notes.push(`stop (running): ${starts.length} fresh instances started by --prepare, one per stop run, each stopped (a leftover would make the next start exit 5)`);
    const workers = childrenOf(supervisor);
    daemon = await measureDaemonSide(join(scratch, 'run', `127.0.0.1-${ports.running}.ctl`), workers, ports.running, options.runs);
    if (options.modules) {
      loads = moduleLoads(setup, ports, scratch);
      imports = runHyperfine(importCommands(importTargets(REPO)), hf, 'imports');
      for (const c of list.filter((x) => !x.prepare && x.key !== 'node-last' && x.key !== 'version')) {
        process.stderr.write(`${TAG}: node --cpu-prof ×7: ${c.label}\n`);
        profiles.push({ label: c.label, breakdown: profileCommand(c.argv, 7, join(scratch, 'profiles'), setup.env, REPO) });
      }
    }
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${TAG}: ${failure}\n`);
  }

  for (const port of [ports.running, ports.stopTarget]) {
    const result = run(setup, fcgi(setup, 'stop', '-p', String(port)));
    if (result.status !== 0) notes.push(`stop -p ${port} at the end exited with ${result.status}: ${result.text}`);
  }
  await tcpLoad?.stop();
  const left = killLeftovers(scratch);
  rmSync(scratch, { recursive: true, force: true });
  const cleanup = left.length === 0 ? 'no process with our run directory in its environment is left (daemons and workers); temp dir removed' : `STILL RUNNING, killed: ${left.join(', ')}`;
  if (failure || timings.length === 0) {
    process.stderr.write(`${TAG}: nothing measured; ${cleanup}\n`);
    return 1;
  }
  const baselines = timings.filter((t) => t.key.startsWith('node'));
  const baseTimes = baselines.flatMap((t) => t.times).sort((a, b) => a - b);
  const baselineMs = baseTimes.reduce((s, t) => s + t, 0) / baseTimes.length;
  const baselineMedianMs = ((baseTimes[Math.floor((baseTimes.length - 1) / 2)] ?? NaN) + (baseTimes[Math.ceil((baseTimes.length - 1) / 2)] ?? NaN)) / 2;
  const report = { machine, hyperfine: hyperfineVersion(hyperfine), warmup: options.warmup, runs: options.runs, rounds: options.rounds, workers: options.workers, baselineMs, baselineMedianMs, timings, daemon, loads, imports, profiles, notes, cleanup };
  process.stdout.write(`${renderReport(report)}\n`);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2)}\n`);
    process.stdout.write(`results written to ${options.json}\n`);
  }
  const wrongExit = [...timings, ...imports].some((t) => t.unexpectedExits.length > 0);
  return left.length > 0 || wrongExit ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${TAG}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
