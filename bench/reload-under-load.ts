/**
 * Reload under load: nginx → a pool of 2 workers, wrk for 15 s with 5 reloads spread evenly over it, once
 * with an instant request and once with a 50 ms one; every run also made without reloads, the baseline for
 * max latency. fcgi-spawn (php-cgi, fcgiwrap, a Node HTTP app) beside php-fpm (USR2), gunicorn (HUP) and
 * PM2 cluster mode (`pm2 reload`), in one run. Issue 3's bar for fcgi-spawn: 0 failed requests, max latency
 * with reloads ≤ 1.2× without. With --direct, wrk goes straight at the HTTP pools (no nginx), so the
 * workers hold wrk's kept-alive connections themselves: the Node app with its own SIGTERM handler under PM2 and
 * fcgi-spawn, beside the same app on fcgi-spawn/worker (ready: notify, drain: signal) under fcgi-spawn.
 *
 *   npx tsc -p . && node dist/bench/reload-under-load.js [--json PATH] [--seconds 15] [--reloads 5]
 *        [--connections 8] [--steer-grace 0.2] [--retries 2] [--only KEY,KEY] [--direct]
 *
 * Failed = wrk's non-2xx responses + socket errors (connect, read, write, timeout). Reload duration: from
 * the signal (PM2: the start of `pm2 reload`) to the tool's own "done" (see bench/servers/*.ts). Each tool
 * has its own nginx (1 worker process) and port; everything runs on 127.0.0.1; every process started is
 * ended by pid and the run ends by proving none is left. A benchmark, not a test: it exits 1 only if it
 * could not run or left something running.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginx } from '../test/helpers/nginx.js';
import { freePort } from '../test/helpers/processes.js';
import { contenders, PROGRAMS, type Contender, type Installed } from './reload/contenders.js';
import { renderReload, type LoadRun, type ReloadRow } from './reload/report.js';
import { Ledger } from './servers/process.js';
import { ensurePm2, ensurePrograms, fcgiSpawnVersion, machine, pathOf, versions } from './servers/programs.js';
import { costMeter, type Pool, type ReloadSample } from './servers/pool.js';
import { disturbed } from './servers/report.js';
import { wrk } from './servers/wrk.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `usage: node dist/bench/reload-under-load.js [--json PATH] [--seconds S] [--reloads N]
       [--connections N] [--steer-grace S] [--warmup S] [--retries N] [--only KEY,KEY] [--direct]
  --json PATH        also write every result (wrk output included) as JSON
  --seconds S        length of each wrk run (default 15)
  --reloads N        reloads per run, evenly spread (default 5)
  --connections N    wrk connections, 1 thread (default 8)
  --steer-grace S    fcgi-spawn's --steer-grace (default 0.2: loopback; the product's default is 1)
  --warmup S         wrk run before the measured ones, per tool, discarded (default 2)
  --retries N        make a baseline + reloads pair again, up to N times, when processes not ours used
                     more than 5% of the CPUs during it (another session's tests; default 2)
  --only KEY,KEY     run only these: fcgi-php php-fpm fcgi-cgi gunicorn pm2 fcgi-node fcgi-node-worker
  --direct           wrk straight at the pool, no nginx (HTTP pools only: pm2 fcgi-node fcgi-node-worker)`;

export interface Options {
  readonly json: string | undefined;
  readonly seconds: number;
  readonly reloads: number;
  readonly connections: number;
  readonly steerGrace: number;
  readonly warmup: number;
  readonly retries: number;
  readonly only: readonly string[] | undefined;
  /** wrk straight at the pool's port, no nginx: the clients' kept-alive connections are the workers' own. */
  readonly direct: boolean;
}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`reload-under-load: ${name} '${text}' is not a number from ${min} to ${max}`);
  }
  return value;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'string' },
      seconds: { type: 'string' },
      reloads: { type: 'string' },
      connections: { type: 'string' },
      'steer-grace': { type: 'string' },
      warmup: { type: 'string' },
      retries: { type: 'string' },
      only: { type: 'string' },
      direct: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const reloads = number('--reloads', values.reloads, 5, 0, 100);
  if (!Number.isInteger(reloads)) throw new Error(`reload-under-load: --reloads '${values.reloads}' is not a whole number`);
  const connections = number('--connections', values.connections, 8, 1, 1000);
  if (!Number.isInteger(connections)) throw new Error(`reload-under-load: --connections '${values.connections}' is not a whole number`);
  return {
    json: values.json,
    seconds: number('--seconds', values.seconds, 15, 2, 600),
    reloads,
    connections,
    steerGrace: number('--steer-grace', values['steer-grace'], 0.2, 0, 60),
    warmup: number('--warmup', values.warmup, 2, 0, 60),
    retries: Math.round(number('--retries', values.retries, 2, 0, 10)),
    only: values.only?.split(',').map((key) => key.trim()).filter(Boolean),
    direct: values.direct === true,
  };
}

/** One wrk run; with reloads, triggered at seconds × i / (reloads + 1), each after the previous is done. */
async function loadRun(wrkPath: string, url: string, options: Options, pool: Pool, ledger: Ledger, reloads: number): Promise<LoadRun> {
  const meter = costMeter(pool, ledger);
  const started = performance.now();
  const load = wrk(wrkPath, url, options.seconds, options.connections);
  const samples: ReloadSample[] = [];
  for (let i = 1; i <= reloads; i += 1) {
    const at = started + (options.seconds * 1000 * i) / (reloads + 1);
    const wait = at - performance.now();
    if (wait > 0) await delay(wait); // pacing over the load, not synchronisation
    if (performance.now() > started + options.seconds * 1000 - 100) {
      samples.push({ ms: Number.NaN, ok: false, note: 'not triggered: the previous reloads ran past the end of the load' });
      continue;
    }
    samples.push(await pool.reload());
  }
  const result = await load;
  return { wrk: result, reloads: samples, ...meter() };
}

async function measure(c: Contender, pool: Pool, wrkPath: string, options: Options, ledger: Ledger, index: number): Promise<ReloadRow[]> {
  await pool.start();
  const nginx = options.direct ? undefined : await startNginx(pool.upstream);
  if (nginx) ledger.adopt(nginx.pid, `nginx for ${c.label}`, true);
  try {
    const base = `http://127.0.0.1:${nginx ? nginx.port : pool.port}`;
    if (options.warmup > 0) await wrk(wrkPath, `${base}${c.fast}`, options.warmup, options.connections);
    const rows: ReloadRow[] = [];
    for (const [k, [request, path]] of ([['0 ms', c.fast], ['50 ms', c.slow]] as const).entries()) {
      // Alternate which run comes first, so that neither the baseline nor the reload run always follows the other.
      const baselineFirst = (index + k) % 2 === 0;
      // A pair disturbed by another session's processes is made again, up to --retries times.
      let runs = new Map<boolean, LoadRun>();
      let attempts = 0;
      do {
        attempts += 1;
        runs = new Map<boolean, LoadRun>();
        for (const withReloads of baselineFirst ? [false, true] : [true, false]) {
          const what = withReloads ? `${options.reloads} reloads` : 'baseline';
          process.stderr.write(`reload-under-load: ${c.label}, ${request} request, ${what}${attempts > 1 ? ` (attempt ${attempts})` : ''}\n`);
          runs.set(withReloads, await loadRun(wrkPath, `${base}${path}`, options, pool, ledger, withReloads ? options.reloads : 0));
        }
      } while (attempts <= options.retries && [...runs.values()].some((run) => disturbed(run.othersCpuS, options.seconds, os.availableParallelism())));
      rows.push({ key: c.key, label: c.label, request, baselineFirst, attempts, baseline: runs.get(false) as LoadRun, reload: runs.get(true) as LoadRun });
    }
    return rows;
  } finally {
    await nginx?.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const log = (line: string): void => void process.stderr.write(`reload-under-load: ${line}\n`);
  const root = mkdtempSync(join(os.tmpdir(), 'fcgi-spawn-bench-reload-'));
  const ledger = new Ledger();
  ledger.cleanUpOnExit(root);
  const m = machine();
  try {
    const found = ensurePrograms(PROGRAMS, log);
    const wrkPath = pathOf(found['wrk']);
    if (!wrkPath || !pathOf(found['nginx'])) {
      process.stderr.write(`reload-under-load: cannot run without nginx and wrk: ${JSON.stringify(found)}\n`);
      return 1;
    }
    const wantPm2 = !options.only || options.only.includes('pm2');
    const pm2 = wantPm2 ? ensurePm2(join(root, 'npm'), log) : { missing: 'not selected' };
    const installed: Installed = { found, pm2, repo: REPO, steerGrace: options.steerGrace };
    const rows: ReloadRow[] = [];
    const skipped: string[] = [];
    const commands: string[] = [];
    const notes: string[] = [];
    let index = 0;
    for (const c of contenders(installed)) {
      if (options.only && !options.only.includes(c.key)) continue;
      const dir = mkdtempSync(join(root, `${c.key}-`));
      const made = c.make({ ledger, dir, port: await freePort() });
      if ('missing' in made) {
        skipped.push(`${c.label}: not run: ${made.missing}`);
        continue;
      }
      if (options.direct && !('http' in made.upstream)) {
        skipped.push(`${c.label}: not run: --direct needs an HTTP pool (wrk speaks no FastCGI)`);
        continue;
      }
      commands.push(`${c.label}: ${made.command}`);
      try {
        rows.push(...(await measure(c, made, wrkPath, options, ledger, index)));
      } catch (error) {
        skipped.push(`${c.label}: failed: ${(error as Error).message.split('\n').slice(0, 3).join(' / ')}`);
      } finally {
        const note = await made.stop();
        if (note) notes.push(note);
      }
      index += 1;
    }
    const cleanup = await ledger.sweep();
    const versionTable = {
      'fcgi-spawn': fcgiSpawnVersion(REPO),
      ...versions(['nginx', 'wrk', 'php8.2-cgi', 'php8.2-fpm', 'fcgiwrap', 'gunicorn']),
      ...('version' in pm2 ? { pm2: pm2.version } : {}),
    };
    const report = renderReload({ machine: m, versions: versionTable, options, rows, skipped, commands, notes, cleanup });
    process.stdout.write(`${report}\n`);
    if (options.json) {
      const document = { date: new Date().toISOString(), machine: m, versions: versionTable, options, rows, skipped, commands, notes, cleanup };
      writeFileSync(options.json, `${JSON.stringify(document, null, 2)}\n`);
      process.stdout.write(`results written to ${options.json}\n`);
    }
    return cleanup.startsWith('STILL RUNNING') || rows.length === 0 ? 1 : 0;
  } finally {
    ledger.killAllNow();
    rmSync(root, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`reload-under-load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
