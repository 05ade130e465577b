/**
 * What happens to one slot when its worker is spawned, is seen on the socket, or exits. The
 * generation's phase decides what an exit means: replaced at once (ready, serving), a failed start
 * with backoff (not yet ready), or simply gone (draining, failing, stopping).
 */
import { backoffDelay } from './backoff.js';
import { describeExit, type ExitStatus } from './events.js';
import type { Effect } from './effects.js';
import type { Generation } from './generation.js';
import { replaceSlot } from './generation.js';
import type { PoolPolicy } from './policy.js';
import { moveSlot, type Slot, type SlotWithProcess } from './slot.js';
import type { Listening } from '../os/proc.js';

export const FIRST_PROBE_MS = 5;

const READY_HOW: Readonly<Record<Listening, string>> = {
  accept: 'blocked in accept',
  epoll: 'socket in its epoll set',
  serving: 'serving a connection',
};

export function label(generation: Generation, slot: Slot, pid?: number): string {
  const who = pid === undefined ? `slot ${slot.index}` : `worker ${pid} (slot ${slot.index}`;
  return pid === undefined ? `${who} of generation ${generation.id}` : `${who}, generation ${generation.id})`;
}

export function spawned(generation: Generation, slot: Slot, pid: number, policy: PoolPolicy, now: number, effects: Effect[]): Generation {
  const deadline = now + (policy.procReadiness ? policy.startTimeoutMs : policy.startSecsMs);
  effects.push({ type: 'log', level: 'info', message: `${label(generation, slot, pid)} spawned`, fields: { pid } });
  return replaceSlot(
    generation,
    moveSlot(slot, { state: 'starting', pid, startedAt: now, probeAt: now + FIRST_PROBE_MS, probeEveryMs: FIRST_PROBE_MS, deadline }),
  );
}

export function seenListening(generation: Generation, slot: SlotWithProcess, how: Listening, now: number, effects: Effect[]): Generation {
  if (slot.state !== 'starting') return generation;
  effects.push({
    type: 'log',
    level: 'info',
    message: `${label(generation, slot, slot.pid)} starting→ready (${READY_HOW[how]})`,
    fields: { pid: slot.pid, after_ms: Math.round(now - slot.startedAt) },
  });
  return replaceSlot(generation, moveSlot(slot, { state: 'ready', pid: slot.pid, startedAt: slot.startedAt, how, failures: 0 }));
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
  const failures = slot.failures + 1;
  const fields = { pid, code: status.code, signal: status.signal, failures };
  if (generation.phase === 'draining' || generation.phase === 'failing') {
    return { generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', failures, lastExit: status })) };
  }
  if (retriesLimited && failures > policy.startRetries) {
    effects.push({ type: 'log', level: 'error', message: `${label(generation, slot, pid)} ${why}: giving up after ${failures} failed starts`, fields });
    return {
      generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', failures, lastExit: status })),
      gaveUp: `slot ${slot.index} failed to start ${failures} times; last: ${why}`,
    };
  }
  const delay = backoffDelay(failures);
  effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} ${why}: failed start ${failures}, retrying in ${delay} ms`, fields: { ...fields, backoff_ms: delay } });
  return { generation: replaceSlot(generation, moveSlot(slot, { state: 'backoff', until: now + delay, failures, lastExit: status })) };
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
    return { generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', lastExit: status })) };
  }
  // A ready worker ended (php-cgi recycling after PHP_FCGI_MAX_REQUESTS, a crash): replace it at once.
  effects.push({ type: 'log', level: 'warn', message: `${label(generation, slot, pid)} ready→exited (${describeExit(status)}): respawning`, fields });
  return { generation: replaceSlot(generation, moveSlot(slot, { state: 'empty', lastExit: status, restarts: slot.restarts + 1 })) };
}
