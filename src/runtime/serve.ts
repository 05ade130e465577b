/**
 * Serving an instance until it stops: the supervisor of its pools, its signals, its control socket,
 * its record in the run directory and its systemd notifications — the same in the foreground and as
 * a daemon.
 */
import { performance } from 'node:perf_hooks';
import type { Configuration, PoolConfig } from '../config/types.js';
import type { SupervisorEffect } from '../core/supervisor-events.js';
import type { SupervisorState } from '../core/supervisor.js';
import { hasProcess } from '../core/slot.js';
import type { Logs } from '../log/setup.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { formatAddress } from '../os/sockaddr.js';
import type { Claimed, PublishedInstance } from '../control/instance.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { startControlServer, stopControlServer } from '../control/server.js';
import { Notifier } from '../control/notify.js';
import { Supervisor, type SupervisorExit } from './supervisor.js';
import { PoolRuntime, type PoolContext } from './pool-runtime.js';
import { wireSignals } from './signals.js';
import { instanceStatus } from './status.js';
import { StatusModel } from '../status/model.js';
import type { StatsServer } from '../status/http-server.js';
import type { InstanceStatus } from '../status/types.js';
import { WatchFollower } from './watch-follower.js';
import { Reaper } from './reaper.js';
import { followSupervisor } from './pool-reaping.js';
import { isSpawnedChild } from './spawn.js';
import { supervisorHeapTrim } from './heap-trim.js';
import { Upgrader, type UpgradeStatus } from './upgrade.js';
import { adoptedSupervisorState, type AdoptedPool } from '../core/adopt.js';
import type { UpgradeState } from '../control/upgrade-state.js';
import type { WorkerPipes } from '../log/setup.js';

/** After the workers exited, how long to wait for their pipes to end before their last lines are read. */
const OUTPUT_END_MS = 1000;
/** The upgrade's answer is written before execve closes the control connection (a client that misses it still waits on status). */
const ANSWER_FLUSH_MS = 100;

/** A pool bound by `start` before serving (so a bind failure ends start-up with its own exit code). */
export interface BoundPool {
  readonly config: PoolConfig;
  readonly socket: ListenSocket;
}

/** What an in-place upgrade hands over (control/upgrade-state.ts), checked, and the workers' output pipes opened. */
export interface Adopted {
  readonly state: UpgradeState;
  readonly pools: ReadonlyMap<string, AdoptedPool>;
  /** By pid: the pipes of an adopted worker, to read into the worker log again. */
  readonly pipes: ReadonlyMap<number, WorkerPipes>;
}

export interface ServeOptions {
  readonly configuration: Configuration;
  /** This program's version (status shows it; an upgrade says from and to). */
  readonly version: string;
  /** Set when this program replaced the previous one in place: its pools are adopted, not started. */
  readonly adopted?: Adopted;
  readonly procReadiness: boolean;
  readonly pools: readonly BoundPool[];
  /** Binds an added pool's socket (a reload or update added it). */
  readonly bindPool: (config: PoolConfig) => ListenSocket;
  /** Reads the configuration again, as `start` did. */
  readonly loadConfiguration: () => Promise<Configuration>;
  readonly logs: Logs;
  readonly claimed: Claimed;
  readonly instance: PublishedInstance;
  /** Every pool serves. */
  readonly onReady: () => void;
  /** Starts the `stats` HTTP server (when configured) serving what `read` builds; rejects with the reason. */
  readonly openStats?: (read: () => InstanceStatus) => Promise<StatsServer>;
}

export interface Served {
  readonly exit: SupervisorExit;
  readonly lastStderrLine?: string;
}

class RequestWaiters {
  private next = 1;
  private readonly waiting = new Map<number, (response: ControlResponse) => void>();

  add(): { id: number; answer: Promise<ControlResponse> } {
    const id = this.next++;
    return { id, answer: new Promise((resolve) => this.waiting.set(id, resolve)) };
  }

  resolve(ids: readonly number[], ok: boolean, message: string): void {
    for (const id of ids) {
      this.waiting.get(id)?.(ok ? { ok: true, message } : { ok: false, message });
      this.waiting.delete(id);
    }
  }

  failAll(message: string): void {
    this.resolve([...this.waiting.keys()], false, message);
  }
}

function workerPids(state: SupervisorState): number[] {
  return state.pools.flatMap((pool) => pool.state.generations.flatMap((generation) => generation.slots.filter(hasProcess).map((slot) => slot.pid)));
}

function poolAddresses(state: SupervisorState): { name: string; address: string }[] {
  return state.pools.filter((pool) => !pool.removing).map((pool) => ({ name: pool.name, address: formatAddress(pool.config.address) }));
}

/** systemd hears of readiness, reloads and the stop (Type=notify). */
function notifications(notifier: Notifier, effects: readonly SupervisorEffect[], state: SupervisorState, stopping: { told: boolean }): void {
  for (const effect of effects) {
    if (effect.type === 'load-config' || (effect.type === 'pool' && effect.effect.type === 'open-generation')) notifier.reloading();
    // READY=1 again only once what began is over, and never after STOPPING=1.
    if (effect.type === 'request-done' && state.phase === 'running' && !stopping.told && !state.loading && state.outstanding.length === 0) notifier.status(effect.message);
  }
  if (!stopping.told && (state.phase === 'stopping' || state.phase === 'stopped')) {
    stopping.told = true;
    notifier.stopping();
  }
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** `listening on ADDRESS: starting N × PROGRAM` for one pool, as it always read; each pool named for several. */
function startingLine(configuration: Configuration): string {
  const [only, ...others] = configuration.pools;
  if (only && others.length === 0) return `listening on ${formatAddress(only.address)}: starting ${only.workers} × ${only.program}`;
  return `starting ${configuration.pools.length} pools: ${configuration.pools.map((pool) => `${pool.name} (${pool.workers} × ${pool.program} on ${formatAddress(pool.address)})`).join(', ')}`;
}

function readyLine(configuration: Configuration): string {
  const [only, ...others] = configuration.pools;
  if (only && others.length === 0) return `${plural(only.workers, 'worker')} on ${formatAddress(only.address)}`;
  return `${configuration.pools.length} pools: ${configuration.pools.map((pool) => `${pool.name} (${plural(pool.workers, 'worker')} on ${formatAddress(pool.address)})`).join(', ')}`;
}

export async function serveInstance(options: ServeOptions): Promise<Served> {
  const { logs, claimed, instance } = options;
  const { logger } = logs;
  const startedAt = performance.now();
  const waiters = new RequestWaiters();
  const notifier = new Notifier(process.env.NOTIFY_SOCKET);
  const stopping = { told: false };
  // Reaper (issue 9): what workers leave behind is adopted, stopped with its generation or the pool, reaped.
  const reaper = new Reaper({
    logger,
    isSpawned: isSpawnedChild,
    // A worker the previous program spawned: its exit reaches its pool as any worker's does.
    onWorkerExit: (pid, status) => {
      const pool = supervisor.snapshot.pools.find((entry) => entry.state.generations.some((g) => g.slots.some((slot) => hasProcess(slot) && slot.pid === pid)));
      if (pool) supervisor.enqueue({ type: 'pool', pool: pool.key, event: { type: 'exit', pid, status } });
    },
  });
  const { adopted } = options;
  const model = new StatusModel();
  // What a burst of respawns leaves in the heap is given back once it is over (heap-trim.ts).
  const heapTrim = supervisorHeapTrim();
  const outputs = await Promise.all(options.pools.map((pool) => logs.openWorkerOutput(pool.config)));
  const makePool = (bound: BoundPool, index: number) => (context: PoolContext) => {
    const taken = adopted?.pools.get(bound.config.name);
    const pool = new PoolRuntime(bound.config, bound.socket, outputs[index] as (typeof outputs)[number], context, taken?.generation);
    for (const worker of taken?.workers ?? []) pool.workers.adopt(taken?.generation as number, worker.slot, worker.pid, adopted?.pipes.get(worker.pid) ?? {});
    return pool;
  };
  let configuration = options.configuration;
  let phase: SupervisorState['phase'] | undefined;
  const supervisor: Supervisor = new Supervisor({
    configuration,
    procReadiness: options.procReadiness,
    ...(adopted ? { initialState: adoptedSupervisorState(options.configuration, options.procReadiness, adopted.pools, performance.now()) } : {}),
    pools: new Map(options.pools.map((bound, index) => [bound.config.name, makePool(bound, index)])),
    openPool: async (config, context) => {
      const output = await logs.openWorkerOutput(config);
      try {
        return new PoolRuntime(config, options.bindPool(config), output, context);
      } catch (error) {
        await output.release();
        throw error;
      }
    },
    loadConfiguration: options.loadConfiguration,
    logger,
    onStarted: () => {
      logger.log('info', `ready: ${readyLine(configuration)}`, { pid: process.pid, name: claimed.name });
      instance.publish();
      notifier.ready(`serving ${readyLine(configuration)}`);
      options.onReady();
    },
    onRequestDone: (ids, ok, message) => waiters.resolve(ids, ok, message),
    onPoolReleased: (pool) => void pool.output.release(),
    onConfigurationLoaded: (loaded) => {
      configuration = loaded;
      void watch.follow(loaded);
    },
    onReconciled: (before, event, after) => model.counters.count(before, event, after),
    onDispatched: (state, effects) => {
      instance.setWorkers(workerPids(state));
      // Coalesced while the supervisor runs (control/instance.ts); written at once when its phase changes.
      if (state.phase !== phase) instance.flush();
      phase = state.phase;
      instance.setPools(poolAddresses(state));
      notifications(notifier, effects, state, stopping);
      if (heapTrim && effects.some((effect) => effect.type === 'pool' && effect.effect.type === 'spawn')) heapTrim.spawned();
      followSupervisor(reaper, state, effects, (key) => supervisor.pool(key));
      // Not systemd's sockets: the next start must never take systemd for an orphan holding them (control/socket-orphans.ts).
      instance.setSockets(state.pools.flatMap((pool) => supervisor.pool(pool.key)?.sockets.all().filter((socket) => !socket.adopted).map((socket) => socket.inode) ?? []));
    },
  });
  let stats: StatsServer | undefined;
  let upgrade: UpgradeStatus | undefined = adopted
    ? { id: adopted.state.id, state: 'in-progress', from: adopted.state.from, to: options.version, at: adopted.state.requestedAt, message: 'reloading every pool' }
    : undefined;
  const readStatus = (): InstanceStatus =>
    instanceStatus(supervisor.snapshot, (key) => supervisor.pool(key), {
      name: claimed.name,
      version: options.version,
      ...(upgrade ? { upgrade } : {}),
      ...(configuration.supervisor.configFile !== undefined ? { configFile: configuration.supervisor.configFile } : {}),
      ...(stats ? { stats: stats.address } : {}),
      startedAt,
      now: performance.now(),
      model,
    });
  const handle = async (request: ControlRequest): Promise<ControlResponse> => {
    switch (request.command) {
      case 'status': {
        const status = readStatus();
        return { ok: true, message: status.phase, status };
      }
      case 'reload':
      case 'update':
      case 'scale': {
        const { id, answer } = waiters.add();
        if (request.command === 'reload') supervisor.enqueue({ type: 'reload', requestId: id, ...(request.pool !== undefined ? { pool: request.pool } : {}) });
        else if (request.command === 'update') supervisor.enqueue({ type: 'update', requestId: id });
        else supervisor.enqueue({ type: 'scale', workers: request.workers, requestId: id, ...(request.pool !== undefined ? { pool: request.pool } : {}) });
        return answer;
      }
      case 'stop':
        supervisor.enqueue({ type: 'stop', graceful: request.graceful });
        return { ok: true, message: request.graceful ? 'stopping gracefully' : 'stopping' };
      case 'reopen-logs':
        supervisor.enqueue({ type: 'signal', signal: 'SIGUSR1' });
        return { ok: true, message: 'reopening log files' };
      case 'upgrade':
        return upgradeNow(request.id);
    }
  };
  // The previous program's state and the checks of the new one; then, once the answer is on its way, execve.
  const upgradeNow = async (id?: string): Promise<ControlResponse> => {
    const checked = await upgrader.check(id);
    if (checked.kind !== 'ready') {
      logger.log('error', checked.message);
      return { ok: false, message: checked.message, ...(checked.kind === 'check' ? { refusal: 'check' as const } : {}) };
    }
    setTimeout(() => void upgrader.exec(checked.id, checked.to), ANSWER_FLUSH_MS);
    return { ok: true, message: `upgrading from ${options.version} to ${checked.to} in place (pid ${process.pid})`, upgrade: checked.id };
  };
  const upgrader = new Upgrader({
    logger,
    claimed,
    version: options.version,
    launchCwd: instance.launchCwd,
    state: () => supervisor.snapshot,
    pool: (key) => supervisor.pool(key),
    configuration: () => configuration,
    loadConfiguration: options.loadConfiguration,
    release: async () => {
      unwire();
      process.off('SIGUSR2', onUpgradeSignal);
      await watch.close();
      await stopControlServer(control, claimed.paths.control);
      await stats?.close();
      stats = undefined;
      await logger.close();
    },
    restore: async () => {
      control = await startControlServer(claimed.paths.control, handle);
      unwire = wireSignals((signal) => supervisor.enqueue({ type: 'signal', signal }));
      process.on('SIGUSR2', onUpgradeSignal);
    },
    // The log may be closed already (execve failed after it was flushed): stderr hears it too.
    failed: (status) => {
      upgrade = status;
      process.stderr.write(`fcgi-spawn: ${status.message}\n`);
    },
  });
  // SIGUSR2 (as nginx, gunicorn and php-fpm): the same upgrade, told only to the log.
  const onUpgradeSignal = (): void => void upgradeNow();
  /**
   * The adopted pools serve already: published at once, then every pool gets a new generation of this program's
   * workers and the adopted one is retired as by any reload. If that fails, the adopted workers keep serving.
   */
  const adoptionReload = (): void => {
    const state = adopted?.state as UpgradeState;
    logger.log('info', `upgraded in place from ${state.from} to ${options.version} (pid ${process.pid}): adopted ${state.pools.map((p) => `${p.name} generation ${p.generation} (${p.workers.length} workers)`).join(', ')}; reloading every pool`);
    instance.publish();
    options.onReady();
    const { id, answer } = waiters.add();
    void answer.then((response) => {
      upgrade = { ...(upgrade as UpgradeStatus), state: response.ok ? 'done' : 'failed', message: response.ok ? response.message : `${response.message}; the adopted workers keep serving` };
      logger.log(response.ok ? 'info' : 'error', `upgrade ${response.ok ? 'finished' : 'failed'}: ${upgrade.message}`);
    });
    supervisor.enqueue({ type: 'reload', requestId: id });
  };
  // Before anything else is opened: a stats address that cannot be bound ends start-up, with nothing to undo.
  stats = await options.openStats?.(readStatus);
  const watch = new WatchFollower((event) => supervisor.enqueue(event));
  await watch.follow(configuration);
  let control = await startControlServer(claimed.paths.control, handle);
  let unwire = wireSignals((signal) => supervisor.enqueue({ type: 'signal', signal }));
  process.on('SIGUSR2', onUpgradeSignal);
  if (!adopted) logger.log('info', startingLine(configuration), { pid: process.pid, name: claimed.name });
  if (stats) logger.log('info', `stats: GET /metrics and /status on ${stats.address}`);
  try {
    if (adopted) reaper.adoptWorkers([...adopted.pools.values()].flatMap((pool) => pool.workers.map((worker) => worker.pid)));
    reaper.start();
    if (adopted) adoptionReload();
    else supervisor.start();
    const exit = await supervisor.finished;
    // Before the sockets are gone from view: the last resort finds what still holds them by their inodes.
    await reaper.finish(Math.max(0, ...configuration.pools.map((pool) => pool.stopTimeoutMs)));
    waiters.failAll('the supervisor stopped');
    await logs.outputEnded(OUTPUT_END_MS);
    const said = exit.failedPool && exit.failedSlot !== undefined ? exit.failedPool.workers.lastStderrLine(1, exit.failedSlot) : undefined;
    return { exit, ...(said ? { lastStderrLine: said } : {}) };
  } finally {
    heapTrim?.stop();
    unwire();
    process.off('SIGUSR2', onUpgradeSignal);
    await watch.close();
    await stopControlServer(control, claimed.paths.control);
    await stats?.close();
    instance.remove();
  }
}
