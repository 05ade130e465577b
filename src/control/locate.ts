/**
 * Finding an instance from what a command was told (--name, -p/-a, -s, -P), and whether it runs.
 * A pid read from a file is trusted only once the process is shown to be that instance: the same
 * start time as recorded (or, for a bare pidfile, a fcgi-spawn command line), so a recycled pid is
 * never signalled.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultName, instancePaths, runDirectory, validateName, type InstancePaths, type RunContext } from './run-dir.js';
import { readPidFile } from './files.js';
import { formatAddress } from '../os/sockaddr.js';
import { isSameProcess, readRecord, type InstanceRecord } from './record.js';

export interface InstanceSelector {
  readonly name?: string;
  readonly address?: string;
  readonly port?: string;
  readonly socket?: string;
  readonly pidfile?: string;
}

export type InstanceState =
  | { readonly state: 'running'; readonly pid: number }
  /** A pidfile is there but its process is gone (or is not ours any more). */
  | { readonly state: 'dead'; readonly pid?: number }
  | { readonly state: 'stopped' };

export interface LocatedInstance {
  readonly name: string;
  readonly paths: InstancePaths;
  readonly record?: InstanceRecord;
  readonly status: InstanceState;
}

export class SelectorError extends Error {}

function nameFrom(selector: InstanceSelector, cwd: string): string | undefined {
  if (selector.name !== undefined) return validateName(selector.name);
  if (selector.socket !== undefined) return defaultName({ kind: 'unix', path: resolve(cwd, selector.socket) });
  if (selector.port !== undefined) {
    if (!/^\d{1,5}$/.test(selector.port) || Number(selector.port) < 1 || Number(selector.port) > 65535) {
      throw new SelectorError(`invalid --port '${selector.port}': expected an integer from 1 to 65535`);
    }
    return defaultName({ kind: 'tcp', host: selector.address ?? '127.0.0.1', port: Number(selector.port) });
  }
  return undefined;
}

function commandLineIsOurs(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    return argv.some((arg) => arg.endsWith('fcgi-spawn') || arg.endsWith('fcgi-spawn.js')) && argv.includes('start');
  } catch {
    return false;
  }
}

function stateOf(record: InstanceRecord | undefined, pidFromFile: number | undefined): InstanceState {
  if (record && isSameProcess(record.supervisor)) return { state: 'running', pid: record.supervisor.pid };
  if (!record && pidFromFile !== undefined && commandLineIsOurs(pidFromFile)) return { state: 'running', pid: pidFromFile };
  if (record || pidFromFile !== undefined) return { state: 'dead', ...(pidFromFile !== undefined ? { pid: pidFromFile } : {}) };
  return { state: 'stopped' };
}

export function locateInstance(selector: InstanceSelector, context: RunContext & { readonly cwd: string }): LocatedInstance {
  const dir = runDirectory(context);
  let name = nameFrom(selector, context.cwd);
  const pidFromExtraFile = selector.pidfile !== undefined ? readPidFile(resolve(context.cwd, selector.pidfile)) : undefined;
  if (name === undefined && selector.pidfile !== undefined) {
    const pidfile = resolve(context.cwd, selector.pidfile);
    name = findNameByPidfile(dir, pidfile, pidFromExtraFile);
    if (name === undefined) {
      // A pidfile no record names. Its pid belongs to another recorded instance: stale, not that one.
      // Otherwise all we know is the file and its pid, checked by command line.
      const claimedByAnother = listRecords(dir).some((record) => record.supervisor.pid === pidFromExtraFile);
      const status: InstanceState = claimedByAnother ? { state: 'dead', ...(pidFromExtraFile !== undefined ? { pid: pidFromExtraFile } : {}) } : stateOf(undefined, pidFromExtraFile);
      return { name: pidfile, paths: { dir, pidfile, control: '', record: '' }, status };
    }
  }
  if (name === undefined) throw new SelectorError('which instance? pass --name NAME, -p PORT (with -a ADDRESS), -s PATH or -P PIDFILE');
  if (selector.name === undefined && selector.pidfile === undefined) name = holderOf(dir, addressFrom(selector, context.cwd)) ?? name;
  const paths = instancePaths(dir, name);
  const record = readRecord(paths.record);
  const pid = pidFromExtraFile ?? readPidFile(paths.pidfile);
  return { name, paths, ...(record ? { record } : {}), status: stateOf(record, pid) };
}

function addressFrom(selector: InstanceSelector, cwd: string): string | undefined {
  if (selector.socket !== undefined) return resolve(cwd, selector.socket);
  if (selector.port === undefined) return undefined;
  return formatAddress({ kind: 'tcp', host: selector.address ?? '127.0.0.1', port: Number(selector.port) });
}

/**
 * The instance whose record lists a pool on this address (an instance named by its config file has
 * several pools, and a name not derived from any of them). The derived name's own record wins.
 */
function holderOf(dir: string, address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const records = listRecords(dir).filter((record) => record.address === address || record.pools?.some((pool) => pool.address === address));
  return (records.find((record) => isSameProcess(record.supervisor)) ?? records[0])?.name;
}

/** The record that wrote this very pidfile (-P) and still has its pid: a recycled pid alone proves nothing. */
function findNameByPidfile(dir: string, pidfile: string, pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  for (const record of listRecords(dir)) if (record.supervisor.pid === pid && record.extraPidfile === pidfile) return record.name;
  return undefined;
}

export function listRecords(dir: string): InstanceRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  return names.map((file) => readRecord(`${dir}/${file}`)).filter((record): record is InstanceRecord => record !== undefined);
}

