/**
 * Where a command's start-up goes: which modules it loads (recorded by load-recorder.ts), and what
 * importing each of them costs on its own (hyperfine: `node -e "await import(X)"` against an empty import).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TimedCommand } from './hyperfine.js';

/** Must not load on status/stop/reload/probe (DESIGN.md "CLI start-up"). */
export const HEAVY = ['winston', 'koffi', 'execa', 'chokidar', 'cosmiconfig', 'yaml', 'ajv', 'zod'] as const;

export interface LoadedModules {
  readonly key: string;
  readonly label: string;
  readonly exitCode: number | null;
  /** Our own compiled modules, relative to dist/. */
  readonly own: readonly string[];
  /** node_modules packages, with how many of their files were loaded. */
  readonly packages: Readonly<Record<string, number>>;
  readonly heavy: readonly string[];
}

function packageOf(path: string): string | undefined {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return match?.[1];
}

/** Run one CLI command under the load recorder and sort what it loaded. */
export function recordLoads(key: string, label: string, argv: readonly string[], repo: string, scratch: string, env: NodeJS.ProcessEnv): LoadedModules {
  const log = join(scratch, `loads-${key}.txt`);
  rmSync(log, { force: true });
  const recorder = pathToFileURL(join(repo, 'dist', 'bench', 'cli-latency', 'load-recorder.js')).href;
  const [node, ...rest] = argv;
  const run = spawnSync(node ?? process.execPath, ['--import', recorder, ...rest], { env: { ...env, FCGI_BENCH_LOAD_LOG: log }, encoding: 'utf8', timeout: 60_000 });
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const own = new Set<string>();
  const files = new Map<string, Set<string>>();
  for (const line of lines) {
    const [kind, where] = [line.slice(0, 3), line.slice(4)];
    const path = kind === 'esm' ? (where.startsWith('file://') ? decodeURIComponent(new URL(where).pathname) : where) : where;
    if (path.startsWith('node:')) continue;
    const pkg = packageOf(path);
    if (pkg) {
      if (!files.has(pkg)) files.set(pkg, new Set());
      files.get(pkg)?.add(path);
    } else if (path.startsWith(join(repo, 'dist'))) own.add(path.slice(join(repo, 'dist').length + 1));
    else if (path.startsWith(join(repo, 'bin'))) own.add(path.slice(repo.length + 1));
  }
  const packages: Record<string, number> = {};
  for (const [pkg, set] of [...files].sort((a, b) => a[0].localeCompare(b[0]))) packages[pkg] = set.size;
  const heavy = Object.keys(packages).filter((pkg) => HEAVY.some((h) => pkg === h || pkg.startsWith(`@koromix/${h}`)));
  return { key, label, exitCode: run.status, own: [...own].sort(), packages, heavy };
}

export interface ImportTarget {
  readonly key: string;
  readonly label: string;
  readonly specifier: string;
}

/** Our command modules, each as the CLI imports it, and every dependency (installed ones only). */
export function importTargets(repo: string): ImportTarget[] {
  const url = (path: string): string => pathToFileURL(join(repo, path)).href;
  const own: ImportTarget[] = [
    { key: 'cli', label: 'dist/src/cli.js (commander + the selector code)', specifier: url('dist/src/cli.js') },
    { key: 'status', label: 'dist/src/commands/status.js', specifier: url('dist/src/commands/status.js') },
    { key: 'stop', label: 'dist/src/commands/stop.js', specifier: url('dist/src/commands/stop.js') },
    { key: 'probe', label: 'dist/src/commands/probe-command.js', specifier: url('dist/src/commands/probe-command.js') },
    { key: 'control-request', label: 'dist/src/commands/control-request.js (reload)', specifier: url('dist/src/commands/control-request.js') },
    { key: 'start', label: 'dist/src/commands/start.js', specifier: url('dist/src/commands/start.js') },
  ];
  // Installed ones only (a package's exports may not allow require.resolve: look for its directory).
  const deps = ['commander', ...HEAVY].filter((name) => existsSync(join(repo, 'node_modules', name, 'package.json')));
  return [...own, ...deps.map((name) => ({ key: `dep-${name}`, label: name, specifier: name }))];
}

export function importCommands(targets: readonly ImportTarget[]): TimedCommand[] {
  const base = (script: string): string[] => [process.execPath, '--input-type=module', '-e', script];
  return [
    { key: 'import-none', label: 'node --input-type=module -e "" (nothing imported)', argv: base(''), expectExit: 0 },
    ...targets.map((t) => ({ key: `import-${t.key}`, label: `import ${t.label}`, argv: base(`await import(${JSON.stringify(t.specifier)})`), expectExit: 0 })),
  ];
}
