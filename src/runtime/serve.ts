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

/** After the workers exited, how long to wait for their pipes to end before their last lines are read. */
const OUTPUT_END_MS = 1000;

/** A pool bound by `start` before serving (so a bind failure ends start-up with its own exit code). */
export interface BoundPool {
  readonly config: PoolConfig;
  readonly socket: ListenSocket;
}

export interface ServeOptions {
  readonly configuration: Configuration;
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
  const reaper = new Reaper({ logger, isSpawned: isSpawnedChild });
  const model = new StatusModel();
  const outputs = await Promise.all(options.pools.map((pool) => logs.openWorkerOutput(pool.config)));
  const makePool = (bound: BoundPool, index: number) => (context: PoolContext) => new PoolRuntime(bound.config, bound.socket, outputs[index] as (typeof outputs)[number], context);
  let configuration = options.configuration;
  let phase: SupervisorState['phase'] | undefined;
  const supervisor: Supervisor = new Supervisor({
    configuration,
    procReadiness: options.procReadiness,
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
      followSupervisor(reaper, state, effects, (key) => supervisor.pool(key));
      // Not systemd's sockets: the next start must never take systemd for an orphan holding them (control/socket-orphans.ts).
      instance.setSockets(state.pools.flatMap((pool) => supervisor.pool(pool.key)?.sockets.all().filter((socket) => !socket.adopted).map((socket) => socket.inode) ?? []));
    },
  });
  let stats: StatsServer | undefined;
  const readStatus = (): InstanceStatus =>
    instanceStatus(supervisor.snapshot, (key) => supervisor.pool(key), {
      name: claimed.name,
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
    }
  };
  // Before anything else is opened: a stats address that cannot be bound ends start-up, with nothing to undo.
  stats = await options.openStats?.(readStatus);
  const watch = new WatchFollower((event) => supervisor.enqueue(event));
  await watch.follow(configuration);
  const control = await startControlServer(claimed.paths.control, handle);
  const unwire = wireSignals((signal) => supervisor.enqueue({ type: 'signal', signal }));
  logger.log('info', startingLine(configuration), { pid: process.pid, name: claimed.name });
  if (stats) logger.log('info', `stats: GET /metrics and /status on ${stats.address}`);
  try {
    reaper.start();
    supervisor.start();
    const exit = await supervisor.finished;
    // Before the sockets are gone from view: the last resort finds what still holds them by their inodes.
    await reaper.finish(Math.max(0, ...configuration.pools.map((pool) => pool.stopTimeoutMs)));
    waiters.failAll('the supervisor stopped');
    await logs.outputEnded(OUTPUT_END_MS);
    const said = exit.failedPool && exit.failedSlot !== undefined ? exit.failedPool.workers.lastStderrLine(1, exit.failedSlot) : undefined;
    return { exit, ...(said ? { lastStderrLine: said } : {}) };
  } finally {
    unwire();
    await watch.close();
    await stopControlServer(control, claimed.paths.control);
    await stats?.close();
    instance.remove();
  }
}
