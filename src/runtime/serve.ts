/**
 * Serving a bound pool until it stops: the supervisor, its signals, its control socket, its record
 * in the run directory and its systemd notifications — the same in the foreground and as a daemon.
 */
import { performance } from 'node:perf_hooks';
import type { StartConfig } from '../config/start-config.js';
import type { PoolPolicy, PoolState } from '../core/pool.js';
import type { Effect } from '../core/effects.js';
import { hasProcess } from '../core/slot.js';
import type { Logs } from '../log/setup.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { PoolSockets } from '../os/pool-sockets.js';
import type { Claimed, PublishedInstance } from '../control/instance.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { startControlServer, stopControlServer } from '../control/server.js';
import { Notifier } from '../control/notify.js';
import { Supervisor, type SupervisorExit } from './supervisor.js';
import { WorkerPool } from './worker-launcher.js';
import { wireSignals } from './signals.js';
import { instanceStatus } from './status.js';

/** After the workers exited, how long to wait for their pipes to end before their last lines are read. */
const OUTPUT_END_MS = 1000;

export interface ServeOptions {
  readonly config: StartConfig;
  readonly policy: PoolPolicy;
  readonly socket: ListenSocket;
  readonly unixOptions: { mode: number; uid?: number; gid?: number };
  readonly logs: Logs;
  readonly claimed: Claimed;
  readonly instance: PublishedInstance;
  /** Every slot ready: the pool serves. */
  readonly onReady: () => void;
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

function workerPids(state: PoolState): number[] {
  return state.generations.flatMap((generation) => generation.slots.filter(hasProcess).map((slot) => slot.pid));
}

/** systemd hears of readiness, reloads and the stop (Type=notify). */
function notifications(notifier: Notifier, effects: readonly Effect[], state: PoolState, stopping: { told: boolean }): void {
  const running = state.phase === 'running';
  for (const effect of effects) {
    if (effect.type === 'open-generation') notifier.reloading();
    // READY=1 again only once a reload that began is over, and never after STOPPING=1.
    if (effect.type === 'reload-finished' && running && !stopping.told && state.reload === undefined) notifier.status(effect.message);
  }
  if (!stopping.told && (state.phase === 'stopping' || state.phase === 'quitting')) {
    stopping.told = true;
    notifier.stopping();
  }
}

export async function servePool(options: ServeOptions): Promise<Served> {
  const { config, logs, socket, claimed, instance } = options;
  const { logger } = logs;
  const startedAt = performance.now();
  const sockets = new PoolSockets(socket, config.backlog, options.unixOptions);
  const workers = new WorkerPool(config, sockets, logs);
  const waiters = new RequestWaiters();
  const notifier = new Notifier(process.env.NOTIFY_SOCKET);
  const stopping = { told: false };
  const supervisor = new Supervisor({
    policy: options.policy,
    sockets,
    launcher: workers,
    logger,
    onStarted: () => {
      logger.log('info', `ready: ${config.workers} worker${config.workers === 1 ? '' : 's'} on ${socket.name}`, { pid: process.pid, address: socket.name, name: claimed.name });
      instance.publish();
      notifier.ready(`serving ${config.workers} worker(s) on ${socket.name}`);
      options.onReady();
    },
    onRequestDone: (ids, ok, message) => waiters.resolve(ids, ok, message),
    onDispatched: (state, effects) => {
      instance.setWorkers(workerPids(state));
      notifications(notifier, effects, state, stopping);
    },
  });
  const handle = async (request: ControlRequest): Promise<ControlResponse> => {
    switch (request.command) {
      case 'status': {
        const status = instanceStatus(supervisor.snapshot, sockets, { name: claimed.name, address: socket.name, backlog: config.backlog, startedAt, now: performance.now() });
        return { ok: true, message: status.phase, status };
      }
      case 'reload':
      case 'scale': {
        const { id, answer } = waiters.add();
        supervisor.enqueue(request.command === 'reload' ? { type: 'reload', requestId: id } : { type: 'scale', workers: request.workers, requestId: id });
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
  const control = await startControlServer(claimed.paths.control, handle);
  const unwire = wireSignals((signal) => supervisor.enqueue({ type: 'signal', signal }));
  logger.log('info', `listening on ${socket.name}: starting ${config.workers} × ${config.program}`, { pid: process.pid, backlog: config.backlog, blocking: socket.blocking, name: claimed.name });
  try {
    supervisor.start();
    const exit = await supervisor.finished;
    waiters.failAll('the pool stopped');
    sockets.closeAll();
    await logs.outputEnded(OUTPUT_END_MS);
    const said = exit.failedSlot !== undefined ? workers.lastStderrLine(1, exit.failedSlot) : undefined;
    return { exit, ...(said ? { lastStderrLine: said } : {}) };
  } finally {
    unwire();
    await stopControlServer(control, claimed.paths.control);
    instance.remove();
  }
}
