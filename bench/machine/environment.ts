/**
 * For the idle-cost and cli-latency benchmarks: Debian programs they compare against (installed with
 * apt-get when missing and we are root; a program that cannot be had is skipped with a note), and the
 * facts printed beside their results: machine, kernel, load, versions.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { resolveProgram } from '../../src/os/executable.js';

const SEARCH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`;

export interface DebianProgram {
  /** The executable's name. */
  readonly name: string;
  readonly pkg: string;
  /** Arguments that print its version on the first line; dpkg's version otherwise. */
  readonly versionArgs?: readonly string[];
}

export interface Found {
  readonly paths: Readonly<Record<string, string | undefined>>;
  readonly notes: readonly string[];
}

function find(name: string): string | undefined {
  const found = resolveProgram(name, process.cwd(), SEARCH);
  return found.found ? found.path : undefined;
}

function aptGet(tag: string, args: readonly string[]): boolean {
  process.stderr.write(`${tag}: apt-get ${args.join(' ')}\n`);
  const run = spawnSync('apt-get', [...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return run.status === 0;
}

/** The path of each program; missing ones are installed if we are root (apt-get update only if the first try fails). */
export function findPrograms(tag: string, programs: readonly DebianProgram[]): Found {
  const notes: string[] = [];
  const missing = programs.filter((p) => !find(p.name));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((p) => p.pkg))];
    if (process.getuid?.() === 0) {
      const install = ['install', '-y', '--no-install-recommends', ...pkgs];
      if (!aptGet(tag, install)) {
        aptGet(tag, ['update']);
        aptGet(tag, install);
      }
    } else {
      notes.push(`not root: cannot install ${pkgs.join(', ')} (apt-get install ${pkgs.join(' ')})`);
    }
  }
  const paths: Record<string, string | undefined> = {};
  for (const p of programs) {
    paths[p.name] = find(p.name);
    if (!paths[p.name]) notes.push(`${p.name} not found and not installable (Debian package ${p.pkg}): skipped`);
  }
  return { paths, notes };
}

function firstLine(file: string, args: readonly string[]): string {
  const run = spawnSync(file, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.error) return 'unknown';
  return `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n')[0]?.trim() || 'unknown';
}

export function debianVersion(pkg: string): string | undefined {
  const run = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return run.status === 0 && run.stdout.trim() !== '' ? run.stdout.trim() : undefined;
}

function tableLines(path: string): number {
  try {
    return readFileSync(path, 'latin1').split('\n').filter(Boolean).length - 1;
  } catch {
    return 0;
  }
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly arch: string;
  readonly loadavg: readonly number[];
  /** Lines of /proc/net/tcp + tcp6: fcgi-spawn reads these tables to tell a busy worker (src/os/proc.ts). */
  readonly tcpSockets: number;
  readonly versions: Readonly<Record<string, string>>;
}

/** Machine facts and the versions of fcgi-spawn, Node and each program given (dpkg's version for Debian packages). */
export function describeMachine(repoRoot: string, programs: readonly DebianProgram[], found: Found): Machine {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version?: string };
  const commit = firstLine('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = spawnSync('git', ['-C', repoRoot, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout?.trim();
  const versions: Record<string, string> = {
    'fcgi-spawn': `${pkg.version ?? '?'} (git ${commit}${dirty ? ', modified working tree' : ''}; as built in dist/)`,
    node: process.version,
  };
  for (const p of programs) {
    const path = found.paths[p.name];
    if (!path) continue;
    const dpkg = debianVersion(p.pkg);
    versions[p.name] = dpkg ? `${dpkg} (Debian ${p.pkg})` : p.versionArgs ? firstLine(path, p.versionArgs) : 'unknown';
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(os.totalmem() / 1048576),
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    loadavg: os.loadavg().map((value) => Math.round(value * 100) / 100),
    tcpSockets: ['tcp', 'tcp6'].reduce((n, table) => n + tableLines(`/proc/self/net/${table}`), 0),
    versions,
  };
}

export function machineLines(machine: Machine): string[] {
  return [
    `machine:  ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryMiB} MiB, ${machine.kernel} ${machine.arch}, load ${machine.loadavg.join(' ')}, ${machine.tcpSockets} TCP sockets in /proc/net/tcp{,6}`,
    `versions: ${Object.entries(machine.versions).map(([k, v]) => `${k} ${v}`).join('; ')}`,
  ];
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('   ').trimEnd())
    .join('\n');
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';
}
