/**
 * The pool's decisions, as a pure function: reconcile(state, event, now) → { state, effects }.
 * An event is applied first; then every generation converges towards what the pool wants (N ready
 * workers while it runs, none once it stops), and the pool-level steps follow: start-up complete,
 * a reload's new generation ready (steer, drain the old), a drained or failed generation removed,
 * the supervisor done. `now` is a monotonic clock in milliseconds, passed in for table tests.
 */
import type { Event, SupervisorSignal } from './events.js';
import type { Effect } from './effects.js';
import { allReady, isEmpty, newGeneration, replaceSlot, startDraining, type Generation } from './generation.js';
import { replaceGeneration, type Lingering, type PoolState } from './pool-state.js';
import { beginReload, finishReloads, requestReload, rollback, scale } from './reload.js';
import { convergeGeneration, failStart, type Mode } from './converge.js';
import { applyDrainStatus } from './drain.js';
import { exited, failedStart, forgivenAt, label, notified, seenListening, spawned } from './slot-events.js';
import { hasProcess, type SlotWithProcess } from './slot.js';
import { MAX_WORKERS, type PoolPolicy } from './policy.js';
import { applyManagerEvent, manage, managerDeadline, startingGeneration } from './manager.js';

export type { BlockingMode, PoolPolicy } from './policy.js';

/** How often a group that outlived its leader is looked at again. */
export const LINGER_CHECK_MS = 20;
export { initialPoolState, servingGeneration, type PoolPhase, type PoolState, type Reload } from './pool-state.js';

export interface Reconciled {
  readonly state: PoolState;
  readonly effects: readonly Effect[];
}

export function reconcile(state: PoolState, event: Event, now: number): Reconciled {
  if (state.phase === 'stopped') return { state, effects: [] };
  const effects: Effect[] = [];
  const applied = watchLingering(apply(state, event, now, effects), now, effects);
  // The manager acts on the settled state (a pool that just became running), then its decisions converge.
  const converged = converge(applied, now, effects);
  const settled = settle(converged, now, effects);
  if (settled.phase !== 'running') return { state: settled, effects };
  const managed = manage(settled, now, effects);
  // No manager (a static pool) and no pool-level step: converging is idempotent, so a second pass would find
  // nothing to do, at the cost of a look at every slot on every event (issue 10).
  if (managed === settled && settled === converged) return { state: settled, effects };
  return { state: settle(converge(managed, now, effects), now, effects), effects };
}

/** The earliest moment at which the pool has something to do without any event, if any. */
export function nextDeadline(state: PoolState): number | undefined {
  let earliest: number | undefined;
  const consider = (at: number): void => {
    earliest = earliest === undefined ? at : Math.min(earliest, at);
  };
  for (const group of state.lingering) consider(Math.min(group.checkAt, group.killAt));
  const managed = managerDeadline(state);
  if (managed !== undefined) consider(managed);
  for (const generation of state.generations) {
    for (const slot of generation.slots) {
      if (slot.state === 'backoff' && state.phase !== 'stopping') consider(slot.until);
      if (slot.state === 'starting' && generation.phase !== 'draining' && generation.phase !== 'failing') {
        // Without /proc readiness there is nothing to probe: only the --start-secs deadline counts.
        consider(state.policy.procReadiness ? Math.min(slot.probeAt, slot.deadline) : slot.deadline);
      }
      if (slot.state === 'stopping' && !slot.killed) consider(slot.killAt);
      const forgiven = modeOf(state, generation) === 'run' ? forgivenAt(slot, state.policy) : undefined;
      if (forgiven !== undefined) consider(forgiven);
    }
    const waiting = generation.slots.some((slot) => slot.state === 'starting' || slot.state === 'ready');
    if (generation.phase === 'draining' && waiting && state.phase !== 'stopping') consider(Math.min(generation.probeAt, generation.drainDeadline));
  }
  return earliest;
}

function findPid(state: PoolState, pid: number): { generation: Generation; slot: SlotWithProcess } | undefined {
  // Every event of a worker asks: one pass, no copy of the slots.
  for (const generation of state.generations) {
    for (const slot of generation.slots) if (hasProcess(slot) && slot.pid === pid) return { generation, slot };
  }
  return undefined;
}

/** Failed starts are limited during start-up and for a reload's new generation; otherwise retried for ever. */
function retriesLimited(state: PoolState, generation: Generation): boolean {
  return state.phase === 'starting' || (state.reload?.newGeneration === generation.id && generation.phase === 'starting');
}

function apply(state: PoolState, event: Event, now: number, effects: Effect[]): PoolState {
  switch (event.type) {
    case 'start':
      return state.phase === 'idle' ? { ...state, phase: 'starting' } : state;
    case 'signal':
      return applySignal(state, event.signal, now, effects);
    case 'stop':
      return event.graceful ? quit(state, now, effects) : stopNow(state, 'stop requested', now, effects);
    case 'reload':
      return requestReload(withPolicy(state, event.policy), event.requestId, now, effects);
    case 'scale':
      return scale(withPolicy(state, event.policy), event.workers, event.requestId, now, effects);
    case 'generation-opened': {
      if (!state.generations.some((g) => g.id === event.generation && g.phase === 'opening')) return state;
      const fresh = { ...newGeneration(event.generation, 'starting', state.desiredWorkers), ...(event.shared ? { sharedSocket: true } : {}) };
      const started = startingGeneration(state, fresh);
      if (!event.shared) return replaceGeneration(started.state, started.generation);
      // The serving generation's socket is the new one's: it will be drained as a shared socket.
      const sharing = replaceGeneration(started.state, started.generation);
      return { ...sharing, generations: sharing.generations.map((g) => (g.phase === 'serving' ? { ...g, sharedSocket: true } : g)) };
    }
    case 'queue-waiting':
    case 'pool-sample':
      return applyManagerEvent(state, event, now, effects);
    case 'generation-failed':
      return rollback(state, event.generation, `could not open the new generation: ${event.reason}`, effects, true);
    case 'spawned': {
      const generation = state.generations.find((g) => g.id === event.generation);
      const slot = generation?.slots[event.slot];
      if (!generation || !slot || slot.state !== 'spawning') return state;
      effects.push({ type: 'set-blocking', blocking: state.blocking });
      return replaceGeneration(state, spawned(generation, slot, event.pid, state.policy, now, effects, event.notify === true));
    }
    case 'spawn-failed': {
      const generation = state.generations.find((g) => g.id === event.generation);
      const slot = generation?.slots[event.slot];
      if (!generation || !slot) return state;
      const result = failedStart(generation, slot, { code: null, signal: null }, `spawn failed: ${event.error}`, retriesLimited(state, generation), state.policy, now, effects);
      return afterFailedStart(replaceGeneration(state, result.generation), result.generation, slot.index, result.gaveUp, effects);
    }
    case 'exit': {
      const found = findPid(state, event.pid);
      if (!found) return state;
      effects.push({ type: 'set-blocking', blocking: state.blocking });
      const result = exited(found.generation, found.slot, event.status, retriesLimited(state, found.generation), state.policy, now, effects);
      return afterFailedStart(replaceGeneration(state, result.generation), result.generation, found.slot.index, result.gaveUp, effects);
    }
    case 'listening': {
      const found = findPid(state, event.pid);
      if (!found) return state;
      let next = replaceGeneration(state, seenListening(found.generation, found.slot, event.how, now, effects));
      // A worker that waits for the socket to be readable before accept() expects EAGAIN when another
      // took the connection: gunicorn's sync worker, left blocking, hung in accept() and was killed by
      // its master's --timeout after every reload (measured).
      if ((event.how === 'epoll' || event.how === 'poll') && state.blocking && state.policy.blockingMode === 'auto') {
        const waits = event.how === 'epoll' ? 'epoll_wait (an event-loop worker)' : 'poll/select';
        effects.push({ type: 'log', level: 'info', message: `worker ${event.pid} waits in ${waits}: socket set to non-blocking` });
        effects.push({ type: 'set-blocking', blocking: false });
        next = { ...next, blocking: false };
      }
      return next;
    }
    case 'notified': {
      const found = findPid(state, event.pid);
      if (!found) return state;
      // One look for the blocking mode, which readiness no longer asks /proc about: an event loop wants non-blocking.
      if (state.blocking && state.policy.blockingMode === 'auto' && state.policy.procReadiness && found.slot.state === 'starting') {
        effects.push({ type: 'probe', generation: found.generation.id, pid: event.pid });
      }
      return replaceGeneration(state, notified(found.generation, found.slot, now, effects));
    }
    case 'notify-failed': {
      const found = findPid(state, event.pid);
      if (!found || found.slot.state !== 'starting' || !found.slot.notify) return state;
      return replaceGeneration(state, replaceSlot(found.generation, failStart(found.generation, found.slot, event.reason, { now, effects })));
    }
    case 'notify-noise': {
      const found = findPid(state, event.pid);
      if (!found || found.slot.state !== 'starting') return state;
      // Quoted and cut: the worker wrote it, the log is ours.
      const line = JSON.stringify(event.line.length > 80 ? `${event.line.slice(0, 80)}…` : event.line);
      effects.push({ type: 'log', level: 'warn', message: `${label(found.generation, found.slot, event.pid)} wrote ${line} to its ready pipe: not READY=1, ignored`, fields: { pid: event.pid } });
      return state;
    }
    case 'drain-status': {
      const generation = state.generations.find((g) => g.id === event.generation);
      if (!generation || state.phase === 'stopping') return state;
      return replaceGeneration(state, applyDrainStatus(generation, event, { policy: state.policy, now, effects, strictStart: false }));
    }
    case 'group-lingers': {
      const known = state.lingering.find((group) => group.pgid === event.pgid);
      const group = known ? { ...known, checkAt: now + LINGER_CHECK_MS } : { pgid: event.pgid, checkAt: now + LINGER_CHECK_MS, killAt: now + state.policy.stopTimeoutMs };
      return { ...state, lingering: [...state.lingering.filter((g) => g.pgid !== event.pgid), group] };
    }
    case 'group-gone':
      return { ...state, lingering: state.lingering.filter((group) => group.pgid !== event.pgid) };
    case 'deadline':
      return state;
  }
}

/**
 * Groups that outlived their leader: looked at again every LINGER_CHECK_MS (a master's children are
 * usually gone within milliseconds, and nothing is said), SIGKILLed (and said) at the stop timeout.
 */
function watchLingering(state: PoolState, now: number, effects: Effect[]): PoolState {
  if (!state.lingering.some((group) => group.checkAt <= now || group.killAt <= now)) return state;
  const lingering: Lingering[] = [];
  for (const group of state.lingering) {
    if (group.killAt <= now) {
      effects.push({ type: 'reap-group', pgid: group.pgid, force: true });
    } else if (group.checkAt <= now) {
      effects.push({ type: 'reap-group', pgid: group.pgid });
      // Until the answer comes, only the kill deadline stands.
      lingering.push({ ...group, checkAt: group.killAt });
    } else {
      lingering.push(group);
    }
  }
  return { ...state, lingering };
}

/**
 * A reloaded configuration: its settings apply from now on; its worker count only when the file's
 * count changed, so that a `scale` survives a reload of an unchanged file.
 */
function withPolicy(state: PoolState, policy: PoolPolicy | undefined): PoolState {
  if (!policy) return state;
  const desiredWorkers = policy.workers !== state.policy.workers ? policy.workers : state.desiredWorkers;
  return { ...state, policy, desiredWorkers };
}

function afterFailedStart(state: PoolState, generation: Generation, slot: number, gaveUp: string | undefined, effects: Effect[]): PoolState {
  if (!gaveUp) return state;
  if (state.phase === 'starting') {
    return { ...state, phase: 'stopping', exitCode: 1, failure: gaveUp, failedSlot: slot };
  }
  return rollback(state, generation.id, gaveUp, effects, false, slot);
}

function applySignal(state: PoolState, signal: SupervisorSignal, now: number, effects: Effect[]): PoolState {
  switch (signal) {
    case 'SIGTERM':
    case 'SIGINT':
      return stopNow(state, signal, now, effects);
    case 'SIGQUIT':
      return quit(state, now, effects);
    case 'SIGHUP':
      return requestReload(state, undefined, now, effects);
    case 'SIGUSR1':
      effects.push({ type: 'reopen-logs' });
      return state;
    case 'SIGTTIN':
      if (state.desiredWorkers >= MAX_WORKERS) {
        effects.push({ type: 'log', level: 'warn', message: `SIGTTIN ignored: already ${state.desiredWorkers} workers, the most a pool may have` });
        return state;
      }
      return scale(state, state.desiredWorkers + 1, undefined, now, effects);
    case 'SIGTTOU':
      return scale(state, Math.max(1, state.desiredWorkers - 1), undefined, now, effects);
  }
}

function stopNow(state: PoolState, why: string, now: number, effects: Effect[]): PoolState {
  if (state.phase === 'stopping') {
    effects.push({ type: 'log', level: 'warn', message: `${why} again while stopping: killing every worker now` });
    return {
      ...state,
      generations: state.generations.map((g) => ({ ...g, slots: g.slots.map((slot) => (slot.state === 'stopping' ? { ...slot, killAt: Math.min(slot.killAt, now) } : slot)) })),
    };
  }
  effects.push({ type: 'log', level: 'info', message: `${why}: stopping every worker` });
  return finishReloads({ ...state, phase: 'stopping' }, false, 'the pool is stopping', effects, true);
}

function quit(state: PoolState, now: number, effects: Effect[]): PoolState {
  if (state.phase === 'quitting' || state.phase === 'stopping') return state;
  const unix = state.policy.unixSocket;
  // The path first (the runtime says whether it went: systemd's stays), then this line.
  if (unix) effects.push({ type: 'unlink-path' });
  effects.push({ type: 'log', level: 'info', message: `graceful stop: waiting for requests in flight (at most ${state.policy.gracefulTimeoutMs} ms)` });
  const { policy } = state;
  const generations = state.generations.map((g) =>
    g.phase === 'draining' ? g : g.phase === 'opening' ? { ...g, phase: 'failing' as const } : startDraining(g, now, unix, unix ? policy.steerGraceMs : 0, policy.gracefulTimeoutMs),
  );
  return finishReloads({ ...state, phase: 'quitting', generations }, false, 'the pool is stopping', effects, true);
}

function modeOf(state: PoolState, generation: Generation): Mode {
  if (state.phase === 'stopping' || generation.phase === 'failing') return 'stop';
  if (generation.phase === 'draining') return 'drain';
  if (generation.phase === 'opening' || state.phase === 'idle') return 'wait';
  return 'run';
}

function converge(state: PoolState, now: number, effects: Effect[]): PoolState {
  const generations = state.generations.map((generation) =>
    convergeGeneration(generation, modeOf(state, generation), {
      policy: state.policy,
      now,
      effects,
      strictStart: state.phase === 'starting' || generation.phase === 'starting',
    }),
  );
  return { ...state, generations };
}

/** Pool-level steps that follow from the generations' states. */
function settle(state: PoolState, now: number, effects: Effect[]): PoolState {
  let next = state;
  for (const generation of state.generations) {
    if (generation.phase === 'starting' && allReady(generation) && next.phase !== 'stopping' && next.phase !== 'quitting') next = promote(next, generation, now, effects);
    if ((generation.phase === 'draining' || generation.phase === 'failing' || next.phase === 'stopping') && isEmpty(generation) && generation.phase !== 'opening') {
      next = retire(next, generation, effects);
    }
  }
  if (next.reload && !next.generations.some((g) => g.phase === 'draining' || g.id === next.reload?.newGeneration && g.phase !== 'serving')) {
    effects.push({ type: 'log', level: 'info', message: `reload finished: generation ${next.reload.newGeneration} serving` });
    next = finishReloads(next, true, `reloaded: generation ${next.reload.newGeneration} serving`, effects);
  }
  if (!next.reload && next.pendingReload && next.phase === 'running') {
    const { pendingReload, ...rest } = next;
    next = beginReload(rest, pendingReload.requestIds, now, effects);
  }
  if ((next.phase === 'stopping' || next.phase === 'quitting') && next.generations.every(isEmpty) && next.lingering.length === 0) {
    effects.push({
      type: 'exit',
      code: next.exitCode,
      ...(next.failure ? { reason: next.failure } : {}),
      ...(next.failedSlot !== undefined ? { failedSlot: next.failedSlot } : {}),
    });
    next = { ...next, phase: 'stopped' };
  }
  return next;
}

function promote(state: PoolState, generation: Generation, now: number, effects: Effect[]): PoolState {
  if (state.phase === 'starting') {
    effects.push({ type: 'started' });
    return { ...replaceGeneration(state, { ...generation, phase: 'serving' }), phase: 'running' };
  }
  const { policy } = state;
  const shared = generation.sharedSocket === true;
  if (shared) {
    effects.push({ type: 'log', level: 'info', message: `reload: generation ${generation.id} ready on the same socket (systemd's); retiring each old worker (${policy.retireSignal}) once seen idle` });
  } else {
    effects.push({ type: 'steer', generation: generation.id });
    effects.push({ type: 'log', level: 'info', message: `reload: generation ${generation.id} ready, new connections go to it; draining the old` });
  }
  const generations = state.generations.map((g) =>
    g.id === generation.id ? { ...g, phase: 'serving' as const } : g.phase === 'serving' ? startDraining(g, now, true, shared ? 0 : policy.steerGraceMs, policy.gracefulTimeoutMs) : g,
  );
  return { ...state, generations };
}

function retire(state: PoolState, generation: Generation, effects: Effect[]): PoolState {
  if (state.phase === 'stopping' || state.phase === 'quitting') return state;
  effects.push({ type: 'close-socket', generation: generation.id });
  const next = { ...state, generations: state.generations.filter((g) => g.id !== generation.id) };
  if (generation.phase === 'failing') {
    const failedWorker = generation.failedSlot !== undefined ? { generation: generation.id, slot: generation.failedSlot } : undefined;
    return finishReloads(next, false, `reload failed: ${generation.failure ?? 'the new workers did not start'}; the old workers keep serving`, effects, false, failedWorker);
  }
  effects.push({ type: 'log', level: 'info', message: `generation ${generation.id} retired` });
  return next;
}
