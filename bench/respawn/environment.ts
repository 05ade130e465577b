/**
 * The programs the respawn benchmark needs (installed through apt-get when missing and we are root)
 * and the facts printed with its results: machine, kernel, versions.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveProgram } from '../../src/os/executable.js';

const SEARCH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`;

/** Debian package of each program. */
const PACKAGES: Readonly<Record<string, string>> = { 'spawn-fcgi': 'spawn-fcgi', multiwatch: 'multiwatch', fcgiwrap: 'fcgiwrap' };

export type Programs = Readonly<Record<'spawn-fcgi' | 'multiwatch' | 'fcgiwrap', string>>;

function find(name: string): string | undefined {
  const found = resolveProgram(name, process.cwd(), SEARCH);
  return found.found ? found.path : undefined;
}

function aptGet(args: readonly string[]): boolean {
  process.stderr.write(`respawn-latency: apt-get ${args.join(' ')}\n`);
  const run = spawnSync('apt-get', [...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return run.status === 0;
}

/** Each program's path; installs missing ones (apt-get update only if the first install fails). */
export function requirePrograms(): Programs {
  const names = Object.keys(PACKAGES);
  let missing = names.filter((name) => !find(name));
  if (missing.length > 0) {
    const packages = missing.map((name) => PACKAGES[name] ?? name);
    if (process.getuid?.() !== 0) {
      throw new Error(`missing ${missing.join(', ')}: run 'apt-get install ${packages.join(' ')}' as root`);
    }
    const install = ['install', '-y', '--no-install-recommends', ...packages];
    if (!aptGet(install)) {
      aptGet(['update']);
      aptGet(install);
    }
    missing = names.filter((name) => !find(name));
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')} after apt-get install ${packages.join(' ')}`);
  }
  return { 'spawn-fcgi': find('spawn-fcgi') ?? '', multiwatch: find('multiwatch') ?? '', fcgiwrap: find('fcgiwrap') ?? '' };
}

function firstLine(file: string, args: readonly string[]): string {
  const run = spawnSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) return 'unknown';
  const text = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  return text.split('\n')[0]?.trim() || 'unknown';
}

/** `spawn-fcgi v1.6.4 (ipv6) - spawns FastCGI processes` → `v1.6.4 (ipv6)`. */
function versionOf(line: string): string {
  const match = /\bv?\d+\.\d+(?:\.\d+)?\S*(?: \([^)]*\))?/.exec(line);
  return match ? match[0] : line;
}

function debianVersion(pkg: string): string {
  const version = firstLine('dpkg-query', ['-W', '-f=${Version}', pkg]);
  return version.includes('no packages found') ? 'unknown' : version;
}

export interface Environment {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly arch: string;
  readonly loadavg: readonly number[];
  readonly versions: Readonly<Record<string, string>>;
}

export function describeEnvironment(repoRoot: string, programs: Programs): Environment {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version?: string };
  const commit = firstLine('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']);
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    loadavg: os.loadavg().map((value) => Math.round(value * 100) / 100),
    versions: {
      'fcgi-spawn': `${pkg.version ?? '?'} (git ${commit}; working tree as built in dist/)`,
      node: process.version,
      'spawn-fcgi': versionOf(firstLine(programs['spawn-fcgi'], ['-v'])),
      multiwatch: versionOf(firstLine(programs.multiwatch, ['-v'])),
      fcgiwrap: `${debianVersion('fcgiwrap')} (Debian package)`,
    },
  };
}
