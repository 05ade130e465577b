/**
 * Configurations written back as YAML config files: `config print` turns a command line into the file that means
 * the same (the way from an init script's flag line to a file), `config check` shows what a file resolved to.
 */
import { stringify } from 'yaml';
import { flagLayer, type Flags } from './flags.js';
import { option, optionsOf, type OptionName } from './options.js';
import { Problems } from './problems.js';
import { fileValue } from './file-values.js';
import type { Configuration, PoolConfig } from './types.js';

/** `config print`: the command line as a config file of one pool (after `header`). Throws ConfigError on a bad flag. */
export function flagsAsYaml(flags: Flags, command: readonly string[], cwd: string, header = ''): string {
  const problems = new Problems();
  const layer = flagLayer(flags, command, problems, cwd);
  problems.throwIfAny();
  const pick = (names: readonly OptionName[]): Record<string, unknown> =>
    Object.fromEntries(names.filter((name) => layer.values.has(name)).map((name) => [name, fileValue(name, layer.values.get(name))]));
  const supervisor = pick(optionsOf('supervisor', { file: true }));
  const pool = pick(optionsOf('pool', { file: true }));
  return header + stringify({ ...supervisor, pools: [{ name: 'default', ...pool }] }, { aliasDuplicateObjects: false });
}

/** The variables a pool sets or changes, not the ones it inherits unchanged (which may be many, and secret). */
function ownEnvironment(pool: PoolConfig, inherited: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(pool.env).filter(([key, value]) => inherited[key] !== value));
}

/** The fields the table maps one to one, under their file keys. */
function fileKeys(scope: 'supervisor' | 'pool', config: object): Record<string, unknown> {
  const described: Record<string, unknown> = {};
  for (const name of optionsOf(scope, { file: true })) {
    const field = option(name).field;
    const value = field !== undefined ? (config as Record<string, unknown>)[field] : undefined;
    if (value !== undefined) described[name] = fileValue(name, value);
  }
  return described;
}

function describePool(pool: PoolConfig, inherited: NodeJS.ProcessEnv): Record<string, unknown> {
  const described = { name: pool.name, ...fileKeys('pool', pool) };
  const dropped = Object.keys(inherited).filter((key) => !(key in pool.env));
  return {
    ...described,
    command: [pool.programPath, ...pool.args],
    chdir: pool.cwd,
    ...(pool.identity ? { user: pool.identity.userName ?? pool.identity.uid, uid: pool.identity.uid, gid: pool.identity.gid } : {}),
    ...(pool.socketUid !== undefined ? { 'socket-uid': pool.socketUid } : {}),
    ...(pool.socketGid !== undefined ? { 'socket-gid': pool.socketGid } : {}),
    env: ownEnvironment(pool, inherited),
    'env-inherited': `${Object.keys(pool.env).length - Object.keys(ownEnvironment(pool, inherited)).length} variables${dropped.length > 0 ? `, ${dropped.length} not passed on` : ''}`,
  };
}

/** `config check`: the configuration as resolved now, as YAML (file keys; resolved paths, ids and programs). */
export function describeConfiguration(configuration: Configuration, inherited: NodeJS.ProcessEnv): string {
  const { supervisor } = configuration;
  const described: Record<string, unknown> = { name: supervisor.name, ...fileKeys('supervisor', supervisor) };
  if (supervisor.configFile !== undefined) described['config-file'] = supervisor.configFile;
  if (supervisor.sourceFiles.length > 1) described['source-files'] = supervisor.sourceFiles;
  return stringify({ ...described, pools: configuration.pools.map((pool) => describePool(pool, inherited)) }, { aliasDuplicateObjects: false });
}
