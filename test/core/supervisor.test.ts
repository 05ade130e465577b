/** core/supervisor as tables: a supervisor of pools, events in, state and effects out, `now` passed in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Configuration, PoolConfig } from '../../src/config/types.js';
import { poolConfig as pool } from './tables.js';
import { initialSupervisorState, nextSupervisorDeadline, reconcileSupervisor, type SupervisorState } from '../../src/core/supervisor.js';
import type { SupervisorEffect, SupervisorEvent } from '../../src/core/supervisor-events.js';


function configuration(...pools: PoolConfig[]): Configuration {
  return { supervisor: { name: 'test', daemon: false, daemonized: false, logLevel: 'info', logFormat: 'text', watchConfig: false, sourceFiles: [] }, pools };
}

interface Run {
  state: SupervisorState;
  effects: SupervisorEffect[];
}

function run(state: SupervisorState, events: ReadonlyArray<readonly [number, SupervisorEvent]>): Run {
  const effects: SupervisorEffect[] = [];
  let next = state;
  for (const [now, event] of events) {
    const result = reconcileSupervisor(next, event, now);
    next = result.state;
    effects.push(...result.effects);
  }
  return { state: next, effects };
}

const toPool = (key: string, event: Extract<SupervisorEvent, { type: 'pool' }>['event']): SupervisorEvent => ({ type: 'pool', pool: key, event });
const spawned = (key: string, generation: number, slot: number, pid: number): SupervisorEvent => toPool(key, { type: 'spawned', generation, slot, pid });
const ready = (key: string, pid: number): SupervisorEvent => toPool(key, { type: 'listening', pid, how: 'accept' });
const exited = (key: string, pid: number, code: number | null = 0): SupervisorEvent => toPool(key, { type: 'exit', pid, status: { code, signal: null } });

/** Two pools, one worker each, both serving. */
function running(): SupervisorState {
  const state = initialSupervisorState(configuration(pool('a', 9001), pool('b', 9002)), true);
  return run(state, [
    [0, { type: 'start' }],
    [1, spawned('a', 1, 0, 100)],
    [1, spawned('b', 1, 0, 200)],
    [5, ready('a', 100)],
    [5, ready('b', 200)],
  ]).state;
}

const kinds = (effects: readonly SupervisorEffect[]): string[] => effects.filter((e) => e.type !== 'log' && !(e.type === 'pool' && e.effect.type === 'log')).map((e) => (e.type === 'pool' ? `${e.pool}:${e.effect.type}` : e.type));

test('start-up completes when every pool serves, and not before', () => {
  const state = initialSupervisorState(configuration(pool('a', 9001), pool('b', 9002)), true);
  const first = run(state, [[0, { type: 'start' }], [1, spawned('a', 1, 0, 100)], [1, spawned('b', 1, 0, 200)], [5, ready('a', 100)]]);
  assert.equal(first.state.phase, 'starting');
  assert.ok(!first.effects.some((e) => e.type === 'started'));
  const second = run(first.state, [[6, ready('b', 200)]]);
  assert.equal(second.state.phase, 'running');
  assert.deepEqual(kinds(second.effects).filter((k) => k === 'started'), ['started']);
  assert.equal(nextSupervisorDeadline(second.state), undefined, 'an idle supervisor arms no timer');
});

test('a pool that cannot start stops the others and ends start-up with its reason', () => {
  const state = initialSupervisorState(configuration(pool('a', 9001), pool('b', 9002, { startRetries: 0 })), true);
  const { state: after, effects } = run(state, [
    [0, { type: 'start' }],
    [1, spawned('a', 1, 0, 100)],
    [1, spawned('b', 1, 0, 200)],
    [2, exited('b', 200, 3)],
  ]);
  assert.equal(after.phase, 'stopping');
  assert.ok(effects.some((e) => e.type === 'pool' && e.pool === 'a' && e.effect.type === 'signal'), 'pool a told to stop');
  const done = run(after, [[3, exited('a', 100, 0)]]);
  const exit = done.effects.find((e) => e.type === 'exit');
  assert.ok(exit && exit.type === 'exit');
  assert.equal(exit.code, 1);
  assert.equal(exit.failedPool, 'b');
  assert.match(exit.reason ?? '', /^pool b: slot 0 failed to start 1 times/);
});

test('HUP loads the configuration first, then gives every pool a new generation; the request waits for all', () => {
  const asked = run(running(), [[10, { type: 'reload', requestId: 7 }]]);
  assert.deepEqual(kinds(asked.effects), ['load-config']);
  const loaded = run(asked.state, [[11, { type: 'config-loaded', configuration: configuration(pool('a', 9001), pool('b', 9002)) }]]);
  assert.deepEqual(kinds(loaded.effects), ['configure-pool', 'a:open-generation', 'configure-pool', 'b:open-generation']);
  assert.ok(!loaded.effects.some((e) => e.type === 'request-done'));
  assert.equal(loaded.state.outstanding.length, 1);
});

test('a configuration that does not load changes nothing and answers the request with the reason', () => {
  const before = running();
  const { state, effects } = run(before, [[10, { type: 'update', requestId: 3 }], [11, { type: 'config-failed', reason: 'pools[1].workers: expected an integer' }]]);
  const done = effects.find((e) => e.type === 'request-done');
  assert.ok(done && done.type === 'request-done');
  assert.equal(done.ok, false);
  assert.deepEqual(done.requestIds, [3]);
  assert.match(done.message, /pools\[1\]\.workers/);
  assert.equal(state.configError, 'pools[1].workers: expected an integer');
  assert.deepEqual(state.pools.map((p) => p.state), before.pools.map((p) => p.state), 'no pool touched');
  const fixed = run(state, [[20, { type: 'update' }], [21, { type: 'config-loaded', configuration: configuration(pool('a', 9001), pool('b', 9002)) }]]);
  assert.equal(fixed.state.configError, undefined, 'a valid load clears the error');
});

test('update: unchanged pools untouched, a worker count scaled, a changed setting reloaded, removed stopped, added bound', () => {
  const asked = run(running(), [[10, { type: 'update', requestId: 1 }]]);
  const next = configuration(pool('a', 9001, { workers: 2 }), pool('c', 9003));
  const { state, effects } = run(asked.state, [[11, { type: 'config-loaded', configuration: next }]]);
  const k = kinds(effects);
  assert.ok(k.includes('open-pool'), 'c is bound');
  assert.equal(state.pools.find((p) => p.name === 'b')?.state.phase, 'quitting', 'b stops gracefully');
  assert.ok(!k.includes('a:open-generation'), 'a only changed its worker count: no new generation');
  assert.ok(k.includes('a:spawn'), 'a grows by one worker');
  assert.ok(state.pools.find((p) => p.name === 'b')?.removing);
  const same = run(running(), [[10, { type: 'update', requestId: 1 }], [11, { type: 'config-loaded', configuration: configuration(pool('a', 9001), pool('b', 9002)) }]]);
  assert.deepEqual(kinds(same.effects), ['load-config', 'request-done'], 'an unchanged file changes nothing');
  const changed = run(running(), [[10, { type: 'update' }], [11, { type: 'config-loaded', configuration: configuration(pool('a', 9001, { args: ['--new'] }), pool('b', 9002)) }]]);
  assert.deepEqual(kinds(changed.effects).filter((e) => e.endsWith('open-generation')), ['a:open-generation']);
});

test('a changed address is a removal plus an addition under the same name', () => {
  const { state, effects } = run(running(), [[10, { type: 'update' }], [11, { type: 'config-loaded', configuration: configuration(pool('a', 9101), pool('b', 9002)) }]]);
  const open = effects.find((e) => e.type === 'open-pool');
  assert.ok(open && open.type === 'open-pool');
  assert.notEqual(open.pool, 'a', 'the new pool has a key of its own beside the stopping one');
  assert.equal(open.config.name, 'a');
  const opened = run(state, [[12, { type: 'pool-opened', pool: open.pool }]]);
  assert.equal(opened.state.pools.filter((p) => p.name === 'a').length, 2);
  assert.ok(kinds(opened.effects).includes(`${open.pool}:spawn`));
});

test('reloads and updates during a load are coalesced and follow it', () => {
  const { state, effects } = run(running(), [
    [10, { type: 'reload', requestId: 1 }],
    [11, { type: 'reload', requestId: 2 }],
    [12, { type: 'reload', requestId: 3 }],
  ]);
  assert.deepEqual(kinds(effects), ['load-config']);
  assert.deepEqual(state.queuedLoads, [{ kind: 'reload', requestIds: [2, 3] }]);
  const after = run(state, [[13, { type: 'config-failed', reason: 'x' }]]);
  assert.deepEqual(kinds(after.effects), ['request-done', 'load-config'], 'the queued one starts once the first is done');
});

test('TTIN with several pools is refused with a hint; scale needs --pool then', () => {
  const ttin = run(running(), [[10, { type: 'signal', signal: 'SIGTTIN' }]]);
  assert.deepEqual(kinds(ttin.effects), []);
  assert.ok(ttin.effects.some((e) => e.type === 'log' && /scale N --pool NAME/.test(e.message)));
  const scale = run(running(), [[10, { type: 'scale', workers: 3, requestId: 4 }]]);
  const done = scale.effects.find((e) => e.type === 'request-done');
  assert.ok(done && done.type === 'request-done' && !done.ok && /--pool/.test(done.message));
  const named = run(running(), [[10, { type: 'scale', workers: 3, pool: 'b', requestId: 4 }]]);
  assert.ok(kinds(named.effects).includes('b:spawn'));
});

test('TERM stops every pool; the supervisor exits when the last is gone', () => {
  const { state, effects } = run(running(), [[10, { type: 'signal', signal: 'SIGTERM' }]]);
  assert.deepEqual(kinds(effects).filter((k) => k.endsWith('signal')), ['a:signal', 'b:signal']);
  const one = run(state, [[11, exited('a', 100)]]);
  assert.ok(!one.effects.some((e) => e.type === 'exit'));
  const both = run(one.state, [[12, exited('b', 200)]]);
  const exit = both.effects.find((e) => e.type === 'exit');
  assert.ok(exit && exit.type === 'exit' && exit.code === 0);
  assert.equal(both.state.phase, 'stopped');
});
