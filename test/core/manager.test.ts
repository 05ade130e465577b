/** core/manager as tables: the process manager's decisions from queue events and /proc looks, `now` passed in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, nextDeadline, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event, WorkerSample } from '../../src/core/events.js';
import type { ManagerPolicy } from '../../src/core/policy.js';
import { feed, POLICY } from './tables.js';

const MANAGER: ManagerPolicy = { pm: 'dynamic', startWorkers: 1, minSpare: 1, maxSpare: 2, idleTimeoutMs: 10_000, retireSignal: 'SIGTERM', maxLifetimeJitterMs: 0 };

function policy(manager: Partial<ManagerPolicy>, workers = 4): PoolPolicy {
  return { ...POLICY, workers, manager: { ...MANAGER, ...manager } };
}

const acts = (effects: readonly Effect[]): Effect[] => effects.filter((e) => e.type !== 'log');
const spawns = (effects: readonly Effect[]): number[] => effects.flatMap((e) => (e.type === 'spawn' ? [e.slot] : []));
const idle = (pid: number, switches = 0): WorkerSample => ({ pid, activity: 'idle', switches, connections: '', waitingOnClient: false });
const busy = (pid: number, connections = 'c1', waitingOnClient = false): WorkerSample => ({ pid, activity: 'busy', switches: 0, connections, waitingOnClient });
const look = (workers: WorkerSample[], generation = 1): Event => ({ type: 'pool-sample', generation, workers });
const exit = (pid: number): Event => ({ type: 'exit', pid, status: { code: 0, signal: null } });

/** A dynamic pool started with its start-workers, all seen in accept(). */
function started(p: PoolPolicy): { state: PoolState; effects: Effect[] } {
  const start = p.manager?.startWorkers ?? p.workers;
  const events: Array<readonly [number, Event]> = [[0, { type: 'start' }]];
  for (let slot = 0; slot < start; slot += 1) events.push([0, { type: 'spawned', generation: 1, slot, pid: 100 + slot }]);
  for (let slot = 0; slot < start; slot += 1) events.push([5, { type: 'listening', pid: 100 + slot, how: 'accept' }]);
  return feed(initialPoolState(p), events);
}

test('dynamic: start-workers at start, the rest parked; one look, then the queue watch and nothing armed', () => {
  const p = policy({ startWorkers: 2, minSpare: 1, maxSpare: 3 });
  const { state, effects } = started(p);
  assert.deepEqual(spawns(effects), [0, 1]);
  assert.deepEqual(state.generations[0]!.slots.map((s) => s.state), ['ready', 'ready', 'parked', 'parked']);
  assert.ok(effects.some((e) => e.type === 'started'));
  assert.ok(effects.some((e) => e.type === 'sample'), 'a first look counts the spares');
  assert.ok(effects.some((e) => e.type === 'watch-queue'), 'the queue watch armed once every started worker is ready');
  const rested = feed(state, [[10, look([idle(100), idle(101)])]]);
  assert.ok(!rested.effects.some((e) => e.type === 'watch-queue'), 'armed once, not again');
  assert.equal(nextDeadline(rested.state), undefined, 'at rest: no timer');
});

test('dynamic: spares missing grow by 1, 2, 4 on consecutive looks, never past workers; above max-spare one retires a second', () => {
  const p = policy({ startWorkers: 1, minSpare: 8, maxSpare: 8 }, 16);
  let { state } = started(p);
  const grown: number[] = [];
  let pid = 200;
  let now = 10;
  for (let i = 0; i < 3; i += 1) {
    const ready = state.generations[0]!.slots.flatMap((s) => (s.state === 'ready' ? [s.pid] : []));
    const result = feed(state, [[now, look(ready.map((x) => busy(x)))]]);
    const slots = spawns(result.effects);
    grown.push(slots.length);
    const events: Array<readonly [number, Event]> = [];
    for (const slot of slots) events.push([now + 1, { type: 'spawned', generation: 1, slot, pid: pid }], [now + 5, { type: 'listening', pid: pid++, how: 'accept' }]);
    state = feed(result.state, events).state;
    assert.equal(nextDeadline(state), now + 1000, 'busy workers: the next look a second later');
    now += 1000;
  }
  assert.deepEqual(grown, [1, 2, 4]);
  const ready = state.generations[0]!.slots.flatMap((s) => (s.state === 'ready' ? [s.pid] : []));
  assert.equal(ready.length, 8);
  // All idle now, 8 of max-spare 8... with max-spare 2 one is retired per second, the highest slot first.
  const shrinking = { ...state, policy: policy({ minSpare: 1, maxSpare: 2 }, 16) };
  const first = feed(shrinking, [[now, look(ready.map((x) => idle(x)))]]);
  assert.deepEqual(acts(first.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: ready.at(-1), signal: 'SIGTERM' }]);
  const again = feed(first.state, [[now + 500, look(ready.slice(0, -1).map((x) => idle(x)))]]);
  assert.equal(acts(again.effects).filter((e) => e.type === 'signal').length, 0, 'not twice within a second');
  const parked = feed(first.state, [[now + 600, exit(ready.at(-1)!)]]);
  assert.equal(parked.state.generations[0]!.slots.filter((s) => s.state === 'parked').length, 16 - 7);
  assert.equal(spawns(parked.effects).length, 0, 'a retired worker is not respawned');
});

test('a queue event grows at once to what waits, up to workers; at workers, max-workers-reached once per episode', () => {
  const p = policy({ startWorkers: 1, minSpare: 0, maxSpare: 1 }, 4);
  const { state } = feed(started(p).state, [[10, look([idle(100)])]]);
  const grown = feed(state, [[20, { type: 'queue-waiting', generation: 1, queue: 5 }]]);
  assert.deepEqual(spawns(grown.effects), [1, 2, 3], 'three more: four is the most');
  const full = feed(grown.state, [
    [21, { type: 'spawned', generation: 1, slot: 1, pid: 101 }],
    [21, { type: 'spawned', generation: 1, slot: 2, pid: 102 }],
    [21, { type: 'spawned', generation: 1, slot: 3, pid: 103 }],
    [30, { type: 'listening', pid: 101, how: 'serving' }],
    [30, { type: 'listening', pid: 102, how: 'serving' }],
    [30, { type: 'listening', pid: 103, how: 'serving' }],
  ]);
  assert.ok(!full.effects.some((e) => e.type === 'watch-queue'), 'at workers: not re-armed before a look');
  assert.equal(nextDeadline(full.state), 1010, 'the look the queue event asked for');
  const looked = feed(full.state, [[1010, { type: 'deadline' }], [1011, look([busy(100), busy(101), busy(102), busy(103)])]]);
  assert.ok(looked.effects.some((e) => e.type === 'watch-queue'), 're-armed after the look');
  const saturated = feed(looked.state, [
    [1040, { type: 'queue-waiting', generation: 1, queue: 7 }],
    [2100, look([busy(100), busy(101), busy(102), busy(103)])],
    [2200, { type: 'queue-waiting', generation: 1, queue: 9 }],
  ]);
  assert.equal(saturated.state.maxWorkersReached, 1, 'one episode');
  assert.ok(saturated.effects.some((e) => e.type === 'log' && e.message === 'max workers reached (4): 7 connection(s) waiting in the listen queue; consider raising workers'));
  const next = feed(saturated.state, [[3200, look([idle(100), busy(101), busy(102), busy(103)])], [4300, { type: 'queue-waiting', generation: 1, queue: 2 }]]);
  assert.equal(next.state.maxWorkersReached, 2, 'an idle worker ended the episode');
});

test('a queue the idle workers of a recent look can take is no load: nothing started, the watch waits for the next look; more than they take grows by what waits', () => {
  const p = policy({ startWorkers: 4, minSpare: 1, maxSpare: 2 }, 8);
  const { state } = started(p);
  // 4 idle, above max-spare 2: one retired; 3 idle left to take what waits.
  const shrunk = feed(state, [[10, look([idle(100), idle(101), idle(102), idle(103)])]]);
  assert.deepEqual(acts(shrunk.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 103, signal: 'SIGTERM' }]);
  // A connection caught in the queue on its way to a worker in accept(), 20 ms after the retirement.
  const caught = feed(shrunk.state, [[30, { type: 'queue-waiting', generation: 1, queue: 1 }], [40, exit(103)]]);
  assert.deepEqual(spawns(caught.effects), [], 'the worker just retired is not started again');
  assert.ok(!caught.effects.some((e) => e.type === 'watch-queue'), 'not re-armed before the next look');
  assert.equal(nextDeadline(caught.state), 1010, 'the next look, a second after the last');
  // The look: all three busy; min-spare 1 starts one (the rate, 1) and the watch is armed again after it.
  const looked = feed(caught.state, [[1010, { type: 'deadline' }], [1011, look([busy(100), busy(101), busy(102)])]]);
  assert.equal(spawns(looked.effects).length, 1);
  const ready = feed(looked.state, [[1012, { type: 'spawned', generation: 1, slot: 3, pid: 104 }], [1020, { type: 'listening', pid: 104, how: 'serving' }]]);
  assert.ok(ready.effects.some((e) => e.type === 'watch-queue'), 're-armed after the look');
  // One waits with no idle worker seen: one more, what waits, not the doubled rate (2).
  const grown = feed(ready.state, [[1030, { type: 'queue-waiting', generation: 1, queue: 1 }]]);
  assert.equal(spawns(grown.effects).length, 1);
  assert.equal(grown.state.manager?.growRate, 2, 'the rate is doubled by looks only');
});

test('ondemand: no worker at start, one when a connection waits, retired after idle-timeout, then nothing armed', () => {
  const p = policy({ pm: 'ondemand', startWorkers: 0, idleTimeoutMs: 10_000 }, 4);
  const { state, effects } = feed(initialPoolState(p), [[0, { type: 'start' }]]);
  assert.deepEqual(spawns(effects), []);
  assert.ok(effects.some((e) => e.type === 'started'));
  assert.ok(effects.some((e) => e.type === 'watch-queue'));
  assert.equal(nextDeadline(state), undefined, 'an idle ondemand pool: no timer');
  const first = feed(state, [[100, { type: 'queue-waiting', generation: 1, queue: null }]]);
  assert.deepEqual(spawns(first.effects), [0]);
  const served = feed(first.state, [[101, { type: 'spawned', generation: 1, slot: 0, pid: 300 }], [150, { type: 'listening', pid: 300, how: 'serving' }], [150, look([busy(300)])]]);
  const rest = feed(served.state, [[1150, look([idle(300, 7)])]]);
  assert.equal(nextDeadline(rest.state), 11_150, 'the next look when it would time out');
  const worked = feed(rest.state, [[11_150, { type: 'deadline' }], [11_151, look([idle(300, 9)])]]);
  assert.equal(acts(worked.effects).filter((e) => e.type === 'signal').length, 0, 'it switched context in between: it served');
  const timedOut = feed(worked.state, [[21_151, { type: 'deadline' }], [21_152, look([idle(300, 9)])]]);
  assert.deepEqual(acts(timedOut.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 300, signal: 'SIGTERM' }]);
  const zero = feed(timedOut.state, [[21_200, exit(300)]]);
  assert.deepEqual(zero.state.generations[0]!.slots.map((s) => s.state), ['parked', 'parked', 'parked', 'parked']);
  assert.equal(nextDeadline(zero.state), undefined);
});

test('request-timeout: the same connection without waiting on its client is stopped, reported and counted; new connections or waiting reset it', () => {
  const p = policy({ pm: 'static', startWorkers: 2, requestTimeoutMs: 3000 }, 2);
  const { state } = feed(started(p).state, [[10, { type: 'queue-waiting', generation: 1, queue: 1 }], [10, look([busy(100, 'a'), busy(101, 'x')])]]);
  const kept = feed(state, [
    [1010, look([busy(100, 'a'), busy(101, 'y')])],
    [2010, look([busy(100, 'a'), busy(101, 'y', true)])],
    [3010, look([busy(100, 'a'), busy(101, 'y')])],
  ]);
  assert.deepEqual(acts(kept.effects).filter((e) => e.type === 'report-stuck' || e.type === 'signal'), [{ type: 'report-stuck', pid: 100, busyMs: 3000 }, { type: 'signal', pgid: 100, signal: 'SIGTERM' }]);
  assert.equal(kept.state.requestTimeouts, 1);
  const replaced = feed(kept.state, [[3100, { type: 'exit', pid: 100, status: { code: null, signal: 'SIGTERM' } }]]);
  assert.deepEqual(spawns(replaced.effects), [0], 'the pool replaces it');
});

test('max-lifetime: the replacement first, then the old worker once it is seen idle; the slot it left parks', () => {
  const p = policy({ pm: 'static', startWorkers: 2, maxLifetimeMs: 60_000 }, 2);
  const { state, effects } = started(p);
  assert.ok(!effects.some((e) => e.type === 'watch-queue'), 'a static pool that only recycles by age watches no queue');
  assert.equal(nextDeadline(state), 60_000, 'a static pool that only recycles by age: no look before a worker is due');
  const due = feed(state, [[60_000, { type: 'deadline' }], [60_001, look([busy(100), idle(101)])]]);
  assert.deepEqual(spawns(due.effects), [2, 3], 'one replacement each');
  const replaced = feed(due.state, [
    [60_002, { type: 'spawned', generation: 1, slot: 2, pid: 200 }],
    [60_002, { type: 'spawned', generation: 1, slot: 3, pid: 201 }],
    [60_010, { type: 'listening', pid: 200, how: 'accept' }],
    [60_010, { type: 'listening', pid: 201, how: 'accept' }],
    [61_001, { type: 'deadline' }],
    [61_002, look([busy(100), idle(101), idle(200), idle(201)])],
  ]);
  assert.deepEqual(acts(replaced.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 101, signal: 'SIGTERM' }], 'only the idle one');
  const after = feed(replaced.state, [[61_100, exit(101)], [62_002, { type: 'deadline' }], [62_003, look([idle(100), idle(200), idle(201)])], [62_100, exit(100)]]);
  assert.deepEqual(after.state.generations[0]!.slots.map((s) => s.state), ['parked', 'parked', 'ready', 'ready']);
  assert.equal(spawns(after.effects).length, 0);
});

test('retire-signal generation: shrinking starts a smaller generation instead of signalling a worker', () => {
  const p = policy({ startWorkers: 4, minSpare: 0, maxSpare: 1, retireSignal: 'generation' }, 4);
  const { state } = started(p);
  const shrunk = feed(state, [[10, look([idle(100), idle(101), idle(102), idle(103)])], [11, { type: 'generation-opened', generation: 2 }]]);
  assert.equal(acts(shrunk.effects).filter((e) => e.type === 'signal').length, 0);
  assert.ok(shrunk.effects.some((e) => e.type === 'open-generation'));
  assert.deepEqual(shrunk.state.generations[1]!.slots.map((s) => s.state), ['spawning', 'parked', 'parked', 'parked']);
});

test('a stopping pool whose last worker exits spawns nothing more', () => {
  const p = policy({ pm: 'ondemand', startWorkers: 0 }, 3);
  const { state } = feed(initialPoolState(p), [[0, { type: 'start' }], [10, { type: 'queue-waiting', generation: 1, queue: 1 }], [11, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [50, { type: 'listening', pid: 100, how: 'serving' }]]);
  const stopped = feed(state, [[100, { type: 'signal', signal: 'SIGTERM' }], [120, exit(100)]]);
  assert.deepEqual(spawns(stopped.effects), []);
  assert.ok(stopped.effects.some((e) => e.type === 'exit'));
  assert.equal(stopped.state.phase, 'stopped');
});
