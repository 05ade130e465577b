/**
 * Finding an instance from what a command was told (--name, -p/-a, -s, -P), and whether it runs.
 * Nothing is believed that we could not have written ourselves: the run directory is checked as
 * `start` checks it (a refused one throws RunDirectoryError), and every record and pidfile is read
 * only if it is a regular file of ours that nobody else can write (what fails is ignored, with its
 * reason, for the command to say). A pid read from a file is trusted only once the process is shown
 * to be that instance: the same start time and boot as recorded (or, for a bare pidfile, our
 * supervisor's command line), so a recycled pid is never signalled.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkRunDirectory, defaultName, instancePaths, runDirectory, validateName, type InstancePaths, type RunContext } from './run-dir.js';
import { parsePid, readOwnFile } from './files.js';
import { isSameProcess, readRecordChecked, type InstanceRecord } from './record.js';
import { isOurSupervisorCommand } from './command-line.js';
import { formatAddress } from '../os/sockaddr.js';

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

/** A record or pidfile that failed the checks: not read, and said on stderr by the command. */
export interface IgnoredFile {
  readonly path: string;
  readonly reason: string;
}

export interface LocatedInstance {
  readonly name: string;
  readonly paths: InstancePaths;
  readonly record?: InstanceRecord;
  readonly status: InstanceState;
  readonly ignored: readonly IgnoredFile[];
}

export class SelectorError extends Error {}

function nameFrom(selector: InstanceSelector, cwd: string): string | undefined {
  if (selector.name !== undefined) {
    try {
      return validateName(selector.name);
    } catch (error) {
      throw new SelectorError((error as Error).message);
    }
  }
  if (selector.socket !== undefined) return defaultName({ kind: 'unix', path: resolve(cwd, selector.socket) });
  if (selector.port !== undefined) {
    if (!/^\d{1,5}$/.test(selector.port) || Number(selector.port) < 1 || Number(selector.port) > 65535) {
      throw new SelectorError(`invalid --port '${selector.port}': expected an integer from 1 to 65535`);
    }
    return defaultName({ kind: 'tcp', host: selector.address ?? '127.0.0.1', port: Number(selector.port) });
  }
  return undefined;
}

/** The run directory's records and pidfiles, each read through the checks, with what was ignored. */
export class StateReader {
  readonly ignored: IgnoredFile[] = [];

  constructor(
    readonly dir: string,
    private readonly euid: number,
  ) {}

  /** Throws RunDirectoryError when the directory is not ours and private. */
  static open(context: RunContext): StateReader {
    const dir = runDirectory(context);
    checkRunDirectory(dir, context.euid);
    return new StateReader(dir, context.euid);
  }

  pid(path: string): number | undefined {
    const read = readOwnFile(path, this.euid);
    if (read.kind === 'refused') this.ignored.push({ path, reason: read.reason });
    return read.kind === 'ok' ? parsePid(read.value) : undefined;
  }

  record(path: string): InstanceRecord | undefined {
    const read = readRecordChecked(path, this.euid);
    if (read.kind === 'refused') this.ignored.push({ path, reason: read.reason });
    return read.kind === 'ok' ? read.value : undefined;
  }

  records(): InstanceRecord[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((file) => file.endsWith('.json'));
    } catch {
      return [];
    }
    return files.map((file) => this.record(`${this.dir}/${file}`)).filter((record): record is InstanceRecord => record !== undefined);
  }
}

function stateOf(record: InstanceRecord | undefined, pidFromFile: number | undefined): InstanceState {
  if (record && isSameProcess(record.supervisor)) return { state: 'running', pid: record.supervisor.pid };
  if (!record && pidFromFile !== undefined && isOurSupervisorCommand(pidFromFile)) return { state: 'running', pid: pidFromFile };
  if (record || pidFromFile !== undefined) return { state: 'dead', ...(pidFromFile !== undefined ? { pid: pidFromFile } : {}) };
  return { state: 'stopped' };
}

export function locateInstance(selector: InstanceSelector, context: RunContext & { readonly cwd: string }): LocatedInstance {
  let name = nameFrom(selector, context.cwd);
  const reader = StateReader.open(context);
  const { dir, ignored } = reader;
  const pidFromExtraFile = selector.pidfile !== undefined ? reader.pid(resolve(context.cwd, selector.pidfile)) : undefined;
  if (name === undefined && selector.pidfile !== undefined) {
    const pidfile = resolve(context.cwd, selector.pidfile);
    const records = reader.records();
    name = findNameByPidfile(records, dir, pidfile, pidFromExtraFile);
    if (name === undefined) {
      // A pidfile no record names. Its pid belongs to another recorded instance: stale, not that one.
      // Otherwise all we know is the file and its pid, checked by command line.
      const claimedByAnother = records.some((record) => record.supervisor.pid === pidFromExtraFile);
      const status: InstanceState = claimedByAnother ? { state: 'dead', ...(pidFromExtraFile !== undefined ? { pid: pidFromExtraFile } : {}) } : stateOf(undefined, pidFromExtraFile);
      return { name: pidfile, paths: { dir, pidfile, control: '', record: '', lock: '' }, status, ignored };
    }
  }
  if (name === undefined) throw new SelectorError('which instance? pass --name NAME, -p PORT (with -a ADDRESS), -s PATH or -P PIDFILE');
  if (selector.name === undefined && selector.pidfile === undefined) name = holderOf(reader.records(), addressFrom(selector, context.cwd)) ?? name;
  const paths = instancePaths(dir, name);
  const record = reader.record(paths.record);
  const pid = pidFromExtraFile ?? reader.pid(paths.pidfile);
  return { name, paths, ...(record ? { record } : {}), status: stateOf(record, pid), ignored };
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
function holderOf(all: readonly InstanceRecord[], address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const records = all.filter((record) => record.address === address || record.pools?.some((pool) => pool.address === address));
  return (records.find((record) => isSameProcess(record.supervisor)) ?? records[0])?.name;
}

/** The record that wrote this very pidfile (-P) and still has its pid: a recycled pid alone proves nothing. */
/** The instance whose -P pidfile, or whose own pidfile in the run directory, this is and names its pid. */
function findNameByPidfile(records: readonly InstanceRecord[], dir: string, pidfile: string, pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  return records.find((record) => record.supervisor.pid === pid && (record.extraPidfile === pidfile || instancePaths(dir, record.name).pidfile === pidfile))?.name;
}
