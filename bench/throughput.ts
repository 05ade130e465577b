/**
 * Throughput: the same 2 workers under fcgi-spawn and under the tools it is measured against, in one run.
 *  - php: nginx → 2 php-cgi (PHP_FCGI_MAX_REQUESTS=0): fcgi-spawn vs bare spawn-fcgi -F 2 (target ≥ 0.98×),
 *    and spawn-fcgi + multiwatch beside them;
 *  - node: the Node HTTP app ×2, fcgi-spawn vs PM2 cluster mode ×2, through nginx (target ≥ 1.3×) and with
 *    wrk straight at the pool's port (keep-alive; for information).
 * Every pool of a group is up during the group's runs; each round runs them one after the other, the order
 * reversed every round, so that a slow moment of a 2-CPU machine shows as spread between rounds rather than
 * as a difference between pools. The median of the rounds is compared.
 *
 *   npx tsc -p . && node dist/bench/throughput.js [--json PATH] [--seconds 10] [--rounds 3] [--connections 8]
 *        [--warmup 2] [--retries 2] [--only php,node]
 *
 * Everything runs on 127.0.0.1; every process started is ended by pid and the run ends by proving none is
 * left. A benchmark, not a test: it exits 1 only if it could not run or left something running.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginx, type RunningNginx } from '../test/helpers/nginx.js';
import { freePort } from '../test/helpers/processes.js';
import { groups, PROGRAMS, type Group, type Installed, type Mode } from './throughput/groups.js';
import { renderThroughput, type GroupResult, type Sample } from './throughput/report.js';
import { Ledger } from './servers/process.js';
import { costMeter, type Pool } from './servers/pool.js';
import { ensurePm2, ensurePrograms, fcgiSpawnVersion, machine, pathOf, versions } from './servers/programs.js';
import { disturbed } from './servers/report.js';
import { wrk } from './servers/wrk.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `usage: node dist/bench/throughput.js [--json PATH] [--seconds S] [--rounds N] [--connections N]
       [--warmup S] [--retries N] [--only php,node]
  --json PATH        also write every run (wrk output included) as JSON
  --seconds S        length of each wrk run (default 10)
  --rounds N         rounds; the order of the pools is reversed every round (default 3)
  --connections N    wrk connections, 1 thread (default 8)
  --warmup S         wrk run per pool and mode before the rounds, discarded (default 2)
  --retries N        make a run again, up to N times, when processes not ours used more than 5% of the
                     CPUs during it (another session's tests; default 2)
  --only KEYS        groups to run: php, node (default both)`;

interface Options {
  readonly json: string | undefined;
  readonly seconds: number;
  readonly rounds: number;
  readonly connections: number;
  readonly warmup: number;
  readonly retries: number;
  readonly only: readonly string[] | undefined;
}

function number(name: string, text: string | undefined, fallback: number, min: number, max: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(`throughput: ${name} '${text}' is not ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'string' },
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      retries: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const only = values.only?.split(',').map((key) => key.trim()).filter(Boolean);
  const unknown = only?.filter((key) => key !== 'php' && key !== 'node') ?? [];
  if (unknown.length > 0) throw new Error(`throughput: --only '${values.only}': unknown group ${unknown.join(', ')} (php, node)`);
  return {
    json: values.json,
    seconds: number('--seconds', values.seconds, 10, 1, 600, false),
    rounds: number('--rounds', values.rounds, 3, 1, 50, true),
    connections: number('--connections', values.connections, 8, 1, 1000, true),
    warmup: number('--warmup', values.warmup, 2, 0, 60, false),
    retries: number('--retries', values.retries, 2, 0, 10, true),
    only,
  };
}

interface Running {
  readonly key: string;
  readonly pool: Pool;
  readonly nginx: RunningNginx | undefined;
}

function url(running: Running, mode: Mode): string {
  return mode === 'nginx' ? `http://127.0.0.1:${running.nginx?.port}/` : `http://127.0.0.1:${running.pool.port}/`;
}

async function runGroup(group: Group, root: string, ledger: Ledger, wrkPath: string, options: Options): Promise<GroupResult> {
  const log = (line: string): void => void process.stderr.write(`throughput: ${line}\n`);
  const running: Running[] = [];
  const members: { key: string; label: string; command: string }[] = [];
  const skipped: string[] = [];
  const samples: Sample[] = [];
  try {
    for (const member of group.members) {
      const made = member.make({ ledger, dir: mkdtempSync(join(root, `${group.key}-${member.key}-`)), port: await freePort() });
      if ('missing' in made) {
        skipped.push(`${member.label}: not run: ${made.missing}`);
        continue;
      }
      members.push({ key: member.key, label: member.label, command: made.command });
      try {
        await made.start();
        const nginx = group.modes.includes('nginx') ? await startNginx(made.upstream) : undefined;
        if (nginx) ledger.adopt(nginx.pid, `nginx for ${member.label}`, true);
        running.push({ key: member.key, pool: made, nginx });
      } catch (error) {
        skipped.push(`${member.label}: could not start: ${(error as Error).message.split('\n').slice(0, 3).join(' / ')}`);
        await made.stop();
      }
    }
    for (const r of running) for (const mode of group.modes) if (options.warmup > 0) await wrk(wrkPath, url(r, mode), options.warmup, options.connections);
    for (let round = 0; round < options.rounds; round += 1) {
      const order = round % 2 === 0 ? running : [...running].reverse();
      for (const [position, r] of order.entries()) {
        for (const mode of group.modes) {
          // A run disturbed by another session's processes is made again, up to --retries times.
          for (let attempt = 1; ; attempt += 1) {
            log(`${group.key} round ${round + 1}: ${r.key} ${mode}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
            const meter = costMeter(r.pool, ledger);
            const result = await wrk(wrkPath, url(r, mode), options.seconds, options.connections);
            const sample = { group: group.key, member: r.key, mode, round, position, attempts: attempt, wrk: result, ...meter() };
            if (attempt > options.retries || !disturbed(sample.othersCpuS, options.seconds, os.availableParallelism())) {
              samples.push(sample);
              break;
            }
          }
        }
      }
    }
  } finally {
    for (const r of running) {
      await r.nginx?.stop();
      const note = await r.pool.stop();
      if (note) skipped.push(`note: ${note}`);
    }
  }
  return { key: group.key, title: group.title, modes: group.modes, members, target: group.target, samples, skipped };
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv, parseOptions, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const log = (line: string): void => void process.stderr.write(`throughput: ${line}\n`);
  const root = mkdtempSync(join(os.tmpdir(), 'fcgi-spawn-bench-throughput-'));
  const ledger = new Ledger();
  ledger.cleanUpOnExit(root);
  const m = machine();
  try {
    const found = ensurePrograms(PROGRAMS, log);
    const wrkPath = pathOf(found['wrk']);
    if (!wrkPath || !pathOf(found['nginx'])) {
      process.stderr.write(`throughput: cannot run without nginx and wrk: ${JSON.stringify(found)}\n`);
      return 1;
    }
    const wantNode = !options.only || options.only.includes('node');
    const pm2 = wantNode ? ensurePm2(join(root, 'npm'), log) : { missing: 'not selected' };
    const installed: Installed = { found, pm2, repo: REPO };
    const results: GroupResult[] = [];
    for (const group of groups(installed)) {
      if (options.only && !options.only.includes(group.key)) continue;
      results.push(await runGroup(group, root, ledger, wrkPath, options));
    }
    const cleanup = await ledger.sweep();
    const versionTable = {
      'fcgi-spawn': fcgiSpawnVersion(REPO),
      ...versions(['nginx', 'wrk', 'php8.2-cgi', 'spawn-fcgi', 'multiwatch']),
      ...('version' in pm2 ? { pm2: pm2.version } : {}),
    };
    const notes = 'missing' in pm2 && wantNode ? [pm2.missing] : [];
    const report = { machine: m, versions: versionTable, options, groups: results, notes, cleanup };
    process.stdout.write(`${renderThroughput(report)}\n`);
    if (options.json) {
      writeFileSync(options.json, `${JSON.stringify({ date: new Date().toISOString(), ...report }, null, 2)}\n`);
      process.stdout.write(`results written to ${options.json}\n`);
    }
    return cleanup.startsWith('STILL RUNNING') || results.every((g) => g.samples.length === 0) ? 1 : 0;
  } finally {
    ledger.killAllNow();
    rmSync(root, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`throughput: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
