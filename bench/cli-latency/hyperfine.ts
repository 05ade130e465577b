/**
 * Running hyperfine (no shell: -N) over a list of commands, in rounds, and reading its JSON exports.
 * Every run's exit code is checked against what the command should return: hyperfine runs with -i (some
 * commands are meant to exit non-zero, e.g. `status` of a stopped instance is 3), so nothing else would.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TimedCommand {
  readonly key: string;
  readonly label: string;
  readonly argv: readonly string[];
  readonly expectExit: number;
  /** Run before each run (warm-up runs included), outside the timing. */
  readonly prepare?: readonly string[];
}

export interface Timing {
  readonly key: string;
  readonly label: string;
  readonly command: string;
  readonly meanMs: number;
  readonly stddevMs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly userMs: number;
  readonly systemMs: number;
  readonly runs: number;
  readonly unexpectedExits: readonly number[];
  /** Every timed run, in ms. */
  readonly times: readonly number[];
}

interface HyperfineResult {
  readonly command: string;
  readonly mean: number;
  readonly stddev: number | null;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly user: number;
  readonly system: number;
  readonly times: readonly number[];
  readonly exit_codes: readonly (number | null)[];
}

/** A word for hyperfine's shell-words splitting. */
export function quote(word: string): string {
  return /^[\w./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(quote).join(' ');
}

export interface HyperfineOptions {
  readonly hyperfine: string;
  readonly warmup: number;
  /** Timed runs per command, in all rounds together. */
  readonly runs: number;
  /** hyperfine invocations, each running every command runs/rounds times (the order rotated each round). */
  readonly rounds: number;
  readonly scratch: string;
  readonly env: NodeJS.ProcessEnv;
  /** The repository: bare specifiers in `node -e "import('winston')"` resolve from here. */
  readonly cwd: string;
  readonly tag: string;
}

interface Pooled {
  times: number[];
  exitCodes: (number | null)[];
  userSum: number;
  systemSum: number;
}

function invoke(commands: readonly TimedCommand[], options: HyperfineOptions, runs: number, exportPath: string): HyperfineResult[] {
  const args = ['-N', '-i', '--style', 'basic', '--warmup', String(options.warmup), '--runs', String(runs), '--export-json', exportPath];
  const anyPrepare = commands.some((c) => c.prepare);
  for (const c of commands) {
    args.push('--command-name', c.label);
    if (anyPrepare) args.push('--prepare', commandLine(c.prepare ?? ['true']));
  }
  args.push(...commands.map((c) => commandLine(c.argv)));
  const run = spawnSync(options.hyperfine, args, { encoding: 'utf8', env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  if (run.status !== 0) throw new Error(`hyperfine exited with ${run.status ?? run.signal}: ${`${run.stdout}${run.stderr}`.trim().slice(-2000)}`);
  return (JSON.parse(readFileSync(exportPath, 'utf8')) as { results: HyperfineResult[] }).results;
}

/**
 * Time every command with hyperfine, in rounds: other load on the machine comes in bursts, and a burst
 * during one command's block of runs would favour the others. Each round runs all commands (order
 * rotated); the statistics are over the runs of all rounds pooled.
 */
export function runHyperfine(commands: readonly TimedCommand[], options: HyperfineOptions, exportName: string): Timing[] {
  const perRound = Math.max(2, Math.ceil(options.runs / options.rounds));
  const pooled = new Map<string, Pooled>(commands.map((c) => [c.key, { times: [], exitCodes: [], userSum: 0, systemSum: 0 }]));
  process.stderr.write(`${options.tag}: hyperfine, ${commands.length} commands × ${options.rounds} rounds × (${options.warmup} warm-up + ${perRound} runs): ${exportName}\n`);
  for (let round = 0; round < options.rounds; round += 1) {
    const shift = round % commands.length;
    const order = [...commands.slice(shift), ...commands.slice(0, shift)];
    const results = invoke(order, options, perRound, join(options.scratch, `${exportName}-${round}.json`));
    results.forEach((r, i) => {
      const p = pooled.get((order[i] as TimedCommand).key) as Pooled;
      p.times.push(...r.times.map((t) => t * 1000));
      p.exitCodes.push(...r.exit_codes);
      p.userSum += r.user * 1000 * r.times.length;
      p.systemSum += r.system * 1000 * r.times.length;
    });
  }
  return commands.map((c) => {
    const p = pooled.get(c.key) as Pooled;
    const n = p.times.length;
    const sorted = [...p.times].sort((a, b) => a - b);
    const mean = p.times.reduce((a, b) => a + b, 0) / n;
    const variance = p.times.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1);
    const mid = (n - 1) / 2;
    return {
      key: c.key,
      label: c.label,
      command: commandLine(c.argv),
      meanMs: mean,
      stddevMs: Math.sqrt(variance),
      medianMs: ((sorted[Math.floor(mid)] ?? Number.NaN) + (sorted[Math.ceil(mid)] ?? Number.NaN)) / 2,
      minMs: sorted[0] ?? Number.NaN,
      maxMs: sorted[n - 1] ?? Number.NaN,
      userMs: p.userSum / n,
      systemMs: p.systemSum / n,
      runs: n,
      unexpectedExits: p.exitCodes.filter((code) => code !== c.expectExit).map((code) => code ?? -1),
      times: p.times,
    };
  });
}

export function hyperfineVersion(path: string): string {
  return spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
}
