/**
 * The supervisor's state as data: its pools (each a PoolState, core/pool.ts), the configuration load
 * under way and the requests that wait for it, and the requests that wait for pools to finish what
 * a reload or an update asked of them.
 */
import type { Configuration, PoolConfig } from '../config/types.js';
import { initialPoolState, type PoolState } from './pool-state.js';
import { poolPolicy } from './policy.js';
import type { PoolWorker } from './supervisor-events.js';

export type SupervisorPhase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface PoolEntry {
  /** Unique for the supervisor's life: a pool whose address changed is a new pool of the same name beside the old, stopping one. */
  readonly key: string;
  readonly name: string;
  readonly state: PoolState;
  /** The configuration the pool's next generation runs (the runtime gives each generation the one it started with). */
  readonly config: PoolConfig;
  /** Dropped from the configuration: stopping gracefully, then released. */
  readonly removing: boolean;
}

/** What a configuration load is for. `pool` narrows a reload to one pool. */
export interface LoadRequest {
  readonly kind: 'reload' | 'update';
  readonly pool?: string;
  /** Control requests answered when it is done (none for a signal or a file change). */
  readonly requestIds: readonly number[];
}

/**
 * A reload or update in progress, answered when every pool it asked something of is done. Pools
 * hear of it by its ticket (their requestId), so coalesced pool reloads answer every ticket at once.
 */
export interface Outstanding {
  readonly ticket: number;
  readonly requestIds: readonly number[];
  /** Pools still working on it. */
  readonly waiting: readonly string[];
  readonly done: readonly string[];
  readonly failures: readonly string[];
  readonly failedWorkers: readonly PoolWorker[];
}

export interface SupervisorState {
  readonly phase: SupervisorPhase;
  readonly pools: readonly PoolEntry[];
  /** Pools an update added whose socket is being bound. */
  readonly opening: readonly { readonly key: string; readonly config: PoolConfig }[];
  readonly procReadiness: boolean;
  readonly loading?: LoadRequest;
  /** Loads asked for while one was under way: they follow, coalesced by kind and pool. */
  readonly queuedLoads: readonly LoadRequest[];
  readonly outstanding: readonly Outstanding[];
  readonly nextTicket: number;
  /** The last configuration load failed: shown by status until a valid one loads. */
  readonly configError?: string;
  readonly exitCode: number;
  readonly failure?: string;
  readonly failedPool?: string;
  readonly failedSlot?: number;
}

export function poolEntry(key: string, config: PoolConfig, procReadiness: boolean): PoolEntry {
  return { key, name: config.name, state: initialPoolState(poolPolicy(config, procReadiness)), config, removing: false };
}

export function initialSupervisorState(configuration: Configuration, procReadiness: boolean): SupervisorState {
  return {
    phase: 'idle',
    pools: configuration.pools.map((config) => poolEntry(config.name, config, procReadiness)),
    opening: [],
    procReadiness,
    queuedLoads: [],
    outstanding: [],
    nextTicket: 1,
    exitCode: 0,
  };
}

/** The pool a command names: the one of that name that is not being removed. */
export function activePool(state: SupervisorState, name: string): PoolEntry | undefined {
  return state.pools.find((pool) => pool.name === name && !pool.removing);
}

export function replacePool(state: SupervisorState, entry: PoolEntry): SupervisorState {
  return { ...state, pools: state.pools.map((pool) => (pool.key === entry.key ? entry : pool)) };
}
