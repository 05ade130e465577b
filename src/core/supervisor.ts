/**
 * The supervisor of pools, as a pure function: reconcileSupervisor(state, event, now) → { state,
 * effects }. Signals and commands become pool events (core/pool.ts decides each pool); a reload or an
 * update first loads the configuration, then becomes one command per pool (configuration-diff.ts);
 * what pools report back (started, finished a reload, exited) is gathered here: start-up completes
 * when every pool serves, a request is answered when every pool it concerned is done.
 */
import type { Effect } from './effects.js';
import type { Event } from './events.js';
import { nextDeadline as poolDeadline, reconcile } from './pool.js';
import { planChanges } from './configuration-diff.js';
import { poolPolicy } from './policy.js';
import type { PoolWorker, SupervisorEffect, SupervisorEvent } from './supervisor-events.js';
import { activePool, poolEntry, replacePool, type LoadRequest, type Outstanding, type SupervisorState } from './supervisor-state.js';

export { initialSupervisorState, activePool, type SupervisorState, type PoolEntry } from './supervisor-state.js';

export interface SupervisorReconciled {
  readonly state: SupervisorState;
  readonly effects: readonly SupervisorEffect[];
}

type Effects = SupervisorEffect[];

export function reconcileSupervisor(state: SupervisorState, event: SupervisorEvent, now: number): SupervisorReconciled {
  if (state.phase === 'stopped') return { state, effects: [] };
  const effects: Effects = [];
  return { state: settle(apply(state, event, now, effects), effects), effects };
}

export function nextSupervisorDeadline(state: SupervisorState): number | undefined {
  if (state.phase === 'stopped') return undefined;
  const deadlines = state.pools.map((pool) => poolDeadline(pool.state)).filter((at): at is number => at !== undefined);
  return deadlines.length > 0 ? Math.min(...deadlines) : undefined;
}

function apply(state: SupervisorState, event: SupervisorEvent, now: number, effects: Effects): SupervisorState {
  switch (event.type) {
    case 'start':
      if (state.phase !== 'idle') return state;
      return toEveryPool({ ...state, phase: 'starting' }, { type: 'start' }, now, effects);
    case 'signal':
      return applySignal(state, event.signal, now, effects);
    case 'stop':
      return stopAll(state, { type: 'stop', graceful: event.graceful }, now, effects);
    case 'reload':
      if (event.pool !== undefined && !activePool(state, event.pool)) return refuse(state, event.requestId, `no pool named '${event.pool}'`, effects);
      if (event.cause !== undefined) effects.push({ type: 'log', level: 'info', message: `${event.cause}: reloading pool ${event.pool ?? 'every pool'}` });
      return requestLoad(state, { kind: 'reload', ...(event.pool !== undefined ? { pool: event.pool } : {}), requestIds: ids(event.requestId) }, effects);
    case 'update':
      if (event.cause !== undefined) effects.push({ type: 'log', level: 'info', message: `${event.cause}: updating` });
      return requestLoad(state, { kind: 'update', requestIds: ids(event.requestId) }, effects);
    case 'warning':
      effects.push({ type: 'log', level: 'warn', message: event.message });
      return state;
    case 'scale':
      return scalePool(state, event.workers, event.pool, event.requestId, now, effects);
    case 'config-loaded':
      return configurationLoaded(state, event.configuration, now, effects);
    case 'config-failed': {
      const loading = state.loading;
      const { loading: _done, ...rest } = state;
      effects.push({ type: 'log', level: 'error', message: `configuration not loaded: ${event.reason}; nothing changed, the running pools keep serving` });
      if (loading) effects.push({ type: 'request-done', requestIds: loading.requestIds, ok: false, message: `configuration error: ${event.reason}` });
      return { ...rest, configError: event.reason };
    }
    case 'pool-opened':
      return poolOpened(state, event.pool, now, effects);
    case 'pool-open-failed': {
      const opening = state.opening.find((pool) => pool.key === event.pool);
      if (!opening) return state;
      effects.push({ type: 'log', level: 'error', message: `pool ${opening.config.name} not added: ${event.reason}` });
      return answerPool({ ...state, opening: state.opening.filter((pool) => pool.key !== event.pool) }, event.pool, false, `not added: ${event.reason}`, effects);
    }
    case 'pool':
      return toPool(state, event.pool, event.event, now, effects);
    case 'deadline':
      return toEveryPool(state, { type: 'deadline' }, now, effects);
  }
}

function ids(requestId: number | undefined): number[] {
  return requestId === undefined ? [] : [requestId];
}

function refuse(state: SupervisorState, requestId: number | undefined, message: string, effects: Effects): SupervisorState {
  effects.push({ type: 'request-done', requestIds: ids(requestId), ok: false, message });
  return state;
}

function applySignal(state: SupervisorState, signal: Parameters<typeof signalEvent>[0], now: number, effects: Effects): SupervisorState {
  switch (signal) {
    case 'SIGTERM':
    case 'SIGINT':
    case 'SIGQUIT':
      return stopAll(state, signalEvent(signal), now, effects);
    case 'SIGHUP':
      return requestLoad(state, { kind: 'reload', requestIds: [] }, effects);
    case 'SIGUSR1':
      effects.push({ type: 'reopen-logs' });
      return state;
    case 'SIGTTIN':
    case 'SIGTTOU': {
      const pools = state.pools.filter((pool) => !pool.removing);
      if (pools.length === 1 && pools[0]) return toPool(state, pools[0].key, signalEvent(signal), now, effects);
      effects.push({ type: 'log', level: 'warn', message: `${signal} ignored: ${pools.length} pools run; use 'fcgi-spawn scale N --pool NAME'` });
      return state;
    }
  }
}

function signalEvent(signal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT' | 'SIGHUP' | 'SIGUSR1' | 'SIGTTIN' | 'SIGTTOU'): Event {
  return { type: 'signal', signal };
}

function stopAll(state: SupervisorState, event: Event, now: number, effects: Effects): SupervisorState {
  let next: SupervisorState = { ...state, phase: 'stopping' };
  if (state.phase !== 'stopping') {
    const pending = [...(state.loading ? [state.loading] : []), ...state.queuedLoads];
    const requestIds = pending.flatMap((load) => load.requestIds);
    if (requestIds.length > 0) effects.push({ type: 'request-done', requestIds, ok: false, message: 'refused: the supervisor is stopping' });
    const { loading: _dropped, ...rest } = next;
    next = { ...rest, queuedLoads: [] };
  }
  return toEveryPool(next, event, now, effects);
}

function requestLoad(state: SupervisorState, load: LoadRequest, effects: Effects): SupervisorState {
  if (state.phase === 'stopping') return refuseLoad(state, load, effects);
  if (state.phase !== 'running' || state.loading) {
    effects.push({ type: 'log', level: 'info', message: `${load.kind} requested during another: it will follow` });
    const same = state.queuedLoads.find((queued) => queued.kind === load.kind && queued.pool === load.pool);
    const queuedLoads = same
      ? state.queuedLoads.map((queued) => (queued === same ? { ...queued, requestIds: [...queued.requestIds, ...load.requestIds] } : queued))
      : [...state.queuedLoads, load];
    return { ...state, queuedLoads };
  }
  effects.push({ type: 'log', level: 'info', message: `${load.kind}${load.pool !== undefined ? ` of pool ${load.pool}` : ''}: reading the configuration` });
  effects.push({ type: 'load-config' });
  return { ...state, loading: load };
}

function refuseLoad(state: SupervisorState, load: LoadRequest, effects: Effects): SupervisorState {
  effects.push({ type: 'request-done', requestIds: load.requestIds, ok: false, message: `${load.kind} refused: the supervisor is stopping` });
  return state;
}

function scalePool(state: SupervisorState, workers: number, name: string | undefined, requestId: number | undefined, now: number, effects: Effects): SupervisorState {
  const pools = state.pools.filter((pool) => !pool.removing);
  const pool = name !== undefined ? activePool(state, name) : pools.length === 1 ? pools[0] : undefined;
  if (!pool) {
    const why = name !== undefined ? `no pool named '${name}'` : `${pools.length} pools run: name one with --pool (${pools.map((p) => p.name).join(', ')})`;
    return refuse(state, requestId, `scale refused: ${why}`, effects);
  }
  const { state: tracked, ticket } = track(state, ids(requestId), [pool.key]);
  return toPool(tracked, pool.key, { type: 'scale', workers, requestId: ticket }, now, effects);
}

/** A request that waits for these pools; their answers come back under its ticket. */
function track(state: SupervisorState, requestIds: readonly number[], waiting: readonly string[]): { state: SupervisorState; ticket: number } {
  const ticket = state.nextTicket;
  const outstanding: Outstanding = { ticket, requestIds, waiting, done: [], failures: [], failedWorkers: [] };
  return { state: { ...state, nextTicket: ticket + 1, outstanding: [...state.outstanding, outstanding] }, ticket };
}

function configurationLoaded(state: SupervisorState, configuration: Parameters<typeof planChanges>[1], now: number, effects: Effects): SupervisorState {
  const load = state.loading;
  const { loading: _done, configError: _fixed, ...rest } = state;
  let next: SupervisorState = { ...rest };
  if (!load) return next;
  if (state.phase === 'stopping') return refuseLoad(next, load, effects);
  const plan = planChanges(state, configuration, load);
  if (plan.refused) {
    effects.push({ type: 'log', level: 'error', message: `${load.kind} refused: ${plan.refused}` });
    effects.push({ type: 'request-done', requestIds: load.requestIds, ok: false, message: plan.refused });
    return next;
  }
  const waiting = [...plan.reload, ...plan.scale, ...plan.add].map((change) => change.key);
  const tracked = track(next, load.requestIds, waiting);
  next = { ...tracked.state, outstanding: tracked.state.outstanding.map((o) => (o.ticket === tracked.ticket ? { ...o, done: plan.unchanged.length > 0 ? [`unchanged: ${plan.unchanged.join(', ')}`] : [] } : o)) };
  for (const removed of plan.remove) {
    const entry = next.pools.find((pool) => pool.key === removed.key);
    if (!entry) continue;
    effects.push({ type: 'log', level: 'info', message: `pool ${entry.name} removed from the configuration: stopping it gracefully` });
    next = toPool(replacePool(next, { ...entry, removing: true }), entry.key, { type: 'stop', graceful: true }, now, effects);
    next = noteDone(next, tracked.ticket, `${entry.name} removed`);
  }
  for (const change of [...plan.reload, ...plan.scale]) {
    const entry = next.pools.find((pool) => pool.key === change.key);
    if (!entry) continue;
    const policy = poolPolicy(change.config, state.procReadiness);
    effects.push({ type: 'configure-pool', pool: entry.key, config: change.config });
    next = replacePool(next, { ...entry, config: change.config });
    const event: Event = plan.scale.includes(change)
      ? { type: 'scale', workers: change.config.workers, requestId: tracked.ticket, policy }
      : { type: 'reload', requestId: tracked.ticket, policy };
    next = toPool(next, entry.key, event, now, effects);
  }
  for (const added of plan.add) {
    effects.push({ type: 'log', level: 'info', message: `pool ${added.config.name} added: binding ${added.config.name}'s socket` });
    effects.push({ type: 'open-pool', pool: added.key, config: added.config });
    next = { ...next, opening: [...next.opening, { key: added.key, config: added.config }] };
  }
  return next;
}

function noteDone(state: SupervisorState, ticket: number, what: string): SupervisorState {
  return { ...state, outstanding: state.outstanding.map((o) => (o.ticket === ticket ? { ...o, done: [...o.done, what] } : o)) };
}

function poolOpened(state: SupervisorState, key: string, now: number, effects: Effects): SupervisorState {
  const opening = state.opening.find((pool) => pool.key === key);
  if (!opening) return state;
  const next = { ...state, opening: state.opening.filter((pool) => pool.key !== key) };
  if (state.phase === 'stopping') {
    effects.push({ type: 'release-pool', pool: key });
    return answerPool(next, key, false, 'not started: the supervisor is stopping', effects);
  }
  const entry = poolEntry(key, opening.config, state.procReadiness);
  return toPool({ ...next, pools: [...next.pools, entry] }, key, { type: 'start' }, now, effects);
}

function toEveryPool(state: SupervisorState, event: Event, now: number, effects: Effects): SupervisorState {
  let next = state;
  for (const pool of state.pools) next = toPool(next, pool.key, event, now, effects);
  return next;
}

/** One pool decides (core/pool.ts); what it reports to the supervisor is gathered, the rest is for the runtime. */
function toPool(state: SupervisorState, key: string, event: Event, now: number, effects: Effects): SupervisorState {
  const entry = state.pools.find((pool) => pool.key === key);
  if (!entry) return state;
  const result = reconcile(entry.state, event, now);
  let next = replacePool(state, { ...entry, state: result.state });
  for (const effect of result.effects) next = poolEffect(next, entry.key, effect, now, effects);
  return next;
}

function poolEffect(state: SupervisorState, key: string, effect: Effect, now: number, effects: Effects): SupervisorState {
  switch (effect.type) {
    case 'started':
      return poolStarted(state, key, effects);
    case 'reload-finished':
      return answerTickets(state, key, effect.requestIds, effect.ok, effect.message, effects, effect.failedWorker ? { pool: key, ...effect.failedWorker } : undefined);
    case 'exit':
      return poolExited(state, key, effect, now, effects);
    case 'reopen-logs':
      effects.push({ type: 'reopen-logs' });
      return state;
    default:
      effects.push({ type: 'pool', pool: key, effect });
      return state;
  }
}

function poolStarted(state: SupervisorState, key: string, effects: Effects): SupervisorState {
  const entry = state.pools.find((pool) => pool.key === key);
  if (state.phase === 'running') return answerPool(state, key, true, `${entry?.name ?? key} added and serving`, effects);
  if (state.phase === 'starting' && state.pools.every((pool) => pool.state.phase === 'running')) {
    effects.push({ type: 'started' });
    return { ...state, phase: 'running' };
  }
  return state;
}

function poolExited(state: SupervisorState, key: string, effect: Extract<Effect, { type: 'exit' }>, now: number, effects: Effects): SupervisorState {
  const entry = state.pools.find((pool) => pool.key === key);
  if (!entry) return state;
  effects.push({ type: 'release-pool', pool: key });
  let next: SupervisorState = { ...state, pools: state.pools.filter((pool) => pool.key !== key) };
  const failed = effect.code !== 0;
  if (failed && state.phase === 'starting') {
    next = { ...next, exitCode: effect.code, failure: entry.name === 'default' ? (effect.reason ?? 'failed') : `pool ${entry.name}: ${effect.reason ?? 'failed'}`, failedPool: entry.name, ...(effect.failedSlot !== undefined ? { failedSlot: effect.failedSlot } : {}) };
    if (next.pools.length > 0) effects.push({ type: 'log', level: 'error', message: `pool ${entry.name} could not start: stopping the other pools` });
    return stopAll(next, { type: 'stop', graceful: false }, now, effects);
  }
  if (failed) {
    effects.push({ type: 'log', level: 'error', message: `pool ${entry.name} stopped: ${effect.reason ?? 'failed'}` });
    return answerPool(next, key, false, `did not start: ${effect.reason ?? 'failed'}`, effects);
  }
  return answerPool(next, key, true, 'stopped', effects);
}

/** Every request waiting for this pool hears its answer. */
function answerPool(state: SupervisorState, key: string, ok: boolean, message: string, effects: Effects): SupervisorState {
  const tickets = state.outstanding.filter((o) => o.waiting.includes(key)).map((o) => o.ticket);
  return answerTickets(state, key, tickets, ok, message, effects);
}

function answerTickets(state: SupervisorState, key: string, tickets: readonly number[], ok: boolean, message: string, effects: Effects, failedWorker?: PoolWorker): SupervisorState {
  const name = state.pools.find((pool) => pool.key === key)?.name ?? state.opening.find((pool) => pool.key === key)?.config.name ?? key.replace(/#\d+$/, '');
  const outstanding = state.outstanding.map((o) => {
    if (!tickets.includes(o.ticket) || !o.waiting.includes(key)) return o;
    // A single pool from flags (`default`) answers as it always did, unnamed.
    const said = name === 'default' ? message : `${name}: ${message}`;
    const failedWorkers = failedWorker ? [...o.failedWorkers, failedWorker] : o.failedWorkers;
    return { ...o, waiting: o.waiting.filter((waiting) => waiting !== key), failedWorkers, ...(ok ? { done: [...o.done, said] } : { failures: [...o.failures, said] }) };
  });
  return answerFinished({ ...state, outstanding }, effects);
}

function answerFinished(state: SupervisorState, effects: Effects): SupervisorState {
  for (const o of state.outstanding.filter((o) => o.waiting.length === 0)) {
    const ok = o.failures.length === 0;
    const message = ok ? (o.done.length > 0 ? o.done.join('; ') : 'nothing to change') : o.failures.join('; ');
    effects.push({ type: 'request-done', requestIds: o.requestIds, ok, message, ...(o.failedWorkers.length > 0 ? { failedWorkers: o.failedWorkers } : {}) });
  }
  return { ...state, outstanding: state.outstanding.filter((o) => o.waiting.length > 0) };
}

/** Steps that follow from the whole: the next queued load, the supervisor done. */
function settle(state: SupervisorState, effects: Effects): SupervisorState {
  let next = answerFinished(state, effects);
  if (next.phase === 'running' && !next.loading && next.queuedLoads.length > 0) {
    const [first, ...queuedLoads] = next.queuedLoads as [LoadRequest, ...LoadRequest[]];
    next = requestLoad({ ...next, queuedLoads }, first, effects);
  }
  if (next.phase !== 'idle' && next.pools.length === 0 && next.opening.length === 0) {
    const code = next.phase === 'stopping' ? next.exitCode : 1;
    const reason = next.phase === 'stopping' ? next.failure : 'no pool is left';
    effects.push({
      type: 'exit',
      code,
      ...(reason ? { reason } : {}),
      ...(next.failedPool !== undefined ? { failedPool: next.failedPool } : {}),
      ...(next.failedSlot !== undefined ? { failedSlot: next.failedSlot } : {}),
    });
    return { ...next, phase: 'stopped' };
  }
  return next;
}
