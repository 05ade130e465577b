/**
 * The counters of the status model, kept per pool name for the supervisor's life, so they survive
 * generations (reloads, scale) and an update that replaces a pool of the same name. They are counted
 * from what the supervisor's one dispatch already does: each event with the state before and after it
 * (runtime/supervisor.ts onReconciled), so core/ carries no counter of its own and nothing is counted
 * twice or from log wording.
 */
import type { Generation } from '../core/generation.js';
import type { PoolState } from '../core/pool-state.js';
import { hasProcess, type SlotWithProcess } from '../core/slot.js';
import type { SupervisorEvent } from '../core/supervisor-events.js';
import type { SupervisorState } from '../core/supervisor-state.js';

/** Why a worker process ended, one cause per exit. */
export const EXIT_CAUSES = ['clean', 'crash', 'signal', 'request-timeout', 'recycled', 'retired'] as const;
export type ExitCause = (typeof EXIT_CAUSES)[number];

export interface PoolCounters {
  /** Worker processes started (the spawn succeeded: a pid came back). */
  spawns: number;
  /** Every worker process that ended, by cause; an exit before readiness counts here and in failedStarts. */
  readonly exits: Record<ExitCause, number>;
  /** Spawns that failed, exits before readiness, and workers stopped for not becoming ready. */
  failedStarts: number;
  /** Reloads whose new generation took over (ok), or was rolled back (the old one kept serving). */
  readonly reloads: { ok: number; rolledBack: number };
}

export function emptyCounters(): PoolCounters {
  return {
    spawns: 0,
    exits: { clean: 0, crash: 0, signal: 0, 'request-timeout': 0, recycled: 0, retired: 0 },
    failedStarts: 0,
    reloads: { ok: 0, rolledBack: 0 },
  };
}

interface Found {
  readonly pool: PoolState;
  readonly generation: Generation;
  readonly slot: SlotWithProcess;
}

function findWorker(pool: PoolState, pid: number): Found | undefined {
  for (const generation of pool.generations) {
    const slot = generation.slots.filter(hasProcess).find((s) => s.pid === pid);
    if (slot) return { pool, generation, slot };
  }
  return undefined;
}

/**
 * A stop the pool asked for (stopping, a draining or failing generation, a stopping pool) is a retirement,
 * unless the slot says why it was stopped (a process manager's `cause`: request-timeout, recycled). Otherwise
 * the worker ended by itself: a signal, a non-zero status (crash) or status 0 (clean: php-cgi recycling
 * after PHP_FCGI_MAX_REQUESTS is one).
 */
function exitCause(found: Found, status: { code: number | null; signal: string | null }): ExitCause {
  const { slot, generation, pool } = found;
  const told = (slot as { readonly cause?: unknown }).cause;
  if (slot.state === 'stopping' && typeof told === 'string' && (EXIT_CAUSES as readonly string[]).includes(told)) return told as ExitCause;
  const retired = slot.state === 'stopping' || generation.phase === 'draining' || generation.phase === 'failing' || pool.phase === 'stopping' || pool.phase === 'quitting';
  if (retired) return 'retired';
  if (status.signal !== null) return 'signal';
  return status.code === 0 ? 'clean' : 'crash';
}

export class StatusCounters {
  private readonly pools = new Map<string, PoolCounters>();

  of(name: string): PoolCounters {
    let counters = this.pools.get(name);
    if (!counters) {
      counters = emptyCounters();
      this.pools.set(name, counters);
    }
    return counters;
  }

  /** One event as the dispatch applied it: the supervisor's state before and after. */
  count(before: SupervisorState, event: SupervisorEvent, after: SupervisorState): void {
    for (const entry of before.pools) {
      const next = after.pools.find((pool) => pool.key === entry.key);
      if (next) this.countReloads(this.of(entry.name), entry.state, next.state);
    }
    if (event.type !== 'pool') return;
    const entry = before.pools.find((pool) => pool.key === event.pool);
    if (!entry) return;
    const counters = this.of(entry.name);
    const inner = event.event;
    switch (inner.type) {
      case 'spawned':
        counters.spawns += 1;
        return;
      case 'spawn-failed':
        counters.failedStarts += 1;
        return;
      case 'exit': {
        const found = findWorker(entry.state, inner.pid);
        if (!found) return;
        counters.exits[exitCause(found, inner.status)] += 1;
        if (found.slot.state === 'starting' || (found.slot.state === 'stopping' && found.slot.failedStart !== undefined)) counters.failedStarts += 1;
        return;
      }
      default:
        return;
    }
  }

  /**
   * A running pool's generation that was starting and now serves took over (a reload or a scale down); one
   * that was opening or starting and is now failing or gone was rolled back. A stop (the pool quitting or
   * stopping) fails a starting generation too, but is no rollback.
   */
  private countReloads(counters: PoolCounters, before: PoolState, after: PoolState): void {
    if (before.phase !== 'running' || after.phase !== 'running') return;
    for (const generation of before.generations) {
      if (generation.phase !== 'opening' && generation.phase !== 'starting') continue;
      const now = after.generations.find((g) => g.id === generation.id);
      if (now?.phase === 'serving') counters.reloads.ok += 1;
      else if (!now || now.phase === 'failing') counters.reloads.rolledBack += 1;
    }
  }
}
