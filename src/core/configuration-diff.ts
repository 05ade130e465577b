/**
 * A loaded configuration against the running pools: what each pool must do. `reload` (HUP) gives
 * every pool (or the one named) a new generation with its new settings; `update` touches only what
 * changed: a pool whose only change is its worker count is scaled, any other change is a new
 * generation, a changed address is a removal plus an addition, and unchanged pools keep their pids.
 */
import type { Configuration, PoolConfig } from '../config/types.js';
import type { LoadRequest, SupervisorState } from './supervisor-state.js';

export interface PoolChange {
  readonly key: string;
  readonly config: PoolConfig;
}

export interface ChangePlan {
  /** Why nothing may change (the request names a pool the configuration lacks). */
  readonly refused?: string;
  readonly reload: readonly PoolChange[];
  readonly scale: readonly PoolChange[];
  readonly add: readonly PoolChange[];
  readonly remove: readonly { readonly key: string }[];
  readonly unchanged: readonly string[];
}

/** Deterministic JSON (keys sorted), so two loads of the same file compare equal whatever the key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sameAddress(a: PoolConfig, b: PoolConfig): boolean {
  return canonical(a.address) === canonical(b.address);
}

export function sameExceptWorkers(a: PoolConfig, b: PoolConfig): boolean {
  return canonical({ ...a, workers: 0 }) === canonical({ ...b, workers: 0 });
}

export function planChanges(state: SupervisorState, configuration: Configuration, load: LoadRequest): ChangePlan {
  const running = state.pools.filter((pool) => !pool.removing);
  const wanted = new Map(configuration.pools.map((config) => [config.name, config]));
  if (load.pool !== undefined) {
    const entry = running.find((pool) => pool.name === load.pool);
    const config = wanted.get(load.pool);
    if (!entry || !config) return { refused: `no pool named '${load.pool}' in the configuration`, reload: [], scale: [], add: [], remove: [], unchanged: [] };
    if (!sameAddress(entry.config, config)) return { refused: `pool ${load.pool}'s address changed: use 'fcgi-spawn update' to move it`, reload: [], scale: [], add: [], remove: [], unchanged: [] };
    return { reload: [{ key: entry.key, config }], scale: [], add: [], remove: [], unchanged: [] };
  }
  const reload: PoolChange[] = [];
  const scale: PoolChange[] = [];
  const add: PoolChange[] = [];
  const remove: { key: string }[] = [];
  const unchanged: string[] = [];
  for (const entry of running) {
    const config = wanted.get(entry.name);
    if (!config || !sameAddress(entry.config, config)) {
      remove.push({ key: entry.key });
      if (config) add.push({ key: `${config.name}#${state.nextTicket}`, config });
    } else if (load.kind === 'reload' || !sameExceptWorkers(entry.config, config)) {
      reload.push({ key: entry.key, config });
    } else if (entry.config.workers !== config.workers) {
      // The file's count changed; a count set by `scale` alone survives an update of an unchanged file.
      scale.push({ key: entry.key, config });
    } else {
      unchanged.push(entry.name);
    }
  }
  const known = new Set([...running.map((pool) => pool.name), ...state.opening.map((pool) => pool.config.name)]);
  for (const config of configuration.pools) if (!known.has(config.name)) add.push({ key: `${config.name}#${state.nextTicket}`, config });
  return { reload, scale, add, remove, unchanged };
}
