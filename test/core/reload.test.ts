/** core reloads as tables: steering, draining without signalling busy workers, rollback, coalescing, graceful stop. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PoolPolicy, PoolState } from '../../src/core/pool.js';
import { feed, POLICY as BASE, running as runningPool, steered as steeredPool } from './tables.js';
import { initialPoolState } from '../../src/core/pool-state.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event } from '../../src/core/events.js';

const POLICY: PoolPolicy = { ...BASE, startRetries: 1, blockingMode: 'blocking' };
const run = feed;

const acts = (effects: Effect[]): Effect[] => effects.filter((e) => e.type !== 'log');
/** What was decided, without the probes that keep watching a draining generation. */
const decisions = (effects: Effect[]): Effect[] => acts(effects).filter((e) => e.type !== 'probe-drain');
const exit = (pid: number): Event => ({ type: 'exit', pid, status: { code: 0, signal: null } });

/** A running pool: generation 1 with workers 100 and 101. */
const running = (policy = POLICY): PoolState => runningPool(policy);

/** Reloaded up to steering: generation 2 (200, 201) serving, generation 1 draining. */
const steered = (): { state: PoolState; effects: Effect[] } => steeredPool(POLICY);

test('HUP opens a generation; its workers ready → steer to it, drain the old', () => {
  const { state, effects } = steered();
  assert.deepEqual(acts(effects).map((e) => e.type), ['open-generation', 'spawn', 'spawn', 'set-blocking', 'set-blocking', 'probe', 'steer']);
  assert.deepEqual(state.generations.map((g) => [g.id, g.phase]), [[1, 'draining'], [2, 'serving']]);
  assert.ok(!effects.some((e) => e.type === 'signal'), 'nothing signalled at steering time');
});

test('draining waits out the steer grace, never signals a busy worker, and shuts the listener only when all are idle', () => {
  const start = steered().state;
  const early = run(start, [[500, { type: 'drain-status', generation: 1, queue: 0, busy: [], idle: [100, 101] }]]);
  assert.deepEqual(acts(early.effects), [], 'within the steer grace nothing happens');
  const oneBusy = run(start, [[1200, { type: 'drain-status', generation: 1, queue: 0, busy: [101], idle: [100] }]]);
  assert.deepEqual(decisions(oneBusy.effects), [{ type: 'signal', pgid: 100, signal: 'SIGTERM' }]);
  const queued = run(start, [[1200, { type: 'drain-status', generation: 1, queue: 3, busy: [], idle: [] }]]);
  assert.deepEqual(decisions(queued.effects), [], 'a non-empty queue is left to the old workers');
  const idle = run(oneBusy.state, [[1300, { type: 'drain-status', generation: 1, queue: 0, busy: [], idle: [101] }]]);
  assert.deepEqual(decisions(idle.effects), [{ type: 'shutdown-socket', generation: 1 }, { type: 'signal', pgid: 101, signal: 'SIGTERM' }]);
  const done = run(idle.state, [[1310, exit(100)], [1320, exit(101)]]);
  const finished = done.effects.filter((e) => e.type === 'close-socket' || e.type === 'reload-finished');
  assert.deepEqual(finished, [{ type: 'close-socket', generation: 1 }, { type: 'reload-finished', requestIds: [], ok: true, message: 'reloaded: generation 2 serving' }]);
  assert.deepEqual(done.state.generations.map((g) => g.id), [2]);
});

test('a busy worker is stopped at the graceful timeout', () => {
  const { state } = run(steered().state, [[1200, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  const late = run(state, [[30_200, { type: 'deadline' }]]);
  assert.equal(acts(late.effects).filter((e) => e.type === 'signal').length, 2);
});

test('new workers that cannot start: rolled back, the old generation keeps serving', () => {
  let { state } = run(running(), [
    [100, { type: 'reload', requestId: 7 }],
    [101, { type: 'generation-opened', generation: 2 }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [105, { type: 'listening', pid: 201, how: 'accept' }],
    [106, { type: 'exit', pid: 200, status: { code: 3, signal: null } }],
    [300, { type: 'deadline' }],
    [300, { type: 'spawned', generation: 2, slot: 0, pid: 202 }],
  ]);
  const failed = run(state, [[301, { type: 'exit', pid: 202, status: { code: 3, signal: null } }]]);
  assert.deepEqual(acts(failed.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 201, signal: 'SIGTERM' }]);
  assert.ok(!failed.effects.some((e) => e.type === 'steer'));
  state = run(failed.state, [[400, exit(201)]]).state;
  const result = run(failed.state, [[400, exit(201)]]).effects.find((e) => e.type === 'reload-finished');
  assert.ok(result && result.type === 'reload-finished' && !result.ok && result.requestIds[0] === 7, JSON.stringify(result));
  assert.deepEqual(state.generations.map((g) => [g.id, g.phase]), [[1, 'serving']]);
});

test('a reload asked for during one follows it, once, answering every request', () => {
  const { state } = run(running(), [
    [100, { type: 'reload', requestId: 1 }],
    [101, { type: 'reload', requestId: 2 }],
    [102, { type: 'reload', requestId: 3 }],
  ]);
  assert.deepEqual(state.pendingReload?.requestIds, [2, 3]);
  const through = run(state, [
    [103, { type: 'generation-opened', generation: 2 }],
    [103, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [103, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [110, { type: 'listening', pid: 200, how: 'accept' }],
    [110, { type: 'listening', pid: 201, how: 'accept' }],
    [1200, { type: 'drain-status', generation: 1, queue: 0, busy: [], idle: [100, 101] }],
    [1210, exit(100)],
    [1210, exit(101)],
  ]);
  const answered = through.effects.filter((e) => e.type === 'reload-finished');
  assert.deepEqual(answered.map((e) => e.type === 'reload-finished' && e.requestIds), [[1]]);
  assert.ok(through.effects.some((e) => e.type === 'open-generation' && e.generation === 3), 'the coalesced reload started');
  assert.deepEqual(through.state.reload?.requestIds, [2, 3]);
});

test('graceful stop of a TCP pool: nothing until every worker is idle, then shutdown and stop together', () => {
  const quitting = run(running(), [[100, { type: 'signal', signal: 'SIGQUIT' }]]).state;
  const busy = run(quitting, [[120, { type: 'drain-status', generation: 1, queue: 0, busy: [100], idle: [101] }]]);
  assert.deepEqual(decisions(busy.effects), [], 'new connections can still arrive: no worker is signalled alone');
  const idle = run(busy.state, [[140, { type: 'drain-status', generation: 1, queue: 0, busy: [], idle: [100, 101] }]]);
  assert.deepEqual(decisions(idle.effects).map((e) => e.type), ['shutdown-socket', 'signal', 'signal']);
  const done = run(idle.state, [[150, exit(100)], [150, exit(101)]]);
  assert.deepEqual(done.effects.filter((e) => e.type === 'exit'), [{ type: 'exit', code: 0 }]);
});

test('graceful stop of a Unix pool removes the path first', () => {
  const { effects } = run(running({ ...POLICY, unixSocket: true }), [[100, { type: 'signal', signal: 'SIGQUIT' }]]);
  assert.deepEqual(acts(effects), [{ type: 'unlink-path' }]);
});

test('a reload asked for during one that fails is not lost: it starts next', () => {
  const { state, effects } = run(running(), [
    [100, { type: 'reload', requestId: 1 }],
    [101, { type: 'generation-opened', generation: 2 }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [102, { type: 'reload', requestId: 2 }],
    [103, { type: 'generation-failed', generation: 9, reason: 'unrelated' }],
    [104, { type: 'exit', pid: 200, status: { code: 3, signal: null } }],
    [400, { type: 'deadline' }],
    [400, { type: 'spawned', generation: 2, slot: 0, pid: 202 }],
    [401, { type: 'exit', pid: 202, status: { code: 3, signal: null } }],
    [402, exit(201)],
  ]);
  const answered = effects.filter((e) => e.type === 'reload-finished');
  assert.deepEqual(answered.map((e) => e.type === 'reload-finished' && [e.requestIds, e.ok]), [[[1], false]]);
  assert.ok(effects.some((e) => e.type === 'open-generation' && e.generation === 3), 'the request that came during the failed reload starts the next one');
  assert.deepEqual(state.reload?.requestIds, [2]);
});
