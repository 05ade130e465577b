/**
 * The daemon's side of the run directory: claim the name (refuse a running instance, stop the
 * orphans of a dead one before binding), publish pidfiles and the record once ready, keep the
 * record's worker list current, and remove everything on exit.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CliError, START_EXIT } from '../errors.js';
import { ensureRunDirectory, instancePaths, runDirectory, RunDirectoryError, type InstancePaths } from './run-dir.js';
import { removePidFileIfHolds, removeQuietly, writeAtomically } from './files.js';
import { identityOf, isSameProcess, readRecord, readRecordChecked, writeRecord, type InstanceRecord, type ProcessIdentity } from './record.js';
import { InstanceLock, InstanceLockError } from './instance-lock.js';
import { terminate } from './terminate.js';
import { socketOrphans } from './socket-orphans.js';
import type { Logger } from '../log/logger.js';
import { UNIX_PATH_MAX } from '../os/sockaddr.js';

export interface ClaimOptions {
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
  readonly stopSignal: NodeJS.Signals;
  readonly stopTimeoutMs: number;
  readonly logger: Logger;
}

export interface Claimed {
  readonly name: string;
  readonly paths: InstancePaths;
  /** Held until this process exits (released by an exit hook: every way out of start passes there). */
  readonly lock: InstanceLock;
}

/** The instance's paths in its run directory, checked as start checks it (exit 4 when refused). */
function checkedInstancePaths(options: Pick<ClaimOptions, 'name' | 'env' | 'euid'>): InstancePaths {
  const dir = runDirectory(options);
  try {
    ensureRunDirectory(dir, options.euid);
  } catch (error) {
    if (error instanceof RunDirectoryError) throw new CliError(error.message, START_EXIT.permissionDenied);
    throw error;
  }
  return instancePaths(dir, options.name);
}

export async function claimInstance(options: ClaimOptions): Promise<Claimed> {
  const paths = checkedInstancePaths(options);
  if (Buffer.byteLength(paths.control) > UNIX_PATH_MAX) {
    throw new CliError(`instance name '${options.name}' is too long: its control socket ${paths.control} would pass the ${UNIX_PATH_MAX}-byte limit of a socket path; pass a shorter --name`, START_EXIT.usage);
  }
  const lock = lockInstance(paths, options);
  const read = readRecordChecked(paths.record, options.euid);
  if (read.kind === 'refused') options.logger.log('warn', `ignoring ${paths.record}: ${read.reason}`);
  const record = read.kind === 'ok' ? read.value : undefined;
  // Only a supervisor that holds no lock (none of this version) gets past the lock while running.
  if (record && isSameProcess(record.supervisor)) throw alreadyRunning(options.name, record.supervisor.pid);
  if (record) await stopOrphans(record, options);
  return { name: options.name, paths, lock };
}

/**
 * After an in-place upgrade: the name is still ours, by the lock the previous program held (its descriptor came
 * across execve). The run directory is checked again; the record and pidfile are this same process's.
 */
export function reclaimInstance(options: Pick<ClaimOptions, 'name' | 'env' | 'euid'>, lockFd: number): Claimed {
  const paths = checkedInstancePaths(options);
  let lock: InstanceLock;
  try {
    lock = InstanceLock.inherit(paths.lock, lockFd);
  } catch (error) {
    if (error instanceof InstanceLockError) throw new CliError(error.message, START_EXIT.permissionDenied);
    throw error;
  }
  process.once('exit', () => lock.release());
  return { name: options.name, paths, lock };
}

function alreadyRunning(name: string, pid: number | undefined): CliError {
  return new CliError(`${name} is already running${pid ? ` (pid ${pid})` : ''}; see 'fcgi-spawn status --name ${name}'`, START_EXIT.alreadyRunning);
}

/** The name is ours until this process exits: exactly one of two simultaneous starts gets here. */
function lockInstance(paths: InstancePaths, options: ClaimOptions): InstanceLock {
  let lock: InstanceLock;
  try {
    lock = InstanceLock.acquire(paths.lock, options.euid);
  } catch (error) {
    if (!(error instanceof InstanceLockError)) throw error;
    if (error.reason === 'held') throw alreadyRunning(options.name, error.holder);
    throw new CliError(error.message, START_EXIT.permissionDenied);
  }
  process.once('exit', () => lock.release());
  return lock;
}

/**
 * Workers of a supervisor that died by SIGKILL still hold the port: stop them (by identity) first,
 * and whatever else holds its recorded sockets (helpers that left their worker's group, issue 9).
 */
async function stopOrphans(record: InstanceRecord, options: ClaimOptions): Promise<void> {
  const orphans = record.workers.filter(isSameProcess);
  const strays = socketOrphans(record, orphans.map((orphan) => orphan.pid));
  if (orphans.length === 0 && strays.length === 0) return;
  const previous = `${record.name}: the previous supervisor (pid ${record.supervisor.pid}) is gone`;
  if (orphans.length > 0) options.logger.log('warn', `${previous} but ${orphans.length} of its workers run: stopping them`, { pids: orphans.map((o) => o.pid).join(',') });
  for (const stray of strays) options.logger.log('warn', `${previous}; process ${stray.identity.pid} (${stray.name}) still holds its socket: stopping it`);
  await Promise.all([
    terminate(orphans, { signal: options.stopSignal, timeoutMs: options.stopTimeoutMs, groups: true }),
    // Not a worker: SIGTERM, as the reaper sends to what workers leave behind.
    terminate(strays.map((stray) => stray.identity), { signal: 'SIGTERM', timeoutMs: options.stopTimeoutMs, groups: false }),
  ]);
}

export interface PublishOptions {
  readonly address: string;
  readonly argv: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly extraPidfile?: string;
}

/**
 * At most one write of the record's worker list per this many ms (issue 10): a kill of every worker at once
 * changes the list twice per worker, and a write costs a JSON of every worker and a rename. The first change
 * after a quiet spell is written at once; the ones that follow within the window go out together at its end.
 */
export const RECORD_WRITE_EVERY_MS = 100;

export class PublishedInstance {
  /** The pids as last given, in order: compared before anything is read (most dispatches change none). */
  private pids: readonly number[] = [];
  /** A pid's identity is fixed for its life: read once, when it first appears, and forgotten when it leaves. */
  private readonly identities = new Map<number, ProcessIdentity>();
  private pools: readonly { readonly name: string; readonly address: string }[] = [];
  private sockets: readonly number[] = [];
  private readonly base: Omit<InstanceRecord, 'workers'>;
  /** The worker list changed since the record was last written. */
  private dirty = false;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private removed = false;

  constructor(
    private readonly claimed: Claimed,
    options: PublishOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    const supervisor = identityOf(process.pid) as ProcessIdentity;
    this.base = {
      name: claimed.name,
      supervisor,
      address: options.address,
      startedAt: new Date().toISOString(),
      argv: options.argv,
      cwd: options.cwd,
      env: options.env,
      ...(options.extraPidfile ? { extraPidfile: resolve(options.cwd, options.extraPidfile) } : {}),
    };
  }

  /** Where `start` was run: relative paths of its arguments mean paths there (an upgrade's new program reads them again). */
  get launchCwd(): string {
    return this.base.cwd;
  }

  /** The record first (it names the workers), so a pidfile never points at an unrecorded instance. */
  publish(): void {
    this.writeRecord();
    writeAtomically(this.claimed.paths.pidfile, `${process.pid}\n`);
    if (this.base.extraPidfile) writeAtomically(this.base.extraPidfile, `${process.pid}\n`);
  }

  /**
   * Kept current from the first spawn, so that even a supervisor killed during start-up leaves its workers
   * findable (at most RECORD_WRITE_EVERY_MS behind; a worker spawned meanwhile still holds a recorded socket,
   * which is how the next start finds it: socket-orphans.ts).
   */
  setWorkers(pids: readonly number[]): void {
    if (pids.length === this.pids.length && pids.every((pid, i) => pid === this.pids[i])) return;
    this.pids = [...pids];
    this.dirty = true;
    if (this.timer) return;
    const wait = this.lastWriteAt + RECORD_WRITE_EVERY_MS - this.now();
    if (wait <= 0) return this.writeRecord();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty && !this.removed) this.writeRecord();
    }, Math.ceil(wait));
    // A pending write never keeps the daemon alive: its exit removes the record anyway.
    this.timer.unref();
  }

  /** Writes a pending worker list now (the supervisor's phase changed: `stop` reads the record next). */
  flush(): void {
    if (this.dirty && !this.removed) this.writeRecord();
  }

  /** Every pool's name and address, so `-p`/`-s` find the instance that holds an address. */
  setPools(pools: readonly { readonly name: string; readonly address: string }[]): void {
    const same = pools.length === this.pools.length && pools.every((p, i) => p.name === this.pools[i]?.name && p.address === this.pools[i]?.address);
    if (same) return;
    this.pools = pools;
    this.writeRecord();
  }

  /** Every pool's socket inodes, kept current across reloads (see stopOrphans). */
  setSockets(inodes: readonly number[]): void {
    if (inodes.length === this.sockets.length && inodes.every((inode, i) => inode === this.sockets[i])) return;
    this.sockets = [...inodes];
    this.writeRecord();
  }

  remove(): void {
    this.removed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Remove only what still names us: a new instance may already have taken the name.
    removePidFileIfHolds(this.claimed.paths.pidfile, process.pid);
    if (this.base.extraPidfile) removePidFileIfHolds(this.base.extraPidfile, process.pid);
    const record = readRecord(this.claimed.paths.record);
    if (!record || record.supervisor.pid === process.pid) removeQuietly(this.claimed.paths.record);
  }

  /** The workers' identities: read for new pids only; a pid not yet readable (or already a zombie) is left out until the next write. */
  private workers(): ProcessIdentity[] {
    const current = new Set(this.pids);
    for (const pid of this.identities.keys()) if (!current.has(pid)) this.identities.delete(pid);
    const workers: ProcessIdentity[] = [];
    for (const pid of this.pids) {
      let identity = this.identities.get(pid);
      if (!identity) {
        identity = identityOf(pid);
        if (identity) this.identities.set(pid, identity);
      }
      if (identity) workers.push(identity);
    }
    return workers;
  }

  private writeRecord(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dirty = false;
    this.lastWriteAt = this.now();
    writeRecord(this.claimed.paths.record, { ...this.base, pools: this.pools, workers: this.workers(), sockets: this.sockets });
  }
}
