/**
 * What happens to one slot when its worker is spawned, is seen on the socket, or exits. The
 * generation's phase decides what an exit means: replaced at once (ready, serving), a failure with
 * backoff (not yet ready, or a crash within --start-secs of readiness), or simply gone (draining,
 * failing, stopping).
 */
import { backoffDelay } from './backoff.js';
import { describeExit, type ExitStatus } from './events.js';
import type { Effect } from './effects.js';
import type { Generation } from './generation.js';
import { replaceSlot } from './generation.js';
import type { PoolPolicy } from './policy.js';
import { moveSlot, type Slot, type SlotBase, type SlotWithProcess } from './slot.js';
import type { Listening } from '../os/worker-activity.js';

export const FIRST_PROBE_MS = 5;

const READY_HOW: Readonly<Record<Listening, string>> = {
  accept: 'blocked in accept',
  poll: 'in poll/select holding the socket',
  epoll: 'socket in its epoll set',
  serving: 'serving a connection',
};

export function label(generation: Generation, slot: Slot, pid?: number): string {
  const who = pid === undefined ? `slot ${slot.index}` : `worker ${pid} (slot ${slot.index}`;
  return pid === undefined ? `${who} of generation ${generation.id}` : `${who}, generation ${generation.id})`;
}

export function spawned(generation: Generation, slot: Slot, pid: number, policy: PoolPolicy, now: number, effects: Effect[], notify = false): Generation {
  // A worker that says when it is ready has --start-timeout to say it, whatever /proc can tell here.
  const deadline = now + (policy.procReadiness || notify ? policy.startTimeoutMs : policy.startSecsMs);
  effects.push({ type: 'log', level: 'info', message: `${label(generation, slot, pid)} spawned`, fields: { pid } });
  return replaceSlot(
    generation,
    moveSlot(slot, { state: 'starting', pid, startedAt: now, probeAt: now + FIRST_PROBE_MS, probeEveryMs: FIRST_PROBE_MS, deadline, ...(notify ? { notify } : {}) }),
  );
}

export function seenListening(generation: Generation, slot: SlotWithProcess, how: Listening, now: number, effects: Effect[]): Generation {
  // Listening is not ready for a worker that warms up before it says so (ready: notify).
  if (slot.state !== 'starting' || slot.notify) return generation;
  effects.push({
    type: 'log',
    level: 'info',
    message: `${label(generation, slot, slot.pid)} starting→ready (${READY_HOW[how]})`,
    fields: { pid: slot.pid, after_ms: Math.round(now - slot.startedAt) },
  });
  // Failures are not forgiven yet: a worker that crashes right after readiness keeps its count.
  return replaceSlot(generation, moveSlot(slot, { state: 'ready', pid: slot.pid, startedAt: slot.startedAt, readyAt: now, how }));
}

/** The worker wrote READY=1 to its ready pipe: ready, whatever /proc shows. */
export function notified(generation: Generation, slot: SlotWithProcess, now: number, effects: Effect[]): Generation {
  if (slot.state !== 'starting' || !slot.notify) return generation;
  effects.push({
    type: 'log',
    level: 'info',
    message: `${label(generation, slot, slot.pid)} starting→ready (READY=1 on its ready pipe)`,
    fields: { pid: slot.pid, after_ms: Math.round(now - slot.startedAt) },
  });
  return replaceSlot(generation, moveSlot(slot, { state: 'ready', pid: slot.pid, startedAt: slot.startedAt, readyAt: now, how: 'notify' }));
}

/** When a ready worker's earlier failures are forgiven (a deadline only while there are some). */
export function forgivenAt(slot: Slot, policy: PoolPolicy): number | undefined {
  return slot.state === 'ready' && slot.failures > 0 ? slot.readyAt + policy.startSecsMs : undefined;
}

/** A worker ready for --start-secs is past the crashes that follow a bad start: its slot starts counting again. */
export function forgive(generation: Generation, slot: Slot & { state: 'ready' }, context: { policy: PoolPolicy; now: number; effects: Effect[] }): Slot {
  const at = forgivenAt(slot, context.policy);
  if (at === undefined || at > context.now) return slot;
  context.effects.push({
    type: 'log',
    level: 'info',
    message: `${label(generation, slot, slot.pid)} ready for ${context.policy.startSecsMs} ms: ${slot.failures} earlier failure(s) forgiven`,
    fields: { pid: slot.pid },
  });
  return { ...slot, failures: 0 };
}

/** A signal or a non-zero status; status 0 is a recycle (php-cgi after PHP_FCGI_MAX_REQUESTS). */
function crashed(status: ExitStatus): boolean {
  return status.signal !== null || status.code !== 0;
}

export interface FailedStart {
  readonly generation: Generation;
  /** The slot used up its retries (only counted where giving up is possible). */
  readonly gaveUp?: string;
}

export function failedStart(
  generation: Generation,
  slot: Slot,
  status: ExitStatus,
  why: string,
  retriesLimited: boolean,
  policy: PoolPolicy,
  now: number,
  effects: Effect[],
  pid?: number,
): FailedStart {
  return countFailure(generation, slot, { status, why, kind: 'failed start', pid }, { retriesLimited, policy, now, effects });
}

interface Failure {
  readonly status: ExitStatus;
  readonly why: string;
  /** How the log counts it. */
  readonly kind: 'failed start' | 'early crash';
  readonly pid?: number | undefined;
  /** Counters changed by the exit itself (a ready worker replaced is a restart). */
  readonly counters?: Partial<SlotBase>;
}

interface FailureContext {
  readonly retriesLimited: boolean;
  readonly policy: PoolPolicy;
  readonly now: number;
  readonly effects: Effect[];
}

/** One more failure of the slot: the same backoff (and, where limited, the same give-up) for every kind. */
function countFailure(generation: Generation, slot: Slot, failure: Failure, context: FailureContext): FailedStart {
  const { status, why, kind, pid } = failure;
  const { policy, now, effects } = context;
  const failures = slot.failures + 1;
  const next = { ...failure.counters, failures, lastExit: status };
  const fields = { pid, code: status.code, signal: status.signal, failures };
  if (generation.phase === 'draining' || generation.phase === 'failing') {
    return { generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', ...next })) };
  }
  if (context.retriesLimited && failures > policy.startRetries) {
    effects.push({ type: 'log', level: 'error', message: `${label(generation, slot, pid)} ${why}: giving up after ${failures} failures`, fields });
    return {
      generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', ...next })),
      gaveUp: `slot ${slot.index} failed to start ${failures} times; last: ${why}`,
    };
  }
  const delay = backoffDelay(failures);
  effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} ${why}: ${kind} ${failures}, retrying in ${delay} ms`, fields: { ...fields, backoff_ms: delay } });
  return { generation: replaceSlot(generation, moveSlot(slot, { state: 'backoff', until: now + delay, ...next })) };
}

export function exited(
  generation: Generation,
  slot: SlotWithProcess,
  status: ExitStatus,
  retriesLimited: boolean,
  policy: PoolPolicy,
  now: number,
  effects: Effect[],
): FailedStart {
  const { pid } = slot;
  const fields = { pid, code: status.code, signal: status.signal, uptime_ms: Math.round(now - slot.startedAt) };
  effects.push({ type: 'reap-group', pgid: pid, signal: policy.stopSignal });
  if (slot.state === 'starting') {
    return failedStart(generation, slot, status, `exited before it was ready (${describeExit(status)})`, retriesLimited, policy, now, effects, pid);
  }
  if (slot.state === 'stopping' && slot.failedStart) {
    return failedStart(generation, slot, status, slot.failedStart, retriesLimited, policy, now, effects, pid);
  }
  const gone = generation.phase === 'draining' || generation.phase === 'failing' || slot.state === 'stopping';
  if (gone) {
    effects.push({ type: 'log', level: 'info', message: `${label(generation, slot, pid)} ${slot.state}→exited (${describeExit(status)})`, fields });
    const state = slot.state === 'stopping' && slot.park ? 'parked' : 'empty';
    return { generation: replaceSlot(generation, moveSlot(slot, { state, lastExit: status })) };
  }
  const readyMs = Math.round(now - slot.readyAt);
  if (crashed(status) && readyMs < policy.startSecsMs) {
    // Respawned at once, a worker that crashes right after readiness made 222 spawns in 6 s (-F 2).
    const why = `ready→exited (${describeExit(status)}) ${readyMs} ms after it became ready`;
    const counters = { restarts: slot.restarts + 1 };
    return countFailure(generation, slot, { status, why, kind: 'early crash', pid, counters }, { retriesLimited, policy, now, effects });
  }
  // A ready worker ended (php-cgi recycling after PHP_FCGI_MAX_REQUESTS, a crash after --start-secs): replace it at once.
  effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} ready→exited (${describeExit(status)}): respawning`, fields });
  return { generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', lastExit: status, restarts: slot.restarts + 1 })) };
}
