/**
 * The process manager (pm dynamic and ondemand, recycling, request-timeout) as pure steps of the pool's reconcile:
 * what to do when the queue watch fires, when to look at /proc, when to arm the watch again. What a look shows is
 * applied in core/manager-look.ts.
 *
 * Noticing load costs nothing at rest: a connection that stays in the listen queue means every worker is busy, and
 * a readiness watch on the serving socket (runtime/queue-watch.ts) turns it into one 'queue-waiting' event. The
 * watch is re-armed only after acting (the workers started for it are ready, or a look came after it), since a
 * non-empty queue fires again at once. /proc is looked at, at most once a second, only while some worker was seen
 * busy, a spare is missing or too many are idle, an ondemand worker may time out, or a worker is due for recycling.
 */
import type { Effect } from './effects.js';
import type { Event } from './events.js';
import type { Generation } from './generation.js';
import { applyLook } from './manager-look.js';
import { initialManagerState, lifetimeOf, liveCount, LOOK_EVERY_MS, MAX_GROW_RATE, parkBeyond, unpark, watchesLoad, type ManagerState, type WorkerWatch } from './manager-state.js';
import type { ManagerPolicy } from './policy.js';
import { replaceGeneration, type PoolState } from './pool-state.js';

type ManagerEvent = Extract<Event, { type: 'queue-waiting' | 'pool-sample' }>;

function serving(state: PoolState): Generation | undefined {
  return state.phase === 'running' && !state.reload ? state.generations.find((g) => g.phase === 'serving') : undefined;
}

function managing(state: PoolState): { policy: ManagerPolicy; generation: Generation; manager: ManagerState } | undefined {
  const policy = state.policy.manager;
  const generation = serving(state);
  if (!policy || !generation) return undefined;
  return { policy, generation, manager: state.manager ?? initialManagerState() };
}

/** A new generation as the manager starts it: start-workers (or what a shrink through a generation left), the rest parked. */
export function startingGeneration(state: PoolState, generation: Generation): { state: PoolState; generation: Generation } {
  const policy = state.policy.manager;
  if (!policy || policy.pm === 'static') return { state, generation };
  const start = state.manager?.nextStart ?? policy.startWorkers;
  const manager = state.manager ? { ...state.manager, nextStart: undefined } : undefined;
  return { state: manager ? { ...state, manager } : state, generation: parkBeyond(generation, start) };
}

export function applyManagerEvent(state: PoolState, event: ManagerEvent, now: number, effects: Effect[]): PoolState {
  const found = managing(state);
  if (event.type === 'pool-sample') {
    const manager = { ...(state.manager ?? initialManagerState()), looking: false, sampleAt: undefined };
    if (!found || event.generation !== found.generation.id) return { ...state, manager };
    return applyLook({ ...state, manager }, found.generation, event.workers, now, effects);
  }
  if (!found) return state.manager ? { ...state, manager: { ...state.manager, watch: 'off' } } : state;
  const { policy, generation, manager } = found;
  const fired: ManagerState = { ...manager, watch: 'fired', firedAt: now, sampleAt: lookAt(manager, now) };
  if (event.generation !== generation.id) return { ...state, manager: { ...fired, watch: 'off' } };
  // Taken by a worker between the report and the read: no load to act on, only a look at who is busy.
  if (event.queue === 0) return { ...state, manager: fired };
  // Nor is a queue that the idle workers of a look less than a second old can take: a connection sits in the queue
  // for as long as a worker blocked in accept() takes to wake, and on a busy machine the read catches it there.
  // Measured (bench/pm.ts, retiring under load): at 6,000 instant requests a second, the watch fired within 50 ms of
  // every shrink with 1 waiting and 5 idle, and started the worker just retired, every second.
  if (event.queue !== null && idleTake(manager, event.queue, now)) return { ...state, manager: fired };
  const live = liveCount(generation, manager.recycling);
  const cap = state.desiredWorkers;
  const waiting = event.queue === null ? 'connections are' : `${event.queue} connection(s)`;
  if (policy.pm !== 'static' && live < cap) {
    // At once, not at the next tick as php-fpm does: as many as wait. Not the doubling rate: the watch fires again
    // as soon as the workers started are ready, so a rate doubled at each firing overshot (measured: 8 connections
    // of 50 ms requests grew a pool of 3 to all 16 within 0.2 s, where 8 busy + 2 spares were wanted). The rate
    // only when the queue's length is unknown.
    const count = Math.min(cap - live, Math.max(1, event.queue ?? manager.growRate));
    let next = generation;
    for (let i = 0; i < count; i += 1) next = unpark(next).generation;
    effects.push({ type: 'log', level: 'info', message: `${waiting} waiting in the listen queue: starting ${count} worker(s) (${live} → ${live + count} of ${cap})`, fields: { queue: event.queue } });
    const growRate = event.queue === null ? Math.min(MAX_GROW_RATE, manager.growRate * 2) : manager.growRate;
    return replaceGeneration({ ...state, manager: { ...fired, growRate, lastGrowAt: now } }, next);
  }
  if (manager.saturated) return { ...state, manager: fired };
  effects.push({ type: 'log', level: 'warn', message: `max workers reached (${cap}): ${waiting} waiting in the listen queue; consider raising workers`, fields: { queue: event.queue, workers: cap } });
  return { ...state, manager: { ...fired, saturated: true }, maxWorkersReached: state.maxWorkersReached + 1 };
}

/** Whether the idle workers the last look saw (less than a second ago, less those retired since) outnumber what waits. */
function idleTake(manager: ManagerState, queue: number, now: number): boolean {
  return manager.lastSampleAt !== undefined && now - manager.lastSampleAt < LOOK_EVERY_MS && manager.seenIdle >= queue;
}

/** request-timeout and max-rss pools at rest: a look this often (max-rss "at least every 5 s"). */
export const REST_LOOK_MS = 5000;

/** The next look: now, unless the last was less than a second ago. */
function lookAt(manager: ManagerState, now: number): number {
  const after = manager.lastSampleAt === undefined ? now : Math.max(now, manager.lastSampleAt + LOOK_EVERY_MS);
  return manager.sampleAt === undefined ? after : Math.min(manager.sampleAt, after);
}

/** Why the pool wants a /proc look without an event: a time, or undefined at rest. */
function wantedLook(policy: ManagerPolicy, generation: Generation, manager: ManagerState, cap: number, now: number): number | undefined {
  const ready = generation.slots.filter((slot) => slot.state === 'ready');
  if (ready.length === 0) return undefined;
  const starting = generation.slots.filter((slot) => slot.state === 'spawning' || slot.state === 'starting').length;
  const live = liveCount(generation, manager.recycling);
  const due = manager.workers.some((w) => w.dueAt !== undefined && w.dueAt <= now && !manager.recycling.some((r) => r.pid === w.pid));
  const never = manager.lastSampleAt === undefined;
  const busy = watchesLoad(policy) && manager.seenBusy > 0;
  const spares = policy.pm === 'dynamic' && ((manager.seenIdle + starting < policy.minSpare && live < cap) || manager.seenIdle > policy.maxSpare);
  // One look once the pool serves, so a pool that needs to know who is busy starts from what is.
  const first = never && watchesLoad(policy);
  if (due || busy || spares || first || manager.recycling.length > 0) return lookAt(manager, now);
  // A worker that starts a stuck request or grows is not an event, and an event-loop worker accepts before the
  // queue watch sees a connection wait: request-timeout and max-rss look every 5 s at rest (the only pools that do).
  const rest = policy.requestTimeoutMs !== undefined || policy.maxRss !== undefined ? (manager.lastSampleAt ?? now) + REST_LOOK_MS : undefined;
  if (policy.pm !== 'ondemand') return rest;
  // Every ondemand worker was idle: look again when the first of them would time out.
  const expiries = manager.workers.map((w) => (w.idleSince ?? now) + policy.idleTimeoutMs);
  return Math.max(lookAt(manager, now), Math.min(...expiries, rest ?? Infinity));
}

/** After every event: keep the worker watches, look at /proc when due, arm the queue watch when it may be. */
export function manage(state: PoolState, now: number, effects: Effect[]): PoolState {
  const found = managing(state);
  if (!found) return state;
  const { policy, generation } = found;
  let manager = found.manager;
  const workers: WorkerWatch[] = [];
  for (const slot of generation.slots) {
    if (slot.state !== 'ready') continue;
    const known = manager.workers.find((w) => w.pid === slot.pid);
    const lifetime = lifetimeOf(policy, slot.pid);
    workers.push(known ?? { pid: slot.pid, ...(lifetime !== undefined ? { dueAt: slot.startedAt + lifetime } : {}) });
  }
  const recycling = manager.recycling.filter((r) => generation.slots.some((slot) => slot.state === 'ready' && slot.pid === r.pid));
  manager = { ...manager, workers, recycling };
  const sampleAt = manager.sampleAt ?? wantedLook(policy, generation, manager, state.desiredWorkers, now);
  manager = { ...manager, sampleAt };
  if (sampleAt !== undefined && sampleAt <= now && !manager.looking && workers.length > 0) {
    effects.push({ type: 'sample', generation: generation.id, memory: policy.maxRss !== undefined });
    manager = { ...manager, looking: true, sampleAt: undefined };
  }
  return { ...state, manager: armWatch(policy, generation, manager, state.desiredWorkers, effects) };
}

function armWatch(policy: ManagerPolicy, generation: Generation, manager: ManagerState, cap: number, effects: Effect[]): ManagerState {
  if (!watchesLoad(policy)) return manager;
  const moved = manager.watchGeneration !== generation.id;
  const watch = moved ? 'off' : manager.watch;
  if (watch === 'armed') return manager;
  // A worker on its way takes what waits; armed before it is ready, a waiting connection would fire at once.
  if (generation.slots.some((slot) => slot.state === 'empty' || slot.state === 'spawning' || slot.state === 'starting')) return { ...manager, watch };
  // Acted: grew for the firing (and may grow more), or looked since. A firing that was no load (the queue taken, or
  // idle workers to take it) waits for the next look: re-armed at once, a steady stream of connections each caught
  // in the queue for a moment would fire it without end.
  const grewForIt = policy.pm !== 'static' && (manager.lastGrowAt ?? -1) >= (manager.firedAt ?? 0) && liveCount(generation, manager.recycling) < cap;
  const acted = watch === 'off' || grewForIt || (manager.lastSampleAt ?? -1) > (manager.firedAt ?? 0);
  if (!acted) return { ...manager, watch };
  effects.push({ type: 'watch-queue', generation: generation.id });
  return { ...manager, watch: 'armed', watchGeneration: generation.id };
}

/** When the manager has something to do without an event: its next look, a worker due for recycling. */
export function managerDeadline(state: PoolState): number | undefined {
  const manager = state.manager;
  const generation = serving(state);
  if (!manager || !generation || !state.policy.manager || manager.looking) return undefined;
  if (!generation.slots.some((slot) => slot.state === 'ready')) return undefined;
  const times = manager.workers.filter((w) => !manager.recycling.some((r) => r.pid === w.pid)).flatMap((w) => (w.dueAt !== undefined ? [w.dueAt] : []));
  if (manager.sampleAt !== undefined) times.push(manager.sampleAt);
  return times.length > 0 ? Math.min(...times) : undefined;
}
