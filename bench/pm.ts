/**
 * Process managers under a stepped load (issue 8): nginx → a PHP script that sleeps 50 ms; wrk idle, then 5 s
 * each at 8, 32 and 64 connections, then idle. fcgi-spawn `pm: dynamic` running php-cgi (workers 16, min-spare 2,
 * max-spare 4, start-workers 3) beside php-fpm `pm = dynamic` with the same numbers, and both static at 16 as the
 * baseline, in one run: p99 and workers per step, time to grow, failed requests, supervisor CPU, with ratios to
 * php-fpm. The issue's target: p99 per step within 1.1× of php-fpm's, 0 failed.
 *
 * Then retiring workers under load, per program: a dynamic pool (workers 8, min-spare 1, max-spare 2) through
 * cycles of a burst of slow requests (it grows) and a calm stretch of instant ones (it shrinks while connections
 * keep arriving): php-cgi retired with TERM, fcgiwrap through a generation (its default) and, as the
 * counter-example, with TERM, and the Node HTTP fixture (test/fixtures/http-app.mjs, the README's handler).
 *
 *   npm run bench:pm [-- --json PATH] [--only stepped|retire] [--step-seconds 5] [--idle-before 3]
 *        [--idle-after 15] [--cycles 4]
 *
 * Each pool has its own nginx (1 worker process) and port on 127.0.0.1; pools run one after another; every
 * process started is ended by pid and the run ends by proving none is left. A benchmark, not a test: it exits 1
 * only if it could not run or left something running.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginx } from '../test/helpers/nginx.js';
import { freePort } from '../test/helpers/processes.js';
import { numberArgument, parseArguments } from './machine/arguments.js';
import { PROGRAMS, retireContenders, steppedContenders, type Numbers } from './pm/contenders.js';
import { renderPm } from './pm/report.js';
import { retireRun, type RetireRun } from './pm/retire.js';
import { issueSteps, steppedRun, type SteppedRun } from './pm/steps.js';
import { answers, type Pool } from './servers/pool.js';
import { Ledger } from './servers/process.js';
import { ensurePrograms, fcgiSpawnVersion, machine, pathOf, versions } from './servers/programs.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TAG = 'bench-pm';
const USAGE = `usage: node dist/bench/pm.js [--json PATH] [--only stepped|retire] [--step-seconds S]
       [--idle-before S] [--idle-after S] [--cycles N]
  --json PATH         also write every result (wrk output included) as JSON
  --only PART         run only the stepped load or only the retiring under load
  --step-seconds S    length of each loaded step, at 8, 32 and 64 connections (default 5)
  --idle-before S     idle before the first step (default 3)
  --idle-after S      idle after the last step, to see the pools shrink (default 15)
  --cycles N          retiring under load: burst + calm cycles per program (default 4)`;

interface Options {
  readonly json: string | undefined;
  readonly only: 'stepped' | 'retire' | undefined;
  readonly stepSeconds: number;
  readonly idleBefore: number;
  readonly idleAfter: number;
  readonly cycles: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'string' },
      only: { type: 'string' },
      'step-seconds': { type: 'string' },
      'idle-before': { type: 'string' },
      'idle-after': { type: 'string' },
      cycles: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  if (values.only !== undefined && values.only !== 'stepped' && values.only !== 'retire') throw new Error(`${TAG}: --only '${values.only}' is not stepped or retire`);
  return {
    json: values.json,
    only: values.only,
    stepSeconds: numberArgument(TAG, '--step-seconds', values['step-seconds'], 5, 1, true),
    idleBefore: numberArgument(TAG, '--idle-before', values['idle-before'], 3, 0, true),
    idleAfter: numberArgument(TAG, '--idle-after', values['idle-after'], 15, 0, true),
    cycles: numberArgument(TAG, '--cycles', values.cycles, 4, 1, true),
  };
}

const NUMBERS: Numbers = { workers: 16, startWorkers: 3, minSpare: 2, maxSpare: 4 };
const CONNECTIONS = [8, 32, 64];
const RETIRE = { workers: 8, burstConnections: 16, burstSeconds: 2, calmConnections: 4, calmSeconds: 6 };

/** Start the pool and its nginx, check that a request gets through, run `body`, stop both. */
async function withPool<T>(pool: Pool, ledger: Ledger, notes: string[], body: (base: string) => Promise<T>): Promise<T> {
  try {
    await pool.start();
    const nginx = await startNginx(pool.upstream);
    ledger.adopt(nginx.pid, `nginx for ${pool.label}`, true);
    try {
      if (!(await answers(nginx.port, '/'))) throw new Error(`${pool.label}: no 200 through nginx before the load`);
      return await body(`http://127.0.0.1:${nginx.port}`);
    } finally {
      await nginx.stop();
    }
  } finally {
    const note = await pool.stop();
    if (note) notes.push(note);
  }
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const log = (line: string): void => void process.stderr.write(`${TAG}: ${line}\n`);
  const root = mkdtempSync(join(os.tmpdir(), 'fcgi-spawn-bench-pm-'));
  const ledger = new Ledger();
  ledger.cleanUpOnExit(root);
  const m = machine();
  try {
    const found = ensurePrograms(PROGRAMS, log);
    const wrkPath = pathOf(found['wrk']);
    if (!wrkPath || !pathOf(found['nginx'])) {
      log(`cannot run without nginx and wrk: ${JSON.stringify(found)}`);
      return 1;
    }
    const skipped: string[] = [];
    const commands: string[] = [];
    const notes: string[] = [];
    const runs = new Map<string, SteppedRun>();
    const order: { key: string; versus: string }[] = [];
    const steps = issueSteps(options.idleBefore, options.stepSeconds, options.idleAfter, CONNECTIONS);
    for (const c of options.only === 'retire' ? [] : steppedContenders(found, REPO, NUMBERS)) {
      const made = c.make({ ledger, dir: mkdtempSync(join(root, `${c.key}-`)), port: await freePort() });
      if ('missing' in made) {
        skipped.push(`${c.key}: ${made.missing}`);
        continue;
      }
      commands.push(`${made.label}: ${made.command}`);
      log(`${made.label}: stepped load`);
      try {
        runs.set(c.key, await withPool(made, ledger, notes, (base) => steppedRun(made, wrkPath, `${base}/?sleep=50`, steps, NUMBERS.workers, ledger, c.leaders)));
        order.push({ key: c.key, versus: c.versus });
      } catch (error) {
        skipped.push(`${made.label}: failed: ${(error as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      }
    }
    const retired: RetireRun[] = [];
    for (const c of options.only === 'stepped' ? [] : retireContenders(found, REPO, RETIRE)) {
      const made = c.make({ ledger, dir: mkdtempSync(join(root, `retire-${c.key}-`)), port: await freePort() });
      if ('missing' in made) {
        skipped.push(`retire ${c.key}: ${made.missing}`);
        continue;
      }
      commands.push(`${made.label} (${c.retireSignal}): ${made.command}`);
      log(`${made.label}, retire-signal ${c.retireSignal}: retiring under load`);
      try {
        retired.push(await withPool(made, ledger, notes, (base) => retireRun(made, c.retireSignal, wrkPath, base, c.burst, c.calm, options.cycles, ledger)));
      } catch (error) {
        skipped.push(`retire ${made.label}: failed: ${(error as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      }
    }
    const cleanup = await ledger.sweep();
    const versionTable = { 'fcgi-spawn': fcgiSpawnVersion(REPO), ...versions(['nginx', 'wrk', 'php8.2-cgi', 'php8.2-fpm', 'fcgiwrap']) };
    const stepped = order.flatMap(({ key, versus }) => {
      const run = runs.get(key);
      const theirs = versus ? runs.get(versus) : undefined;
      return run ? [theirs ? { run, versus: theirs } : { run }] : [];
    });
    const n = NUMBERS;
    const report = renderPm({
      machine: m,
      versions: versionTable,
      heading: `Stepped load: nginx → PHP script sleeping 50 ms, wrk -t1: idle ${options.idleBefore} s, ${options.stepSeconds} s each at ${CONNECTIONS.join(', ')} connections, idle ${options.idleAfter} s; dynamic: workers ${n.workers}, start ${n.startWorkers}, min-spare ${n.minSpare}, max-spare ${n.maxSpare}`,
      stepped,
      retireHeading: `Retiring under load: dynamic pools (workers ${RETIRE.workers}, start 1, min-spare 1, max-spare 2), ${options.cycles} cycles of ${RETIRE.burstSeconds} s at ${RETIRE.burstConnections} connections of 50 ms requests (grow) and ${RETIRE.calmSeconds} s at ${RETIRE.calmConnections} connections of instant ones (shrink)`,
      retired,
      skipped,
      commands,
      notes,
      cleanup,
      target: 1.1,
    });
    process.stdout.write(`${report}\n`);
    if (options.json) {
      writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), machine: m, versions: versionTable, options, numbers: NUMBERS, retire: RETIRE, stepped: [...runs.values()], retired, skipped, commands, notes, cleanup }, null, 2)}\n`);
      process.stdout.write(`results written to ${options.json}\n`);
    }
    return cleanup.startsWith('STILL RUNNING') || (runs.size === 0 && retired.length === 0) ? 1 : 0;
  } finally {
    ledger.killAllNow();
    rmSync(root, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${TAG}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
