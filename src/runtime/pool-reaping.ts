/**
 * What a dispatch of the supervisor means for the reaper (runtime/reaper.ts): every pool's current
 * sockets are watched (processes holding one belong to its pool and generation), a retired
 * generation or a released pool has its socket's holders stopped, and the supervisor's stop stops
 * everything adopted.
 */
import type { SupervisorEffect } from '../core/supervisor-events.js';
import type { PoolEntry, SupervisorState } from '../core/supervisor-state.js';
import { formatAddress } from '../os/sockaddr.js';
import type { PoolRuntime } from './pool-runtime.js';
import type { Reaper } from './reaper.js';

/** `generation 2 on 127.0.0.1:9000`; a named pool's (not the flags' `default`) begins with `pool NAME`. */
function socketLabel(pool: PoolEntry, generation: number): string {
  const where = `generation ${generation} on ${formatAddress(pool.config.address)}`;
  return pool.name === 'default' ? where : `pool ${pool.name} ${where}`;
}

export function followSupervisor(reaper: Reaper, state: SupervisorState, effects: readonly SupervisorEffect[], runtime: (key: string) => PoolRuntime | undefined): void {
  for (const pool of state.pools) {
    const sockets = runtime(pool.key)?.sockets;
    for (const generation of pool.state.generations) {
      const socket = sockets?.get(generation.id);
      // systemd's socket (socket activation) is held by systemd itself, PID 1: never a holder to stop, and shared
      // by the generations on it, so retiring one must not stop the next one's workers.
      if (socket && !socket.isClosed && !socket.adopted) reaper.watchSocket(pool.key, generation.id, socketLabel(pool, generation.id), socket.inode, pool.state.policy.stopTimeoutMs);
    }
  }
  for (const effect of effects) {
    if (effect.type === 'pool' && effect.effect.type === 'close-socket') reaper.retireSocket(effect.pool, effect.effect.generation);
    if (effect.type === 'release-pool') reaper.retirePool(effect.pool);
  }
  // A fast stop (a graceful one lets what adopted processes serve finish: they are stopped at its end).
  if (state.phase === 'stopping' && state.pools.some((pool) => pool.state.phase === 'stopping')) reaper.beginStop(longestStopTimeout(state));
}

/** What adopted processes get at the supervisor's stop: as long as the slowest pool's workers. */
function longestStopTimeout(state: SupervisorState): number {
  return Math.max(0, ...state.pools.map((pool) => pool.state.policy.stopTimeoutMs));
}
