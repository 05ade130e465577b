/**
 * What the process manager remembers between two events (core/manager.ts): the queue watch, when it looks at
 * /proc next, the growth rate, and per worker what the looks showed (idle since, busy with which connection
 * since, when it is due for recycling). Plain data in the pool's state; the counters live beside it in PoolState.
 */
import { replaceSlot, type Generation } from './generation.js';
import type { ManagerPolicy } from './policy.js';
import { hasProcess, moveSlot, type Slot } from './slot.js';

export interface WorkerWatch {
  readonly pid: number;
  /** Seen idle (or listening) at every look since then, with no context switch in between. */
  readonly idleSince?: number;
  readonly switches?: number;
  /** Seen busy with the same connections, never waiting on its client, at every look since then. */
  readonly busySince?: number;
  readonly connections?: string;
  /** max-lifetime (plus its jitter): due for recycling from then. */
  readonly dueAt?: number;
}

export interface Recycling {
  /** The worker to retire once its replacement is ready and it is seen idle. */
  readonly pid: number;
  /** The slot its replacement runs in. */
  readonly slot: number;
  readonly reason: string;
}

export interface ManagerState {
  /** The generation whose socket the watch is on; off: not armed (re-armed only after acting). */
  readonly watch: 'off' | 'armed' | 'fired';
  readonly watchGeneration?: number;
  readonly firedAt?: number;
  /** The next /proc look, when one is wanted; `looking`: one is out and not answered yet. */
  readonly sampleAt?: number;
  readonly looking: boolean;
  readonly lastSampleAt?: number;
  /** What the last look counted. */
  readonly seenBusy: number;
  readonly seenIdle: number;
  /** php-fpm's spawn rate: 1, 2, 4 … 32 on consecutive seconds that needed spares. */
  readonly growRate: number;
  readonly lastGrowAt?: number;
  readonly lastShrinkAt?: number;
  /** A max-workers-reached episode is under way (logged and counted once). */
  readonly saturated: boolean;
  readonly workers: readonly WorkerWatch[];
  readonly recycling: readonly Recycling[];
  /** A shrink or recycle through a generation: the next generation starts this many workers. */
  readonly nextStart?: number;
}

export const MAX_GROW_RATE = 32;
export const LOOK_EVERY_MS = 1000;

export function initialManagerState(): ManagerState {
  return { watch: 'off', looking: false, seenBusy: 0, seenIdle: 0, growRate: 1, saturated: false, workers: [], recycling: [] };
}

/** Workers the pool counts against `workers`: every slot with (or about to have) a process, except those retiring. */
export function liveCount(generation: Generation, recycling: readonly Recycling[]): number {
  return generation.slots.filter((slot) => slot.state !== 'parked' && !(slot.state === 'stopping' && slot.park) && !recycling.some((r) => hasProcess(slot) && r.pid === slot.pid)).length;
}

/** Spares on the way: slots spawning or starting count as idle, as php-fpm counts a child it just forked. */
export function startingCount(generation: Generation): number {
  return generation.slots.filter((slot) => slot.state === 'spawning' || slot.state === 'starting' || slot.state === 'empty' || slot.state === 'backoff').length;
}

/** A generation as the manager starts it: `start` slots to fill, the others parked (room to grow into). */
export function parkBeyond(generation: Generation, start: number): Generation {
  let next = generation;
  for (const slot of generation.slots) if (slot.index >= start && slot.state === 'empty') next = replaceSlot(next, moveSlot(slot, { state: 'parked' }));
  return next;
}

/** A slot for one more worker: a parked one, else a new one at the end. */
export function unpark(generation: Generation): { generation: Generation; slot: number } {
  const parked = generation.slots.find((slot) => slot.state === 'parked');
  if (parked) return { generation: replaceSlot(generation, moveSlot(parked, { state: 'empty' })), slot: parked.index };
  const index = generation.slots.length;
  const slot: Slot = { index, restarts: 0, failures: 0, state: 'empty' };
  return { generation: { ...generation, slots: [...generation.slots, slot] }, slot: index };
}

/**
 * The jitter of a worker's lifetime, from its pid: pure and spread (Knuth's multiplicative hash), so workers
 * started together do not recycle together.
 */
export function lifetimeOf(policy: ManagerPolicy, pid: number): number | undefined {
  if (policy.maxLifetimeMs === undefined) return undefined;
  const spread = ((pid * 2654435761) >>> 0) / 2 ** 32;
  return policy.maxLifetimeMs + Math.floor(spread * policy.maxLifetimeJitterMs);
}

/** Whether the pool needs to know who is busy (and so watches its queue): not a static pool that only recycles by age. */
export function watchesLoad(policy: ManagerPolicy): boolean {
  return policy.pm !== 'static' || policy.requestTimeoutMs !== undefined || policy.maxRss !== undefined;
}
