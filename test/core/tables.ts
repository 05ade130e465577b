/** What the core/ table tests share: a pool policy to vary, feeding timed events through reconcile(), a running pool, a reload. */
import { initialPoolState, reconcile, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event } from '../../src/core/events.js';
import type { PoolConfig } from '../../src/config/types.js';

export const POLICY: PoolPolicy = {
  workers: 2,
  startRetries: 2,
  startSecsMs: 1000,
  startTimeoutMs: 30_000,
  procReadiness: true,
  stopSignal: 'SIGTERM',
  stopTimeoutMs: 10_000,
  blockingMode: 'auto',
  gracefulTimeoutMs: 30_000,
  steerGraceMs: 1000,
  drain: 'idle',
  unixSocket: false,
  retireSignal: 'SIGTERM',
};

/** Feed events at given times; every effect, in order. */
export function feed(state: PoolState, events: ReadonlyArray<readonly [number, Event]>): { state: PoolState; effects: Effect[] } {
  const effects: Effect[] = [];
  let current = state;
  for (const [now, event] of events) {
    const result = reconcile(current, event, now);
    current = result.state;
    effects.push(...result.effects);
  }
  return { state: current, effects };
}

/** A running pool: generation 1 with workers 100 (slot 0) and 101 (slot 1), both seen in accept() at 5. */
export function running(policy: PoolPolicy): PoolState {
  return feed(initialPoolState(policy), [
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }],
    [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }],
    [5, { type: 'listening', pid: 100, how: 'accept' }],
    [5, { type: 'listening', pid: 101, how: 'accept' }],
  ]).state;
}

/** Reloaded up to steering: generation 2 (200, 201) serving, generation 1 (100, 101) draining. */
export function steered(policy: PoolPolicy): { state: PoolState; effects: Effect[] } {
  return feed(running(policy), [
    [100, { type: 'signal', signal: 'SIGHUP' }],
    [101, { type: 'generation-opened', generation: 2 }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [110, { type: 'listening', pid: 200, how: 'accept' }],
    [110, { type: 'listening', pid: 201, how: 'accept' }],
  ]);
}

/** A pool as the supervisor tables configure it: one worker of /usr/bin/app on 127.0.0.1:PORT unless overridden. */
export function poolConfig(name: string, port: number, overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    name,
    address: { kind: 'tcp', host: '127.0.0.1', port },
    backlog: 1024,
    socketMode: 0o660,
    workers: 1,
    program: 'app',
    programPath: '/usr/bin/app',
    args: [],
    env: {},
    cwd: '/',
    fd: 0,
    blocking: 'auto',
    startRetries: 1,
    startTimeoutMs: 30_000,
    startSecsMs: 1000,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 10_000,
    gracefulTimeoutMs: 30_000,
    steerGraceMs: 0,
    watch: [],
    watchIgnore: [],
    watchDebounceMs: 500,
    ...overrides,
  };
}
