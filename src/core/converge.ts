/**
 * Per generation, what closes the gap between what it has and what it wants: spawn into empty
 * slots and probe starting workers while it runs; stop everything when it stops or fails; let it
 * drain, then stop what is left at its deadline.
 */
import type { Effect } from './effects.js';
import { replaceSlot, type Generation } from './generation.js';
import type { PoolPolicy } from './policy.js';
import { forgive, label, FIRST_PROBE_MS } from './slot-events.js';
import { moveSlot, type Slot } from './slot.js';

/** Look every 5 ms for the first 50 ms (most workers are up by then), then back off to 100 ms. */
const FAST_PROBE_UNTIL_MS = 50;
const MAX_PROBE_EVERY_MS = 100;
export const DRAIN_PROBE_EVERY_MS = 20;

export type Mode = 'run' | 'stop' | 'drain' | 'wait';

export interface ConvergeContext {
  readonly policy: PoolPolicy;
  readonly now: number;
  readonly effects: Effect[];
  /** A worker not seen ready by its deadline failed to start (start-up, reload) rather than being counted ready. */
  readonly strictStart: boolean;
}

export function convergeGeneration(generation: Generation, mode: Mode, context: ConvergeContext): Generation {
  if (mode === 'wait') return generation;
  // The slots array is copied once, not once per moved slot: a look at 256 starting workers probes them all
  // (issue 10). A slot's move reads only the generation's id, never the other slots.
  let slots: Slot[] | undefined;
  generation.slots.forEach((slot, position) => {
    const moved = convergeSlot(generation, slot, mode, context);
    if (moved === slot) return;
    slots ??= [...generation.slots];
    slots[position] = moved;
  });
  const next = slots ? { ...generation, slots } : generation;
  return mode === 'drain' ? drainTimers(next, context) : next;
}

function convergeSlot(generation: Generation, slot: Slot, mode: Mode, context: ConvergeContext): Slot {
  if (slot.state === 'stopping') return escalate(generation, slot, context);
  if (mode === 'run') return run(generation, slot, context);
  if (slot.state === 'backoff') return moveSlot(slot, { state: 'empty' });
  if (mode === 'stop' && (slot.state === 'starting' || slot.state === 'ready')) return stop(generation, slot, context);
  return slot;
}

export function stop(generation: Generation, slot: Slot & { state: 'starting' | 'ready' }, context: ConvergeContext, signal = context.policy.stopSignal): Slot {
  const { policy, now, effects } = context;
  effects.push({ type: 'signal', pgid: slot.pid, signal });
  effects.push({ type: 'log', level: 'info', message: `${label(generation, slot, slot.pid)} ${slot.state}→stopping (${signal})`, fields: { pid: slot.pid } });
  return moveSlot(slot, { state: 'stopping', pid: slot.pid, startedAt: slot.startedAt, killAt: now + policy.stopTimeoutMs, killed: false });
}

function escalate(generation: Generation, slot: Slot & { state: 'stopping' }, context: ConvergeContext): Slot {
  if (slot.killed || slot.killAt > context.now) return slot;
  context.effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, slot.pid)} still running after the stop timeout: SIGKILL to its process group`, fields: { pid: slot.pid } });
  context.effects.push({ type: 'signal', pgid: slot.pid, signal: 'SIGKILL' });
  return { ...slot, killed: true };
}

function run(generation: Generation, slot: Slot, context: ConvergeContext): Slot {
  const { policy, now, effects } = context;
  if (slot.state === 'empty' || (slot.state === 'backoff' && slot.until <= now)) {
    effects.push({ type: 'spawn', generation: generation.id, slot: slot.index });
    return moveSlot(slot, { state: 'spawning' });
  }
  if (slot.state === 'ready') return forgive(generation, slot, context);
  if (slot.state !== 'starting') return slot;
  if (slot.deadline <= now) return startDeadlinePassed(generation, slot, context);
  if (slot.probeAt <= now && policy.procReadiness) {
    effects.push({ type: 'probe', generation: generation.id, pid: slot.pid });
    const probeEveryMs = now - slot.startedAt < FAST_PROBE_UNTIL_MS ? FIRST_PROBE_MS : Math.min(MAX_PROBE_EVERY_MS, Math.ceil(slot.probeEveryMs * 1.5));
    return { ...slot, probeAt: now + probeEveryMs, probeEveryMs };
  }
  return slot;
}

function startDeadlinePassed(generation: Generation, slot: Slot & { state: 'starting' }, context: ConvergeContext): Slot {
  const { policy, now, effects } = context;
  const { pid } = slot;
  // Only the worker can say it has warmed up: silence is a failed start, during start-up or not (retried with backoff).
  if (slot.notify) return failStart(generation, slot, `did not write READY=1 to its ready pipe (the fd FCGI_SPAWN_READY_FD names) within ${policy.startTimeoutMs} ms`, context);
  if (!policy.procReadiness) {
    effects.push({ type: 'log', level: 'info', message: `${label(generation, slot, pid)} starting→ready (up for ${policy.startSecsMs} ms; /proc cannot tell here)`, fields: { pid } });
    return moveSlot(slot, { state: 'ready', pid, startedAt: slot.startedAt, readyAt: now, how: 'timer' });
  }
  if (!context.strictStart) {
    // Under load a busy worker is never seen waiting: alive this long, it serves.
    effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} never seen waiting on the socket in ${policy.startTimeoutMs} ms: counted as ready`, fields: { pid } });
    return moveSlot(slot, { state: 'ready', pid, startedAt: slot.startedAt, readyAt: now, how: 'timer' });
  }
  return failStart(generation, slot, `was not waiting on the socket after ${policy.startTimeoutMs} ms`, context);
}

/** A starting worker that will not become ready: killed, and its exit counted as a failed start for `why`. */
export function failStart(generation: Generation, slot: Slot & { state: 'starting' }, why: string, context: Pick<ConvergeContext, 'now' | 'effects'>): Slot {
  const { now, effects } = context;
  const { pid } = slot;
  effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} ${why}: killing it`, fields: { pid } });
  effects.push({ type: 'signal', pgid: pid, signal: 'SIGKILL' });
  return moveSlot(slot, { state: 'stopping', pid, startedAt: slot.startedAt, killAt: now, killed: true, failedStart: why });
}

function drainTimers(generation: Generation, context: ConvergeContext): Generation {
  const { now, effects } = context;
  if (generation.drainDeadline <= now) {
    let next = generation;
    for (const slot of generation.slots) {
      if (slot.state !== 'starting' && slot.state !== 'ready') continue;
      effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, slot.pid)} still busy at the graceful timeout` });
      next = replaceSlot(next, stop(next, slot, context));
    }
    return next;
  }
  const waiting = generation.slots.some((slot) => slot.state === 'starting' || slot.state === 'ready');
  if (waiting && generation.probeAt <= now) {
    effects.push({ type: 'probe-drain', generation: generation.id });
    return { ...generation, probeAt: now + DRAIN_PROBE_EVERY_MS };
  }
  return generation;
}
