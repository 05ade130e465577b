/**
 * Several pools in one supervisor: 10 pools of 2 fcgiwrap workers, each in its own file of an include
 * directory; nginx routes /p0 … /p9 to them and one wrk spreads its requests over all ten. Under that load
 * one pool's file changes and `fcgi-spawn update` runs: the time from the command to its answer, the
 * failed requests (wanted: 0), and whether the 9 other pools kept their pids (wanted: all). Then the
 * supervisor's RSS at rest with those 10 pools of 2 against one pool of 20 workers.
 *
 *   npx tsc -p . && node dist/bench/pools.js [--seconds 12] [--updates 3] [--connections 8]
 *
 * Everything runs on 127.0.0.1; every process started is stopped by pid. A benchmark, not a test: it exits
 * 1 only if it could not run or left something running.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startNginx, type RunningNginx } from '../test/helpers/nginx.js';
import { freePort, groupMembers } from '../test/helpers/processes.js';
import { runCli, startSupervisor, type RunningSupervisor } from '../test/helpers/supervisor.js';
import { findTool } from '../test/helpers/tools.js';
import { wrk } from './servers/wrk.js';
import { parseArguments } from './machine/arguments.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const HELLO = join(REPO, 'test', 'fixtures', 'cgi', 'hello.sh');
const POOLS = 10;
const USAGE = `usage: node dist/bench/pools.js [--seconds S] [--updates N] [--connections N]
  --seconds S       length of the wrk run during which the updates happen (default 12)
  --updates N       updates, each changing one pool's file, spread over the run (default 3)
  --connections N   wrk connections, 1 thread (default 8)`;

interface Options {
  readonly seconds: number;
  readonly updates: number;
  readonly connections: number;
}

function parse(argv: string[]): Options | undefined {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string' }, updates: { type: 'string' }, connections: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return undefined;
  const number = (name: string, text: string | undefined, fallback: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > max) throw new Error(`pools: --${name} '${text}' is not an integer from 1 to ${max}`);
    return value;
  };
  return { seconds: number('seconds', values.seconds, 12, 600), updates: number('updates', values.updates, 3, 50), connections: number('connections', values.connections, 8, 256) };
}

interface Pools {
  readonly dir: string;
  readonly ports: readonly number[];
  readonly supervisor: RunningSupervisor;
}

function poolFile(dir: string, index: number, port: number, release: number): void {
  const fcgiwrap = findTool('fcgiwrap') as string;
  writeFileSync(join(dir, 'pools.d', `p${index}.yaml`), `name: p${index}\nlisten: 127.0.0.1:${port}\ncommand: [${JSON.stringify(fcgiwrap)}]\nworkers: 2\nenv:\n  RELEASE: "${release}"\n`);
}

async function startPools(name: string, layout: 'ten' | 'one'): Promise<Pools> {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-bench-pools-'));
  mkdirSync(join(dir, 'pools.d'));
  const root = process.geteuid?.() === 0 ? 'allow-root: true\n' : '';
  const ports: number[] = [];
  if (layout === 'ten') {
    for (let i = 0; i < POOLS; i += 1) {
      ports.push(await freePort());
      poolFile(dir, i, ports[i] as number, 1);
    }
    writeFileSync(join(dir, 'fcgi-spawn.yaml'), `${root}steer-grace: 0.2\nworker-log: none\ninclude: pools.d\n`);
  } else {
    ports.push(await freePort());
    writeFileSync(join(dir, 'fcgi-spawn.yaml'), `${root}worker-log: none\npools:\n  - name: all\n    listen: 127.0.0.1:${ports[0]}\n    command: [${JSON.stringify(findTool('fcgiwrap'))}]\n    workers: ${POOLS * 2}\n`);
  }
  const supervisor = startSupervisor(['--config', join(dir, 'fcgi-spawn.yaml'), '--name', name]);
  await supervisor.waitReady(60_000);
  return { dir, ports, supervisor };
}

async function stopPools(pools: Pools): Promise<void> {
  await pools.supervisor.cleanup();
  rmSync(pools.dir, { recursive: true, force: true });
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] ?? NaN);
}

async function poolPids(name: string): Promise<Map<string, number[]>> {
  const result = await runCli(['status', '--json', '--name', name]);
  const status = JSON.parse(result.stdout) as { pools: { name: string; workers: { pid: number }[] }[] };
  return new Map(status.pools.map((pool) => [pool.name, pool.workers.map((w) => w.pid).sort()]));
}

async function restingRss(pools: Pools): Promise<number> {
  await delay(2_000); // let start-up garbage be collected: a reading at rest, not synchronisation
  return rssKiB(pools.supervisor.pid);
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseArguments(argv, parse, USAGE);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const wrkPath = findTool('wrk');
  if (!findTool('fcgiwrap') || !findTool('nginx') || !wrkPath) {
    process.stderr.write('pools: needs fcgiwrap, nginx and wrk (apt-get install fcgiwrap nginx wrk)\n');
    return 1;
  }
  const ten = await startPools('bench-pools', 'ten');
  let nginx: RunningNginx | undefined;
  const updates: { ms: number; code: number | null; others: boolean; changed: boolean }[] = [];
  let load;
  let tenRss = NaN;
  try {
    tenRss = await restingRss(ten);
    nginx = await startNginx({ routes: Object.fromEntries(ten.ports.map((port, i) => [`/p${i}`, { address: `127.0.0.1:${port}`, script: HELLO }])) });
    const script = join(ten.dir, 'paths.lua');
    writeFileSync(script, `local i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", "/p" .. (i % ${POOLS}))\nend\n`);
    const run = wrk(wrkPath, `http://127.0.0.1:${nginx.port}/`, options.seconds, options.connections, script);
    const spacing = (options.seconds * 1000) / (options.updates + 1);
    for (let u = 1; u <= options.updates; u += 1) {
      await delay(spacing / 2); // pacing the updates over the load, not synchronisation
      const before = await poolPids('bench-pools');
      const target = u % POOLS;
      poolFile(ten.dir, target, ten.ports[target] as number, u + 1);
      const started = performance.now();
      const result = await runCli(['update', '--name', 'bench-pools'], { timeoutMs: 60_000 });
      const ms = performance.now() - started;
      const after = await poolPids('bench-pools');
      const others = [...before].every(([name, pids]) => name === `p${target}` || JSON.stringify(after.get(name)) === JSON.stringify(pids));
      const changed = JSON.stringify(after.get(`p${target}`)) !== JSON.stringify(before.get(`p${target}`));
      updates.push({ ms, code: result.code, others, changed });
      await delay(spacing / 2);
    }
    load = await run;
  } finally {
    await nginx?.stop();
    await stopPools(ten);
  }
  const one = await startPools('bench-one-pool', 'one');
  let oneRss = NaN;
  try {
    oneRss = await restingRss(one);
  } finally {
    await stopPools(one);
  }
  const lines = [
    `fcgi-spawn pools: ${POOLS} pools × 2 fcgiwrap, nginx → all ten, wrk -c${options.connections} for ${options.seconds} s, ${options.updates} updates of one pool's file`,
    `  requests ${load.requests}, failed ${load.failed} (non-2xx ${load.non2xx}, socket errors ${load.socketErrors}), p99 ${load.p99Ms.toFixed(1)} ms, max ${load.maxLatencyMs} ms`,
    ...updates.map((u, i) => `  update ${i + 1}: ${u.ms.toFixed(0)} ms, exit ${u.code}, changed pool replaced: ${u.changed ? 'yes' : 'NO'}, 9 others' pids unchanged: ${u.others ? 'yes' : 'NO'}`),
    `  supervisor RSS at rest: ${(tenRss / 1024).toFixed(1)} MiB with ${POOLS} pools of 2, ${(oneRss / 1024).toFixed(1)} MiB with 1 pool of ${POOLS * 2}: ${(tenRss / oneRss).toFixed(2)}×`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const strays = [ten.supervisor, one.supervisor].flatMap((s) => [s.pid, ...s.workerPids]).flatMap((pid) => groupMembers(pid));
  if (strays.length > 0) {
    process.stderr.write(`pools: left running: ${strays.join(', ')}\n`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`pools: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
