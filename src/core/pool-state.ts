/** The pool's state as data: its phase, its generations, what it wants, the reload under way. */
import { newGeneration, type Generation } from './generation.js';
import type { PoolPolicy } from './policy.js';

export type PoolPhase = 'idle' | 'starting' | 'running' | 'quitting' | 'stopping' | 'stopped';

export interface Reload {
  readonly newGeneration: number;
  readonly requestIds: readonly number[];
}

export interface Lingering {
  readonly pgid: number;
  readonly checkAt: number;
  readonly killAt: number;
}

export interface PoolState {
  readonly phase: PoolPhase;
  readonly policy: PoolPolicy;
  /** Oldest first; the serving one is the newest that is not still starting or failing. */
  readonly generations: readonly Generation[];
  readonly desiredWorkers: number;
  readonly nextGeneration: number;
  /** The socket mode the pool wants (DESIGN.md "Blocking mode"). */
  readonly blocking: boolean;
  readonly reload?: Reload;
  /** Requests that came during a reload: coalesced into one more reload, never lost. */
  readonly pendingReload?: { readonly requestIds: readonly number[] };
  /** Process groups whose leader exited while members remain: looked at again at checkAt, SIGKILLed at killAt. */
  readonly lingering: readonly Lingering[];
  readonly exitCode: number;
  readonly failure?: string;
  readonly failedSlot?: number;
}

export function initialPoolState(policy: PoolPolicy): PoolState {
  return {
    phase: 'idle',
    policy,
    generations: [newGeneration(1, 'starting', policy.workers)],
    desiredWorkers: policy.workers,
    nextGeneration: 2,
    blocking: policy.blockingMode !== 'nonblocking',
    lingering: [],
    exitCode: 0,
  };
}

export function servingGeneration(state: PoolState): Generation | undefined {
  return [...state.generations].reverse().find((g) => g.phase === 'serving') ?? state.generations.find((g) => g.phase === 'starting');
}

export function replaceGeneration(state: PoolState, generation: Generation): PoolState {
  return { ...state, generations: state.generations.map((g) => (g.id === generation.id ? generation : g)) };
}

