/**
 * Flags and the files read (load.ts) → a Configuration: each file validated (every problem at its line and
 * column), pools assembled from their layers (flags over the pool's mapping over the file's top level over the
 * defaults), each pool resolved against the system, then what only the whole can tell: unique names, addresses
 * that do not collide, the instance's name, two logs in one file.
 */
import { basename, dirname, extname } from 'node:path';
import { defaultName, validateName } from '../control/run-dir.js';
import { formatAddress, type ListenAddress } from '../os/sockaddr.js';
import { reportIssues } from './file-issues.js';
import { flagLayer, type Flags } from './flags.js';
import { fileLayer, Values, type Layer } from './layers.js';
import { optionsOf } from './options.js';
import { isLoopback } from './listen.js';
import { label, Problems, quote, type Locate, type Origin } from './problems.js';
import { resolvePool } from './resolve-pool.js';
import { parseFile, POOL_NAME } from './schema.js';
import type { Configuration, PoolConfig, SupervisorConfig } from './types.js';

export interface LoadedFile {
  readonly file: string;
  readonly contents: unknown;
}

export interface Sources {
  readonly main?: LoadedFile;
  readonly included: readonly LoadedFile[];
  readonly includeDirectories: readonly string[];
  readonly locate: Locate;
}

export interface BuildInputs {
  readonly flags: Flags;
  readonly command: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
}

interface PoolSource {
  readonly name: string;
  readonly origin?: Origin;
  readonly layers: readonly Layer[];
}

const POOL_KEYS = optionsOf('pool', { file: true });
/** The names cosmiconfig searches for say nothing about the instance: its name then comes from the address. */
const SEARCHED_NAME = /^(package\.json|\.fcgi-spawnrc(\..*)?|fcgi-spawn\.config\..*)$/;
const SUPERVISOR_KEYS = optionsOf('supervisor', { file: true });

function checked(problems: Problems, loaded: LoadedFile, which: 'file' | 'included'): Readonly<Record<string, unknown>> | undefined {
  const parsed = parseFile(loaded.contents, which);
  if (parsed.ok) return parsed.value;
  reportIssues(problems, loaded.file, loaded.contents, parsed.issues, which === 'included');
  return undefined;
}

/** `pools:` of a file: each a layer over the file's own top level. */
function listedPools(loaded: LoadedFile, list: readonly Record<string, unknown>[], below: readonly Layer[], flags: Layer): PoolSource[] {
  const dir = dirname(loaded.file);
  return list.map((pool, index) => ({
    name: pool.name as string,
    origin: { kind: 'file', file: loaded.file, path: ['pools', index] },
    layers: [flags, fileLayer(loaded.file, ['pools', index], pool, POOL_KEYS, dir), ...below],
  }));
}

function includedPools(problems: Problems, loaded: LoadedFile, top: Layer | undefined, flags: Layer): PoolSource[] {
  const value = checked(problems, loaded, 'included');
  if (value === undefined) return [];
  const own = fileLayer(loaded.file, [], value, POOL_KEYS, dirname(loaded.file));
  const below = [own, ...(top ? [top] : [])];
  if (Array.isArray(value.pools)) {
    if (value.name !== undefined) problems.add({ kind: 'file', file: loaded.file, path: ['name'] }, 'name names the pool of a file without pools: (here each pool has its own)', 'usage', 'key');
    return listedPools(loaded, value.pools as Record<string, unknown>[], below, flags);
  }
  const name = (value.name as string | undefined) ?? basename(loaded.file, extname(loaded.file));
  if (!POOL_NAME.test(name)) problems.file(loaded.file, `the file's name ${quote(name)} is no pool name (letters, digits, '.', '_', '@', '-'): add name: to it`);
  return [{ name, origin: { kind: 'file', file: loaded.file, path: [] }, layers: [flags, ...below] }];
}

/** Two binds that cannot both succeed: the same path, or the same port on the same or a wildcard host. */
function collide(a: ListenAddress, b: ListenAddress): boolean {
  if (a.kind === 'unix' || b.kind === 'unix') return a.kind === b.kind && formatAddress(a) === formatAddress(b);
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';
  return a.port === b.port && (a.host === b.host || wildcard(a.host) || wildcard(b.host));
}

function crossCheck(resolved: readonly { pool: PoolConfig; source: PoolSource }[], problems: Problems): void {
  resolved.forEach(({ pool, source }, index) => {
    const earlier = resolved.slice(0, index).find((other) => collide(other.pool.address, pool.address))?.pool;
    if (earlier) {
      const origin = new Values(source.layers).origin('listen');
      problems.add(origin, `${label(origin)} ${quote(formatAddress(pool.address))} collides with pool ${earlier.name}'s ${formatAddress(earlier.address)}: each pool needs an address of its own`);
    }
  });
}

/** --name, else the file's `name`, else the config file's name, else the first pool's address. */
function instanceName(values: Values, sources: Sources, pools: readonly PoolConfig[], problems: Problems): string | undefined {
  const given = values.given('name');
  const check = (name: string, origin: Origin | undefined, what: string): string | undefined => {
    try {
      return validateName(name);
    } catch (error) {
      const expected = /expected (.*)$/.exec((error as Error).message)?.[1] ?? 'a valid instance name';
      if (origin) problems.add(origin, `invalid ${label(origin)} ${quote(name)}: expected ${expected}`);
      else problems.file(sources.main?.file ?? '', `${what} ${quote(name)} is no instance name (expected ${expected}): set name: in the file, or pass --name`);
      return undefined;
    }
  };
  if (given) return check(given.value, given.origin, 'name');
  const file = sources.main?.file;
  if (file !== undefined && !SEARCHED_NAME.test(basename(file))) return check(basename(file, extname(file)), undefined, "the config file's name");
  const first = pools[0];
  return first ? defaultName(first.address) : undefined;
}

function supervisorConfig(values: Values, sources: Sources, pools: readonly PoolConfig[], problems: Problems): SupervisorConfig | undefined {
  const name = instanceName(values, sources, pools, problems);
  const logFile = values.value('log-file');
  for (const pool of pools) {
    if (logFile !== undefined && pool.workerLog?.kind === 'file' && pool.workerLog.path === logFile) {
      problems.add(values.origin('log-file'), `--log-file and --worker-log name the same file '${logFile}': give each log its own file`);
    }
  }
  const stats = values.value('stats');
  if (stats !== undefined && !isLoopback(stats) && values.value('stats-allow-remote') !== true) {
    problems.add(values.origin('stats'), `--stats ${quote(formatAddress(stats))} is reachable from other hosts, and the status names programs, pids and addresses: use 127.0.0.1, [::1] or a Unix socket path, or pass --stats-allow-remote`);
  }
  if (name === undefined) return undefined;
  const main = sources.main?.file;
  return {
    ...(values.fields(optionsOf('supervisor')) as Omit<SupervisorConfig, 'name' | 'sourceFiles' | 'includeDirectories'>),
    name,
    ...(main !== undefined ? { configFile: main } : {}),
    sourceFiles: [...(main !== undefined ? [main] : []), ...sources.included.map((loaded) => loaded.file)],
    includeDirectories: sources.includeDirectories,
  };
}

export function buildConfiguration(inputs: BuildInputs, sources: Sources): Configuration {
  const problems = new Problems(sources.locate);
  const flags = flagLayer(inputs.flags, inputs.command, problems, inputs.cwd);
  const supervisorLayers: Layer[] = [flags];
  const pools: PoolSource[] = [];
  const main = sources.main;
  const value = main ? checked(problems, main, 'file') : undefined;
  const top = main && value ? fileLayer(main.file, [], value, POOL_KEYS, dirname(main.file)) : undefined;
  if (main && value) {
    supervisorLayers.push(fileLayer(main.file, [], value, SUPERVISOR_KEYS, dirname(main.file)));
    if (Array.isArray(value.pools)) pools.push(...listedPools(main, value.pools as Record<string, unknown>[], top ? [top] : [], flags));
  }
  for (const loaded of sources.included) pools.push(...includedPools(problems, loaded, top, flags));
  // No pools: the top level (or the command line alone) is the one pool.
  if (pools.length === 0 && (!main || value)) pools.push({ name: 'default', ...(main ? { origin: { kind: 'file', file: main.file, path: [] } as const } : {}), layers: [flags, ...(top ? [top] : [])] });
  const seen = new Set<string>();
  for (const pool of pools) {
    if (seen.has(pool.name) && pool.origin) problems.add(pool.origin, `two pools are named ${quote(pool.name)}: pool names must be unique`);
    seen.add(pool.name);
  }
  const resolved = pools.flatMap((source) => {
    const context = { name: source.name, ...(source.origin ? { origin: source.origin } : {}), cwd: inputs.cwd, env: inputs.env, euid: inputs.euid };
    const pool = resolvePool(new Values(source.layers), context, problems);
    return pool ? [{ pool, source }] : [];
  });
  crossCheck(resolved, problems);
  const complete = resolved.map(({ pool }) => pool);
  const supervisor = supervisorConfig(new Values(supervisorLayers), sources, complete, problems);
  problems.throwIfAny();
  return { supervisor: supervisor as SupervisorConfig, pools: complete };
}
