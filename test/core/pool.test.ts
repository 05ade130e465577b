/** core/pool as tables: events in, state and effects out, `now` passed in. No process is involved. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, nextDeadline, reconcile, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event } from '../../src/core/events.js';
import { backoffDelay } from '../../src/core/backoff.js';
import { POLICY } from './tables.js';

interface Run {
  state: PoolState;
  effects: Effect[];
}

/** Feed events at given times; collect every effect (without log lines unless asked). */
function run(events: ReadonlyArray<readonly [number, Event]>, policy: PoolPolicy = POLICY, from?: PoolState): Run {
  let state = from ?? initialPoolState(policy);
  const effects: Effect[] = [];
  for (const [now, event] of events) {
    const result = reconcile(state, event, now);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

const notLog = (effect: Effect): boolean => effect.type !== 'log';
const exit = (pid: number, code: number | null, signal: string | null = null): Event => ({ type: 'exit', pid, status: { code, signal } });

test('start spawns every slot; ready workers complete start-up', () => {
  const { state, effects } = run([
    [0, { type: 'start' }],
    [1, { type: 'spawned', generation: 1, slot: 0, pid: 100 }],
    [1, { type: 'spawned', generation: 1, slot: 1, pid: 101 }],
    [10, { type: 'listening', pid: 100, how: 'accept' }],
    [12, { type: 'listening', pid: 101, how: 'accept' }],
  ]);
  assert.deepEqual(effects.filter(notLog).map((e) => e.type), ['spawn', 'spawn', 'set-blocking', 'set-blocking', 'probe', 'started']);
  assert.equal(state.phase, 'running');
  assert.deepEqual(state.generations[0]!.slots.map((s) => s.state), ['ready', 'ready']);
  assert.equal(nextDeadline(state), undefined, 'an idle pool arms no timer');
});

test('probes run while a worker starts, then stop', () => {
  const started = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }]]);
  assert.equal(nextDeadline(started.state), 5);
  const probed = run([[5, { type: 'deadline' }]], POLICY, started.state);
  assert.deepEqual(probed.effects.filter(notLog), [{ type: 'probe', generation: 1, pid: 100 }, { type: 'probe', generation: 1, pid: 101 }]);
});

test('an exit before readiness is a failed start with doubling backoff', () => {
  const { state, effects } = run([
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }],
    [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }],
    [3, exit(100, 1)],
  ]);
  assert.equal(state.generations[0]!.slots[0]?.state, 'backoff');
  assert.equal(nextDeadline(state), 5, 'the next probe of slot 1 comes first');
  assert.ok(effects.some((e) => e.type === 'log' && /failed start 1, retrying in 100 ms/.test(e.message)));
  const retried = run([[103, { type: 'deadline' }]], POLICY, state);
  assert.ok(retried.effects.some((e) => e.type === 'spawn' && e.generation === 1 && e.slot === 0));
  assert.deepEqual([1, 2, 3, 4, 9, 30].map(backoffDelay), [100, 200, 400, 800, 25_600, 30_000]);
});

test('start-up gives up after startRetries + 1 failed starts and stops the others', () => {
  let { state } = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }], [5, { type: 'listening', pid: 101, how: 'accept' }]]);
  let pid = 100;
  let now = 10;
  const effects: Effect[] = [];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const result = run([[now, exit(pid, 2)], [now + 1000, { type: 'deadline' }], [now + 1000, { type: 'spawned', generation: 1, slot: 0, pid: pid + 10 }]], POLICY, state);
    state = result.state;
    effects.push(...result.effects);
    pid += 10;
    now += 1000;
  }
  assert.equal(state.phase, 'stopping');
  assert.equal(state.exitCode, 1);
  assert.match(state.failure ?? '', /slot 0 failed to start 3 times; last: exited before it was ready \(exit status 2\)/);
  assert.ok(effects.some((e) => e.type === 'signal' && e.pgid === 101 && e.signal === 'SIGTERM'));
  const done = run([[now + 5, exit(101, 0)]], POLICY, state);
  assert.deepEqual(done.effects.filter((e) => e.type === 'exit'), [{ type: 'exit', code: 1, reason: state.failure, failedSlot: 0 }]);
});

test('a ready worker that exits is replaced at once (no backoff), and counted as a restart', () => {
  const ready = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }], [5, { type: 'listening', pid: 100, how: 'accept' }], [5, { type: 'listening', pid: 101, how: 'accept' }]]);
  const { state, effects } = run([[1000, exit(100, 0)]], POLICY, ready.state);
  assert.deepEqual(effects.filter(notLog), [{ type: 'set-blocking', blocking: true }, { type: 'reap-group', pgid: 100, signal: 'SIGTERM' }, { type: 'spawn', generation: 1, slot: 0 }]);
  assert.equal(state.generations[0]!.slots[0]?.restarts, 1);
  assert.equal(state.generations[0]!.slots[0]?.failures, 0);
});

test('stop: stop signal to every group, SIGKILL at the timeout, exit 0 when all are gone', () => {
  const ready = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }], [5, { type: 'listening', pid: 100, how: 'accept' }], [5, { type: 'listening', pid: 101, how: 'accept' }]]);
  const stopping = run([[100, { type: 'signal', signal: 'SIGTERM' }]], POLICY, ready.state);
  assert.deepEqual(stopping.effects.filter((e) => e.type === 'signal'), [
    { type: 'signal', pgid: 100, signal: 'SIGTERM' },
    { type: 'signal', pgid: 101, signal: 'SIGTERM' },
  ]);
  assert.equal(nextDeadline(stopping.state), 10_100);
  const partly = run([[200, exit(100, 0)], [10_100, { type: 'deadline' }]], POLICY, stopping.state);
  assert.deepEqual(partly.effects.filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 101, signal: 'SIGKILL' }]);
  const done = run([[10_110, exit(101, null, 'SIGKILL')]], POLICY, partly.state);
  assert.deepEqual(done.effects.filter((e) => e.type === 'exit'), [{ type: 'exit', code: 0 }]);
  assert.equal(done.state.phase, 'stopped');
});

test('a second TERM while stopping kills at once', () => {
  const ready = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }]]);
  const { effects } = run([[10, { type: 'signal', signal: 'SIGINT' }], [20, { type: 'signal', signal: 'SIGINT' }]], POLICY, ready.state);
  assert.equal(effects.filter((e) => e.type === 'signal' && e.signal === 'SIGKILL').length, 2);
});

test('an epoll waiter switches an auto pool to non-blocking; an explicit mode is kept', () => {
  const events: Array<readonly [number, Event]> = [[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [5, { type: 'listening', pid: 100, how: 'epoll' }]];
  const auto = run(events, { ...POLICY, workers: 1 });
  assert.equal(auto.state.blocking, false);
  assert.ok(auto.effects.some((e) => e.type === 'set-blocking' && !e.blocking));
  const forced = run(events, { ...POLICY, workers: 1, blockingMode: 'blocking' });
  assert.equal(forced.state.blocking, true);
  assert.ok(!forced.effects.some((e) => e.type === 'set-blocking' && !e.blocking));
});

test('start timeout: killed and counted during start-up; counted as ready once running', () => {
  const policy = { ...POLICY, workers: 1, startTimeoutMs: 1000 };
  const starting = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [1000, { type: 'deadline' }]], policy);
  assert.ok(starting.effects.some((e) => e.type === 'signal' && e.signal === 'SIGKILL'));
  const failed = run([[1001, exit(100, null, 'SIGKILL')]], policy, starting.state);
  assert.equal(failed.state.generations[0]!.slots[0]?.failures, 1);
  const running = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [5, { type: 'listening', pid: 100, how: 'accept' }], [10, exit(100, 0)], [10, { type: 'spawned', generation: 1, slot: 0, pid: 101 }], [1010, { type: 'deadline' }]], policy);
  assert.equal(running.state.generations[0]!.slots[0]?.state, 'ready');
});

test('without /proc readiness, --start-secs alive counts as ready', () => {
  const policy = { ...POLICY, workers: 1, procReadiness: false };
  const spawned = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }]], policy);
  assert.equal(nextDeadline(spawned.state), 1000, 'nothing to probe: the only wake-up is --start-secs');
  const { state, effects } = run([[1000, { type: 'deadline' }]], policy, spawned.state);
  assert.equal(state.phase, 'running');
  assert.ok(!effects.some((e) => e.type === 'probe'));
});

test('a group that outlives its leader is looked at again quietly, and killed (and said) only at the stop timeout', () => {
  const ready = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }], [5, { type: 'listening', pid: 100, how: 'accept' }], [5, { type: 'listening', pid: 101, how: 'accept' }]]);
  const lingers = run([[1000, exit(100, 0)], [1000, { type: 'group-lingers', pgid: 100 }]], POLICY, ready.state);
  assert.equal(nextDeadline(lingers.state), 1020, 'looked at again 20 ms later');
  const gone = run([[1020, { type: 'deadline' }], [1021, { type: 'group-gone', pgid: 100 }]], POLICY, lingers.state);
  assert.deepEqual(gone.effects.filter(notLog), [{ type: 'reap-group', pgid: 100 }]);
  assert.deepEqual(gone.state.lingering, []);
  assert.equal(nextDeadline(gone.state), undefined, 'nothing left to look at (the replacement is still being spawned)');
  let state = lingers.state;
  for (let now = 1020; now < 11_000; now += 20) state = run([[now, { type: 'deadline' }], [now, { type: 'group-lingers', pgid: 100 }]], POLICY, state).state;
  const killed = run([[11_000, { type: 'deadline' }]], POLICY, state);
  assert.deepEqual(killed.effects.filter((e) => e.type === 'reap-group'), [{ type: 'reap-group', pgid: 100, force: true }]);
});

test('a stopping pool waits for the groups that outlived their leaders before it exits', () => {
  const ready = run([[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }], [5, { type: 'listening', pid: 100, how: 'accept' }], [5, { type: 'listening', pid: 101, how: 'accept' }]]);
  const stopping = run([[10, { type: 'signal', signal: 'SIGTERM' }], [11, exit(100, 0)], [11, { type: 'group-lingers', pgid: 100 }], [12, exit(101, 0)]], POLICY, ready.state);
  assert.ok(!stopping.effects.some((e) => e.type === 'exit'), 'not while group 100 has members');
  const done = run([[31, { type: 'deadline' }], [31, { type: 'group-gone', pgid: 100 }]], POLICY, stopping.state);
  assert.ok(done.effects.some((e) => e.type === 'exit'));
});
