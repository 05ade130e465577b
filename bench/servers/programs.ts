/**
 * The programs the benchmarks drive, found on PATH (and /usr/sbin) or installed: Debian packages with
 * apt-get (as root; `apt-get update` only if the first install fails), PM2 with npm into a temp dir.
 * A program that cannot be had is reported, never fatal: its rows say why. Also the machine and the
 * versions printed with every table.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveProgram } from '../../src/os/executable.js';
import { installPm2 } from '../log-rotation/pm2.js';

const SEARCH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface Wanted {
  /** The command name, or a pattern for versioned names (php-fpm8.2). */
  readonly program: string;
  readonly pattern?: RegExp;
  readonly package: string;
}

export type Found = { readonly path: string } | { readonly missing: string };

function find(wanted: Wanted): string | undefined {
  const direct = resolveProgram(wanted.program, process.cwd(), SEARCH);
  if (direct.found) return direct.path;
  if (!wanted.pattern) return undefined;
  for (const dir of ['/usr/sbin', '/usr/bin']) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    const name = names.filter((n) => wanted.pattern?.test(n)).sort().pop();
    if (name) return join(dir, name);
  }
  return undefined;
}

function aptGet(log: (line: string) => void, args: readonly string[]): string | undefined {
  log(`apt-get ${args.join(' ')}`);
  const run = spawnSync('apt-get', [...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (run.status === 0) return undefined;
  return (run.error?.message ?? run.stderr.trim().split('\n').pop() ?? `exit status ${run.status}`).slice(0, 200);
}

/** Each program's path, or why it is missing; missing ones are installed first when we are root. */
export function ensurePrograms(wanted: readonly Wanted[], log: (line: string) => void): Record<string, Found> {
  let missing = wanted.filter((w) => !find(w));
  let failure: string | undefined;
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      failure = 'not installed, and installing needs root';
    } else {
      const packages = [...new Set(missing.map((w) => w.package))];
      const install = ['install', '-y', '--no-install-recommends', ...packages];
      failure = aptGet(log, install);
      if (failure) {
        aptGet(log, ['update', '-qq']);
        failure = aptGet(log, install);
      }
      // One package that does not exist fails the whole command: try the others one by one.
      if (failure && packages.length > 1) for (const pkg of packages) aptGet(log, ['install', '-y', '--no-install-recommends', pkg]);
    }
    missing = wanted.filter((w) => !find(w));
  }
  const result: Record<string, Found> = {};
  for (const w of wanted) {
    const path = find(w);
    result[w.program] = path ? { path } : { missing: `${w.program} not found (Debian package ${w.package}${failure ? `: apt-get: ${failure}` : ''})` };
  }
  return result;
}

export function pathOf(found: Found | undefined): string | undefined {
  return found && 'path' in found ? found.path : undefined;
}

/** PM2 installed with npm under `prefix`: its binary and version, or why not. */
export function ensurePm2(prefix: string, log: (line: string) => void): { pm2: string; version: string } | { missing: string } {
  log(`npm install --prefix ${prefix} pm2@6`);
  const installed = installPm2(prefix);
  if ('reason' in installed) return { missing: `PM2 could not be installed with npm: ${installed.reason}` };
  try {
    const pkg = JSON.parse(readFileSync(join(prefix, 'node_modules', 'pm2', 'package.json'), 'utf8')) as { version?: string };
    return { pm2: installed.pm2, version: pkg.version ?? '?' };
  } catch (error) {
    return { missing: `PM2 installed but unreadable: ${(error as Error).message}` };
  }
}

function firstLine(file: string, args: readonly string[]): string {
  const run = spawnSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  if (run.error) return 'unknown';
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n')[0]?.trim() || 'unknown';
}

/** The Debian package's version, or undefined when it is not installed. */
export function debianVersion(pkg: string): string | undefined {
  const run = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.trim() !== '' ? run.stdout.trim() : undefined;
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly memoryGiB: number;
  readonly loadavg: readonly number[];
}

export function machine(): Machine {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()} ${process.arch}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

export function fcgiSpawnVersion(repo: string): string {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version?: string };
  const commit = firstLine('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).stdout?.trim() ? ', src/ modified' : '';
  return `${pkg.version ?? '?'} (git ${commit}${dirty}; as built in dist/)`;
}

/** Versions of the Debian packages given (those installed), with node's. */
export function versions(packages: readonly string[]): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const pkg of packages) {
    const version = debianVersion(pkg);
    if (version) out[pkg] = version;
  }
  return out;
}
