/**
 * The pool's decisions, as a pure function: reconcile(state, event, now) → { state, effects }.
 * An event is applied first; then converge() compares what the pool wants (N ready workers while
 * it runs, none once it stops) with what it has and emits the effects that close the gap.
 * `now` is a monotonic clock in milliseconds, passed in so that tables of events can test it.
 */
import { backoffDelay } from './backoff.js';
import { describeExit, type Event, type ExitStatus } from './events.js';
import type { Effect } from './effects.js';
import { emptySlot, hasProcess, isOccupied, moveSlot, type Slot, type SlotWithProcess } from './slot.js';
import type { Listening } from '../os/proc.js';

export type BlockingMode = 'auto' | 'blocking' | 'nonblocking';

export interface PoolPolicy {
  readonly workers: number;
  /** Failed starts a slot may retry during start-up before the pool gives up. */
  readonly startRetries: number;
  /** Readiness fallback where /proc cannot tell: alive this long counts as ready. */
  readonly startSecsMs: number;
  /** A worker /proc never saw waiting on the socket by then did not start. */
  readonly startTimeoutMs: number;
  readonly procReadiness: boolean;
  readonly stopSignal: string;
  readonly stopTimeoutMs: number;
  readonly blockingMode: BlockingMode;
}

export type PoolPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface PoolState {
  readonly phase: PoolPhase;
  readonly policy: PoolPolicy;
  readonly slots: readonly Slot[];
  /** The socket mode the pool wants (DESIGN.md "Blocking mode"). */
  readonly blocking: boolean;
  readonly exitCode: number;
  readonly failure?: string;
}

export interface Reconciled {
  readonly state: PoolState;
  readonly effects: readonly Effect[];
}

const FIRST_PROBE_MS = 5;
/** Look every 5 ms for the first 50 ms (most workers are up by then), then back off to 100 ms. */
const FAST_PROBE_UNTIL_MS = 50;
const MAX_PROBE_EVERY_MS = 100;

const READY_HOW: Readonly<Record<Listening, string>> = {
  accept: 'blocked in accept',
  epoll: 'socket in its epoll set',
  serving: 'serving a connection',
};

export function initialPoolState(policy: PoolPolicy): PoolState {
  return {
    phase: 'idle',
    policy,
    slots: Array.from({ length: policy.workers }, (_, index) => emptySlot(index)),
    blocking: policy.blockingMode !== 'nonblocking',
    exitCode: 0,
  };
}

export function reconcile(state: PoolState, event: Event, now: number): Reconciled {
  if (state.phase === 'stopped') return { state, effects: [] };
  const effects: Effect[] = [];
  const applied = apply(state, event, now, effects);
  const converged = converge(applied, now, effects);
  return { state: converged, effects };
}

/** The earliest moment at which the pool has something to do without any event, if any. */
export function nextDeadline(state: PoolState): number | undefined {
  let earliest: number | undefined;
  const consider = (at: number): void => {
    earliest = earliest === undefined ? at : Math.min(earliest, at);
  };
  for (const slot of state.slots) {
    if (slot.state === 'backoff') consider(slot.until);
    if (slot.state === 'starting') consider(Math.min(slot.probeAt, slot.deadline));
    if (slot.state === 'stopping' && !slot.killed) consider(slot.killAt);
  }
  return earliest;
}

function replaceSlot(state: PoolState, slot: Slot): PoolState {
  return { ...state, slots: state.slots.map((s) => (s.index === slot.index ? slot : s)) };
}

function slotOfPid(state: PoolState, pid: number): SlotWithProcess | undefined {
  return state.slots.filter(hasProcess).find((slot) => slot.pid === pid);
}

function apply(state: PoolState, event: Event, now: number, effects: Effect[]): PoolState {
  switch (event.type) {
    case 'start':
      return state.phase === 'idle' ? { ...state, phase: 'starting' } : state;
    case 'signal':
      return applySignal(state, event.signal, now, effects);
    case 'spawned':
      return applySpawned(state, event.slot, event.pid, now, effects);
    case 'spawn-failed':
      return failedStart(state, event.slot, { code: null, signal: null }, `spawn failed: ${event.error}`, now, effects);
    case 'exit':
      return applyExit(state, event.pid, event.status, now, effects);
    case 'listening':
      return applyListening(state, event.pid, event.how, now, effects);
    case 'deadline':
      return state;
  }
}

function applySignal(state: PoolState, signal: string, now: number, effects: Effect[]): PoolState {
  switch (signal) {
    case 'SIGTERM':
    case 'SIGINT':
    case 'SIGQUIT':
      if (state.phase === 'stopping') {
        effects.push({ type: 'log', level: 'warn', message: `${signal} again while stopping: killing every worker now` });
        return { ...state, slots: state.slots.map((slot) => (slot.state === 'stopping' ? { ...slot, killAt: now } : slot)) };
      }
      effects.push({ type: 'log', level: 'info', message: `${signal}: stopping every worker` });
      return { ...state, phase: 'stopping' };
    case 'SIGUSR1':
      effects.push({ type: 'reopen-logs' });
      return state;
    default:
      effects.push({ type: 'log', level: 'warn', message: `${signal} is not handled yet: ignored` });
      return state;
  }
}

function applySpawned(state: PoolState, index: number, pid: number, now: number, effects: Effect[]): PoolState {
  const slot = state.slots[index];
  if (!slot || slot.state !== 'spawning') return state;
  const deadline = now + (state.policy.procReadiness ? state.policy.startTimeoutMs : state.policy.startSecsMs);
  effects.push({ type: 'log', level: 'info', message: `worker ${pid} (slot ${index}) spawned`, fields: { pid, slot: index } });
  effects.push({ type: 'set-blocking', blocking: state.blocking });
  return replaceSlot(
    state,
    moveSlot(slot, { state: 'starting', pid, startedAt: now, probeAt: now + FIRST_PROBE_MS, probeEveryMs: FIRST_PROBE_MS, deadline }),
  );
}

function applyListening(state: PoolState, pid: number, how: Listening, now: number, effects: Effect[]): PoolState {
  const slot = slotOfPid(state, pid);
  if (!slot || slot.state !== 'starting') return state;
  effects.push({
    type: 'log',
    level: 'info',
    message: `worker ${pid} (slot ${slot.index}) starting→ready (${READY_HOW[how]})`,
    fields: { pid, slot: slot.index, after_ms: Math.round(now - slot.startedAt) },
  });
  let next = replaceSlot(state, moveSlot(slot, { state: 'ready', pid, startedAt: slot.startedAt, how, failures: 0 }));
  if (how === 'epoll' && state.blocking && state.policy.blockingMode === 'auto') {
    effects.push({ type: 'log', level: 'info', message: `worker ${pid} waits in epoll_wait (an event-loop worker): socket set to non-blocking` });
    effects.push({ type: 'set-blocking', blocking: false });
    next = { ...next, blocking: false };
  }
  return next;
}

function applyExit(state: PoolState, pid: number, status: ExitStatus, now: number, effects: Effect[]): PoolState {
  const slot = slotOfPid(state, pid);
  if (!slot) return state;
  effects.push({ type: 'reap-group', pgid: pid });
  effects.push({ type: 'set-blocking', blocking: state.blocking });
  const fields = { pid, slot: slot.index, code: status.code, signal: status.signal, uptime_ms: Math.round(now - slot.startedAt) };
  if (slot.state === 'starting') {
    return failedStart(state, slot.index, status, `exited before it was ready (${describeExit(status)})`, now, effects, pid);
  }
  if (slot.state === 'stopping' && slot.failedStart) {
    return failedStart(state, slot.index, status, slot.failedStart, now, effects, pid);
  }
  if (slot.state === 'stopping') {
    effects.push({ type: 'log', level: 'info', message: `worker ${pid} (slot ${slot.index}) stopping→exited (${describeExit(status)})`, fields });
    return replaceSlot(state, moveSlot(slot, { state: 'empty', lastExit: status }));
  }
  // A ready worker ended (php-cgi recycling after PHP_FCGI_MAX_REQUESTS, a crash): replace it at once.
  effects.push({ type: 'log', level: 'warn', message: `worker ${pid} (slot ${slot.index}) ready→exited (${describeExit(status)}): respawning`, fields });
  return replaceSlot(state, moveSlot(slot, { state: 'empty', lastExit: status, restarts: slot.restarts + 1 }));
}

function failedStart(
  state: PoolState,
  index: number,
  status: ExitStatus,
  why: string,
  now: number,
  effects: Effect[],
  pid?: number,
): PoolState {
  const slot = state.slots[index];
  if (!slot) return state;
  const failures = slot.failures + 1;
  const who = pid === undefined ? `slot ${index}` : `worker ${pid} (slot ${index})`;
  const fields = { slot: index, pid, code: status.code, signal: status.signal, failures };
  if (state.phase === 'starting' && failures > state.policy.startRetries) {
    effects.push({ type: 'log', level: 'error', message: `${who} ${why}: giving up after ${failures} failed starts`, fields });
    const failure = `slot ${index} failed to start ${failures} times; last: ${why}`;
    const stopped = replaceSlot(state, moveSlot(slot, { state: 'empty', failures, lastExit: status }));
    return { ...stopped, phase: 'stopping', exitCode: 1, failure };
  }
  if (state.phase === 'stopping') {
    return replaceSlot(state, moveSlot(slot, { state: 'empty', failures, lastExit: status }));
  }
  const delay = backoffDelay(failures);
  effects.push({ type: 'log', level: 'warn', message: `${who} ${why}: failed start ${failures}, retrying in ${delay} ms`, fields: { ...fields, backoff_ms: delay } });
  return replaceSlot(state, moveSlot(slot, { state: 'backoff', until: now + delay, failures, lastExit: status }));
}

function converge(state: PoolState, now: number, effects: Effect[]): PoolState {
  let next = state;
  for (const slot of state.slots) {
    const moved = next.phase === 'stopping' ? convergeStopping(next, slot, now, effects) : convergeRunning(next, slot, now, effects);
    if (moved !== slot) next = replaceSlot(next, moved);
  }
  if (next.phase === 'starting' && next.slots.every((slot) => slot.state === 'ready')) {
    effects.push({ type: 'started' });
    next = { ...next, phase: 'running' };
  }
  if (next.phase === 'stopping' && !next.slots.some(isOccupied)) {
    effects.push({ type: 'exit', code: next.exitCode, ...(next.failure ? { reason: next.failure } : {}) });
    next = { ...next, phase: 'stopped' };
  }
  return next;
}

function convergeRunning(state: PoolState, slot: Slot, now: number, effects: Effect[]): Slot {
  if (state.phase === 'idle') return slot;
  if (slot.state === 'empty' || (slot.state === 'backoff' && slot.until <= now)) {
    effects.push({ type: 'spawn', slot: slot.index });
    return moveSlot(slot, { state: 'spawning' });
  }
  if (slot.state !== 'starting') return slot;
  if (slot.deadline <= now) return startDeadlinePassed(state, slot, now, effects);
  if (slot.probeAt <= now && state.policy.procReadiness) {
    effects.push({ type: 'probe', pid: slot.pid });
    const probeEveryMs = now - slot.startedAt < FAST_PROBE_UNTIL_MS ? FIRST_PROBE_MS : Math.min(MAX_PROBE_EVERY_MS, Math.ceil(slot.probeEveryMs * 1.5));
    return { ...slot, probeAt: now + probeEveryMs, probeEveryMs };
  }
  return slot;
}

function startDeadlinePassed(state: PoolState, slot: Slot & { state: 'starting' }, now: number, effects: Effect[]): Slot {
  const { pid } = slot;
  if (!state.policy.procReadiness) {
    effects.push({ type: 'log', level: 'info', message: `worker ${pid} (slot ${slot.index}) starting→ready (up for ${state.policy.startSecsMs} ms; /proc cannot tell here)`, fields: { pid } });
    return moveSlot(slot, { state: 'ready', pid, startedAt: slot.startedAt, how: 'timer', failures: 0 });
  }
  if (state.phase === 'running') {
    // Under load a busy worker is never seen waiting: alive this long, it serves.
    effects.push({ type: 'log', level: 'warn', message: `worker ${pid} (slot ${slot.index}) never seen waiting on the socket in ${state.policy.startTimeoutMs} ms: counted as ready`, fields: { pid } });
    return moveSlot(slot, { state: 'ready', pid, startedAt: slot.startedAt, how: 'timer', failures: 0 });
  }
  const why = `was not waiting on the socket after ${state.policy.startTimeoutMs} ms`;
  effects.push({ type: 'log', level: 'warn', message: `worker ${pid} (slot ${slot.index}) ${why}: killing it`, fields: { pid } });
  effects.push({ type: 'signal', pgid: pid, signal: 'SIGKILL' });
  return moveSlot(slot, { state: 'stopping', pid, startedAt: slot.startedAt, killAt: now, killed: true, failedStart: why });
}

function convergeStopping(state: PoolState, slot: Slot, now: number, effects: Effect[]): Slot {
  if (slot.state === 'backoff' || slot.state === 'empty') return slot.state === 'empty' ? slot : moveSlot(slot, { state: 'empty' });
  if (slot.state === 'starting' || slot.state === 'ready') {
    effects.push({ type: 'signal', pgid: slot.pid, signal: state.policy.stopSignal });
    effects.push({ type: 'log', level: 'info', message: `worker ${slot.pid} (slot ${slot.index}) ${slot.state}→stopping (${state.policy.stopSignal})`, fields: { pid: slot.pid } });
    return moveSlot(slot, { state: 'stopping', pid: slot.pid, startedAt: slot.startedAt, killAt: now + state.policy.stopTimeoutMs, killed: false });
  }
  if (slot.state === 'stopping' && !slot.killed && slot.killAt <= now) {
    effects.push({ type: 'log', level: 'warn', message: `worker ${slot.pid} (slot ${slot.index}) still running after the stop timeout: SIGKILL to its process group`, fields: { pid: slot.pid } });
    effects.push({ type: 'signal', pgid: slot.pid, signal: 'SIGKILL' });
    return { ...slot, killed: true };
  }
  return slot;
}
