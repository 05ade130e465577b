/**
 * What one /proc look at the serving generation changes (core/manager.ts asks for it): the worker watches, a
 * request timeout, dynamic growth and shrinking, ondemand's idle timeout, recycling. A worker is retired only if
 * this very look saw it idle (signalled in the same dispatch, DESIGN.md "What a worker is doing"), with the
 * retire signal; a pool whose program cuts a request on every signal (retire-signal generation) retires through a
 * new generation of the size it wants instead, as a reload.
 *
 * request-timeout measures, per worker: how long it has been seen, at every look, busy holding the same
 * connections (the set of sockets its process group holds besides the listener) without any of its threads
 * waiting on its client (reading a connection) or in an event loop (epoll_wait). A worker serving many short
 * requests, on new connections or on one kept-alive connection, is between requests at most looks, waiting on its
 * client or in its event loop: the clock starts again each time.
 */
import { stop } from './converge.js';
import type { Effect } from './effects.js';
import type { WorkerSample } from './events.js';
import { replaceGeneration, type PoolState } from './pool-state.js';
import { replaceSlot, type Generation } from './generation.js';
import { liveCount, startingCount, unpark, type ManagerState, type WorkerWatch } from './manager-state.js';
import type { ManagerPolicy } from './policy.js';
import { requestReload } from './reload.js';
import { label } from './slot-events.js';
import { moveSlot, type Slot } from './slot.js';

interface Look {
  state: PoolState;
  generation: Generation;
  manager: ManagerState;
  readonly policy: ManagerPolicy;
  readonly now: number;
  readonly effects: Effect[];
  /** Retiring through a generation: the workers the next generation should start with, once. */
  reloadTo?: number;
}

function watched(previous: WorkerWatch | undefined, sample: WorkerSample, now: number): WorkerWatch {
  const base: WorkerWatch = { pid: sample.pid, ...(previous?.dueAt !== undefined ? { dueAt: previous.dueAt } : {}) };
  if (sample.activity !== 'busy') {
    // Idle at two looks with no context switch in between: it served nothing meanwhile.
    const still = previous?.idleSince !== undefined && previous.switches === sample.switches;
    return { ...base, idleSince: still ? previous.idleSince : now, switches: sample.switches };
  }
  if (sample.waitingOnClient) return base;
  const same = previous?.busySince !== undefined && previous.connections === sample.connections;
  return { ...base, busySince: same ? previous.busySince : now, connections: sample.connections };
}

function readySlot(generation: Generation, pid: number): (Slot & { state: 'ready' }) | undefined {
  return generation.slots.find((slot): slot is Slot & { state: 'ready' } => slot.state === 'ready' && slot.pid === pid);
}

/** Retire one worker seen idle in this look: the retire signal (the slot parks), or a smaller next generation. */
function retire(look: Look, pid: number, why: string, live: number): void {
  const slot = readySlot(look.generation, pid);
  if (!slot) return;
  if (look.policy.retireSignal === 'generation') {
    look.reloadTo = Math.min(look.reloadTo ?? live, live) - 1;
    return;
  }
  const { policy, now, effects } = look;
  effects.push({ type: 'signal', pgid: pid, signal: policy.retireSignal });
  effects.push({ type: 'log', level: 'info', message: `${label(look.generation, slot, pid)} ready→stopping (${policy.retireSignal}): ${why}`, fields: { pid } });
  const stopping = moveSlot(slot, { state: 'stopping', pid, startedAt: slot.startedAt, killAt: now + look.state.policy.stopTimeoutMs, killed: false, park: true });
  look.generation = replaceSlot(look.generation, stopping);
  // One idle worker fewer to take what waits until the next look (core/manager.ts, idleTake).
  look.manager = { ...look.manager, seenIdle: Math.max(0, look.manager.seenIdle - 1) };
}

function requestTimeouts(look: Look): void {
  const timeout = look.policy.requestTimeoutMs;
  if (timeout === undefined) return;
  for (const worker of look.manager.workers) {
    const slot = readySlot(look.generation, worker.pid);
    if (!slot || worker.busySince === undefined || look.now - worker.busySince < timeout) continue;
    const busyMs = Math.round(look.now - worker.busySince);
    look.effects.push({ type: 'report-stuck', pid: worker.pid, busyMs });
    look.generation = replaceSlot(look.generation, stop(look.generation, slot, { policy: look.state.policy, now: look.now, effects: look.effects, strictStart: false }));
    look.state = { ...look.state, requestTimeouts: look.state.requestTimeouts + 1 };
  }
}

function dynamic(look: Look, idle: readonly WorkerSample[], cap: number): void {
  const { policy, now, manager } = look;
  const live = liveCount(look.generation, manager.recycling);
  const spares = idle.length + startingCount(look.generation);
  if (spares < policy.minSpare && live < cap) {
    const count = Math.min(policy.minSpare - spares, manager.growRate, cap - live);
    for (let i = 0; i < count; i += 1) look.generation = unpark(look.generation).generation;
    look.effects.push({ type: 'log', level: 'info', message: `${spares} idle of min-spare ${policy.minSpare}: starting ${count} worker(s) (${live} → ${live + count})` });
    look.manager = { ...manager, growRate: Math.min(32, manager.growRate * 2), lastGrowAt: now };
    return;
  }
  look.manager = { ...manager, growRate: 1 };
  if (idle.length <= policy.maxSpare || (manager.lastShrinkAt !== undefined && now - manager.lastShrinkAt < 1000)) return;
  // The idle worker in the highest slot, so the pool stays packed at the front.
  const candidates = idle.map((s) => readySlot(look.generation, s.pid)).filter((slot) => slot !== undefined && !manager.recycling.some((r) => r.pid === slot.pid));
  const last = candidates.sort((a, b) => b!.index - a!.index)[0];
  if (!last) return;
  if (policy.retireSignal === 'generation') {
    // A reload a second would renew every worker each time: every spare above max-spare goes at once.
    look.reloadTo = live - (idle.length - policy.maxSpare);
    look.manager = { ...look.manager, lastShrinkAt: now };
    return;
  }
  retire(look, last.pid, `${idle.length} idle, above max-spare ${policy.maxSpare}`, live);
  look.manager = { ...look.manager, lastShrinkAt: now };
}

function ondemand(look: Look, idle: readonly WorkerSample[]): void {
  const { policy, now } = look;
  for (const sample of idle) {
    const since = look.manager.workers.find((w) => w.pid === sample.pid)?.idleSince;
    if (since === undefined || now - since < policy.idleTimeoutMs) continue;
    retire(look, sample.pid, `idle for ${Math.round(now - since)} ms (idle-timeout ${policy.idleTimeoutMs} ms)`, liveCount(look.generation, look.manager.recycling));
  }
}

/** max-lifetime and max-rss: the replacement first, then the old worker once the replacement is ready and it is seen idle. */
function recycle(look: Look, samples: readonly WorkerSample[]): void {
  const { policy, now } = look;
  for (const sample of samples) {
    if (look.manager.recycling.some((r) => r.pid === sample.pid)) continue;
    const dueAt = look.manager.workers.find((w) => w.pid === sample.pid)?.dueAt;
    const old = dueAt !== undefined && dueAt <= now ? `max-lifetime: up ${Math.round((now - (readySlot(look.generation, sample.pid)?.startedAt ?? now)) / 1000)} s` : undefined;
    const big = policy.maxRss !== undefined && sample.pss !== undefined && sample.pss > policy.maxRss ? `max-rss: PSS ${Math.round(sample.pss / 1024)} KiB above ${Math.round(policy.maxRss / 1024)} KiB` : undefined;
    const reason = old ?? big;
    if (!reason) continue;
    if (policy.retireSignal === 'generation') {
      look.reloadTo = look.reloadTo ?? liveCount(look.generation, look.manager.recycling);
      look.effects.push({ type: 'log', level: 'info', message: `worker ${sample.pid} ${reason}: recycling the pool through a new generation (retire-signal generation)`, fields: { pid: sample.pid } });
      return;
    }
    const added = unpark(look.generation);
    look.generation = added.generation;
    look.manager = { ...look.manager, recycling: [...look.manager.recycling, { pid: sample.pid, slot: added.slot, reason }] };
    look.effects.push({ type: 'log', level: 'info', message: `worker ${sample.pid} ${reason}: starting its replacement in slot ${added.slot}`, fields: { pid: sample.pid } });
  }
  for (const entry of look.manager.recycling) {
    const replacement = look.generation.slots[entry.slot];
    const sample = samples.find((s) => s.pid === entry.pid);
    if (replacement?.state !== 'ready' || !sample || sample.activity === 'busy') continue;
    retire(look, entry.pid, `recycled (${entry.reason}), its replacement ${replacement.pid} ready`, Infinity);
  }
}

export function applyLook(state: PoolState, generation: Generation, samples: readonly WorkerSample[], now: number, effects: Effect[]): PoolState {
  const policy = state.policy.manager;
  const manager = state.manager;
  if (!policy || !manager) return state;
  const workers = samples.map((sample) => watched(manager.workers.find((w) => w.pid === sample.pid), sample, now));
  const idle = samples.filter((s) => s.activity !== 'busy');
  const seen: ManagerState = {
    ...manager,
    workers: [...workers, ...manager.workers.filter((w) => !samples.some((s) => s.pid === w.pid))],
    lastSampleAt: now,
    seenBusy: samples.length - idle.length,
    seenIdle: idle.length,
    // An idle worker ends a max-workers-reached episode: the next one is counted again.
    saturated: manager.saturated && idle.length === 0,
  };
  const look: Look = { state, generation, manager: seen, policy, now, effects };
  requestTimeouts(look);
  recycle(look, samples);
  if (policy.pm === 'dynamic') dynamic(look, idle, state.desiredWorkers);
  if (policy.pm === 'ondemand') ondemand(look, idle);
  let next = replaceGeneration({ ...look.state, manager: look.manager }, look.generation);
  if (look.reloadTo !== undefined) {
    const start = Math.max(0, look.reloadTo);
    effects.push({ type: 'log', level: 'info', message: `retiring through a new generation of ${start} worker(s) (retire-signal generation)` });
    next = requestReload({ ...next, manager: { ...look.manager, nextStart: start } }, undefined, now, effects);
  }
  return next;
}
