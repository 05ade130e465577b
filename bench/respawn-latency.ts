/**
 * Respawn latency: SIGKILL of an idle fcgiwrap worker → a new worker blocked in accept() on the same
 * listening socket, for fcgi-spawn and for spawn-fcgi + multiwatch, interleaved in one run.
 *
 *   npm run bench:respawn                      # builds, then 50 kills per supervisor
 *   node dist/bench/respawn-latency.js 200 --json /tmp/respawn.json
 *
 * Each kill: wait until the pool has 2 workers in accept() on the socket, settle, note the time,
 * SIGKILL the longest-lived worker, then poll /proc every --poll-ms (a futex sleep: the poller
 * leaves the CPUs to the supervisors) until a child pid not seen before sits in accept() on the
 * socket's inode. The steps in between (reaped, forked, exec'd) are recorded when first seen.
 * Every --request-every kills one FastCGI request through the pool checks that it answers.
 * A benchmark, not a test: it prints numbers and exits 1 only if a respawn or request failed or
 * something it started is still running.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from '../src/fastcgi/client.js';
import { Contender, strayWorkers } from './respawn/contenders.js';
import { describeEnvironment, requirePrograms, type Programs } from './respawn/environment.js';
import { killAndMeasure, RespawnTimeout, type RespawnSample } from './respawn/observe.js';
import { PHASES, renderReport, summarize, type Poller, type RssSample, type Summary, type ToolResult } from './respawn/report.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `usage: node dist/bench/respawn-latency.js [KILLS] [--kills N] [--json PATH]
       [--poll-ms MS] [--settle-ms MS] [--request-every N] [--timeout-ms MS]
  KILLS, --kills N     SIGKILLs per supervisor (default 50)
  --json PATH          also write the results, raw samples included, as JSON
  --poll-ms MS         /proc polling interval while waiting for the replacement (default 0.2)
  --settle-ms MS       pause after the pool is idle again, before the next kill (default 100)
  --request-every N    one FastCGI request through the pool every N kills; 0: none (default 10)
  --timeout-ms MS      give up on one respawn after this long (default 5000)`;

interface Options {
  readonly kills: number;
  readonly json: string | undefined;
  readonly pollMs: number;
  readonly settleMs: number;
  readonly requestEvery: number;
  readonly timeoutMs: number;
}

class UsageError extends Error {}

function number(name: string, text: string | undefined, fallback: number, min: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(`respawn-latency: ${name} '${text}' is not ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
  }
  return value;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kills: { type: 'string' },
      json: { type: 'string' },
      'poll-ms': { type: 'string' },
      'settle-ms': { type: 'string' },
      'request-every': { type: 'string' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  if (positionals.length > 1) throw new UsageError(`respawn-latency: one KILLS argument expected, got '${positionals.join(' ')}'`);
  return {
    kills: number('KILLS', values.kills ?? positionals[0], 50, 1, true),
    json: values.json,
    pollMs: number('--poll-ms', values['poll-ms'], 0.2, 0.01, false),
    settleMs: number('--settle-ms', values['settle-ms'], 100, 0, false),
    requestEvery: number('--request-every', values['request-every'], 10, 0, true),
    timeoutMs: number('--timeout-ms', values['timeout-ms'], 5000, 1, false),
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

function contenders(programs: Programs, ports: readonly [number, number]): Contender[] {
  const cli = join(REPO, 'bin', 'fcgi-spawn.js');
  // --start-secs 0, as multiwatch's -t 0 below: a worker killed within start-secs (1 s) of becoming ready is an
  // early crash, and the backoff doubles with each (on a machine where a kill, respawn and settle take under a
  // second, the 13th kill waited 6.4 s: 'no new worker in accept() 5000 ms after SIGKILL'). With 0 every death is
  // a plain respawn; readiness is still read from /proc, so the timing is the same.
  const fcgiSpawnArgs = [cli, 'start', '-n', '-p', String(ports[0]), '-F', '2', '--allow-root', '--start-secs', '0', '--', programs.fcgiwrap];
  // multiwatch counts a child that dies within -t ms (default 10000) of its spawn as a failed
  // start and stops forking that slot after -r (3) of them: 50 quick kills would exhaust it.
  // -t 0 makes every death a plain "died, respawn"; it changes no delay (multiwatch forks at once).
  const multiwatchArgs = ['-n', '-a', '127.0.0.1', '-p', String(ports[1]), '--', programs.multiwatch, '-f', '2', '-t', '0', '--', programs.fcgiwrap];
  return [
    new Contender({ key: 'fcgi-spawn', label: 'fcgi-spawn', file: process.execPath, args: fcgiSpawnArgs, readyLine: /info: ready:/, port: ports[0] }, 'fcgiwrap'),
    new Contender({ key: 'multiwatch', label: 'spawn-fcgi + multiwatch', file: programs['spawn-fcgi'], args: multiwatchArgs, port: ports[1] }, 'fcgiwrap'),
  ];
}

interface Tally {
  readonly samples: RespawnSample[];
  readonly failures: string[];
  requestsOk: number;
  readonly requestFailures: string[];
  /** The supervisor's VmRSS before the first kill and after every tenth of them: flat, or a leak per respawn. */
  readonly rss: RssSample[];
}

/** VmRSS in KiB of a live process, from /proc/PID/status. */
function residentKib(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}


const CGI = "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nrespawn-bench ok pid %s\\n' \"$$\"\n";

async function checkRequest(port: number, script: string): Promise<string | undefined> {
  try {
    const response = await request({
      address: { kind: 'tcp', host: '127.0.0.1', port },
      params: {
        GATEWAY_INTERFACE: 'CGI/1.1',
        REQUEST_METHOD: 'GET',
        SCRIPT_FILENAME: script,
        SCRIPT_NAME: script,
        REQUEST_URI: script,
        QUERY_STRING: '',
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_NAME: '127.0.0.1',
        SERVER_PORT: String(port),
        REMOTE_ADDR: '127.0.0.1',
        CONTENT_LENGTH: '0',
      },
      timeoutMs: 5000,
    });
    const body = response.body.toString('utf8');
    return response.status === 200 && body.includes('respawn-bench ok') ? undefined : `status ${response.status}: ${body.trim().slice(0, 200)}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

let interrupted: NodeJS.Signals | undefined;

async function runKills(pool: readonly Contender[], tallies: Map<Contender, Tally>, options: Options, script: string, poller: Poller): Promise<void> {
  const every = Math.max(1, Math.floor(options.kills / 10));
  for (const c of pool) (tallies.get(c) as Tally).rss.push({ kills: 0, kib: residentKib(c.supervisorPid) });
  for (let round = 0; round < options.kills && !interrupted; round += 1) {
    if (round > 0 && round % every === 0) for (const c of pool) (tallies.get(c) as Tally).rss.push({ kills: round, kib: residentKib(c.supervisorPid) });
    // Alternate which supervisor goes first, so neither always follows the other's respawn.
    const order = round % 2 === 0 ? pool : [...pool].reverse();
    for (const c of order) {
      const tally = tallies.get(c) as Tally;
      const view = c.view;
      if (!view || interrupted) continue;
      await c.waitForIdlePool(Date.now() + 10_000, view.inode);
      await delay(options.settleMs);
      const victim = c.oldestWorker();
      const cpuBefore = process.cpuUsage();
      const wallBefore = performance.now();
      try {
        const sample = killAndMeasure(view, victim, { pollMs: options.pollMs, timeoutMs: options.timeoutMs, now: () => performance.now() });
        tally.samples.push(sample);
        poller.polls += sample.polls;
      } catch (error) {
        if (!(error instanceof RespawnTimeout)) throw error;
        tally.failures.push(`kill ${round + 1}: ${error.message}`);
      }
      const cpu = process.cpuUsage(cpuBefore);
      poller.wallMs += performance.now() - wallBefore;
      poller.cpuMs += (cpu.user + cpu.system) / 1000;
      if (options.requestEvery > 0 && (round + 1) % options.requestEvery === 0) {
        await c.waitForIdlePool(Date.now() + 10_000, view.inode);
        const failure = await checkRequest(c.spec.port, script);
        if (failure) tally.requestFailures.push(`after kill ${round + 1}: ${failure}`);
        else tally.requestsOk += 1;
      }
    }
  }
  for (const c of pool) (tallies.get(c) as Tally).rss.push({ kills: options.kills, kib: residentKib(c.supervisorPid) });
}

function commandLine(c: Contender): string {
  const [first, ...rest] = c.spec.args;
  const shown = c.spec.key === 'fcgi-spawn' ? ['node', relative(process.cwd(), first ?? '') || first, ...rest] : [c.spec.file, ...c.spec.args];
  return shown.join(' ');
}

function results(pool: readonly Contender[], tallies: Map<Contender, Tally>): ToolResult[] {
  return pool.map((c) => {
    const tally = tallies.get(c) as Tally;
    const phases: Record<string, Summary> = {};
    for (const phase of PHASES) phases[phase.key] = summarize(tally.samples.map(phase.of));
    return {
      label: c.spec.label,
      command: commandLine(c),
      total: summarize(tally.samples.map((s) => s.acceptMs)),
      phases,
      failures: tally.failures,
      requests: { ok: tally.requestsOk, failed: tally.requestFailures },
      workersStarted: c.workers.size,
      rss: tally.rss,
      samples: tally.samples,
    };
  });
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const programs = requirePrograms();
  const env = describeEnvironment(REPO, programs);
  const ports = [await freePort(), await freePort()] as const;
  const pool = contenders(programs, ports);
  const tallies = new Map(pool.map((c) => [c, { samples: [], failures: [], requestsOk: 0, requestFailures: [], rss: [] } as Tally]));
  const poller: Poller = { polls: 0, wallMs: 0, cpuMs: 0 };
  const scratch = mkdtempSync(join(os.tmpdir(), 'respawn-bench-'));
  const script = join(scratch, 'ok.sh');
  writeFileSync(script, CGI, { mode: 0o755 });

  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = signal;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Last resort if something throws past the cleanup below: nothing of ours may outlive us.
  process.on('exit', () => pool.forEach((c) => c.killEverythingNow()));

  let cleanup = '';
  let failed = false;
  try {
    for (const c of pool) await c.start(15_000);
    await runKills(pool, tallies, options, script, poller);
  } catch (error) {
    process.stderr.write(`respawn-latency: ${error instanceof Error ? error.message : String(error)}\n`);
    failed = true;
  } finally {
    const notes = (await Promise.all(pool.map((c) => c.stop(5_000)))).filter(Boolean);
    rmSync(scratch, { recursive: true, force: true });
    const stray = strayWorkers(pool, 'fcgiwrap');
    const started = pool.map((c) => `${c.workers.size} by ${c.spec.label}`).join(', ');
    cleanup = stray.length === 0 ? `fcgiwrap workers started: ${started}; none left in /proc, supervisors gone` : `STILL RUNNING: ${stray.join(', ')}`;
    if (notes.length > 0) cleanup += ` (${notes.join('; ')})`;
    if (stray.length > 0) failed = true;
  }
  if (interrupted) {
    process.stderr.write(`respawn-latency: interrupted by ${interrupted}; ${cleanup}\n`);
    return 130;
  }
  const tools = results(pool, tallies);
  if (failed && tools.every((t) => t.samples.length === 0)) {
    process.stderr.write(`respawn-latency: no respawn measured; ${cleanup}\n`);
    return 1;
  }
  process.stdout.write(`${renderReport({ env, ...options }, tools, poller, cleanup)}\n`);
  if (options.json) {
    const document = { date: new Date().toISOString(), machine: env, options, poller, cleanup, tools };
    writeFileSync(options.json, `${JSON.stringify(document, null, 2)}\n`);
    process.stdout.write(`results written to ${options.json}\n`);
  }
  const anyFailure = tools.some((t) => t.failures.length > 0 || t.requests.failed.length > 0);
  return failed || anyFailure ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`respawn-latency: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
