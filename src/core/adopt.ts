/**
 * The state a supervisor starts from after an in-place upgrade (runtime/upgrade.ts): every pool already running,
 * its serving generation the one the previous program ran, with the workers it left (ready, since they served).
 * Pure, as the rest of core/: the runtime then asks for a reload of every pool, which retires this generation as
 * any reload retires the old one (core/reload.ts, drain.ts).
 */
import type { Configuration } from '../config/types.js';
import { newGeneration, type Generation } from './generation.js';
import { parkBeyond } from './manager-state.js';
import { poolPolicy } from './policy.js';
import type { PoolState } from './pool-state.js';
import { initialPoolState } from './pool-state.js';
import type { Slot } from './slot.js';
import { initialSupervisorState, type SupervisorState } from './supervisor-state.js';

export interface AdoptedWorker {
  readonly slot: number;
  readonly pid: number;
  readonly ageMs: number;
  readonly restarts: number;
}

export interface AdoptedPool {
  readonly name: string;
  readonly generation: number;
  readonly nextGeneration: number;
  readonly desiredWorkers: number;
  readonly blocking: boolean;
  readonly workers: readonly AdoptedWorker[];
}

function adoptedGeneration(state: PoolState, adopted: AdoptedPool, now: number): Generation {
  const size = Math.max(adopted.desiredWorkers, ...adopted.workers.map((worker) => worker.slot + 1));
  let generation: Generation = { ...newGeneration(adopted.generation, 'serving', size) };
  // A process manager's slots without a worker are room to grow into, as at start-up; a static pool's are filled.
  if (state.policy.manager && state.policy.manager.pm !== 'static') generation = parkBeyond(generation, 0);
  const slots = generation.slots.map((slot): Slot => {
    const worker = adopted.workers.find((w) => w.slot === slot.index);
    if (!worker) return slot;
    return { index: slot.index, restarts: worker.restarts, failures: 0, state: 'ready', pid: worker.pid, startedAt: now - worker.ageMs, readyAt: now, how: 'timer' };
  });
  return { ...generation, slots };
}

export function adoptedPoolState(base: PoolState, adopted: AdoptedPool, now: number): PoolState {
  return {
    ...base,
    phase: 'running',
    generations: [adoptedGeneration(base, adopted, now)],
    desiredWorkers: adopted.desiredWorkers,
    nextGeneration: Math.max(adopted.nextGeneration, adopted.generation + 1),
    blocking: adopted.blocking,
  };
}

/** Running, with every pool of the configuration adopted (the caller checked that each has its adopted state). */
export function adoptedSupervisorState(configuration: Configuration, procReadiness: boolean, adopted: ReadonlyMap<string, AdoptedPool>, now: number): SupervisorState {
  const initial = initialSupervisorState(configuration, procReadiness);
  const pools = initial.pools.map((entry) => {
    const pool = adopted.get(entry.name);
    const base = initialPoolState(poolPolicy(entry.config, procReadiness));
    return pool ? { ...entry, state: adoptedPoolState(base, pool, now) } : entry;
  });
  return { ...initial, phase: 'running', pools };
}
