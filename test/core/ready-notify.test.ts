/**
 * core as tables for `ready: notify` (a worker is ready when it writes READY=1 to its ready pipe, whatever /proc
 * shows) and `drain: signal` (draining workers get the stop signal as soon as no new connection can reach them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, nextDeadline, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event } from '../../src/core/events.js';
import { feed, POLICY, running, steered } from './tables.js';

const acts = (effects: readonly Effect[]): Effect[] => effects.filter((e) => e.type !== 'log');
/** What was decided, without the /proc looks that keep watching starting and draining workers. */
const decisions = (effects: readonly Effect[]): Effect[] => acts(effects).filter((e) => e.type !== 'probe' && e.type !== 'probe-drain');
const logs = (effects: readonly Effect[]): string[] => effects.flatMap((e) => (e.type === 'log' ? [e.message] : []));
const exit = (pid: number, code: number | null, signal: string | null = null): Event => ({ type: 'exit', pid, status: { code, signal } });
const slotStates = (state: PoolState, generation = 0): string[] => state.generations[generation]!.slots.map((slot) => slot.state);

/** Start-up of two notify workers (100, 101), spawned at 0. */
const spawnedNotify = (policy: PoolPolicy = POLICY): ReturnType<typeof feed> =>
  feed(initialPoolState(policy), [
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100, notify: true }],
    [0, { type: 'spawned', generation: 1, slot: 1, pid: 101, notify: true }],
  ]);

test('notify: a worker seen on the socket is not ready until READY=1; then start-up completes', () => {
  const spawned = spawnedNotify();
  const listening = feed(spawned.state, [[5, { type: 'listening', pid: 100, how: 'epoll' }], [5, { type: 'listening', pid: 101, how: 'epoll' }]]);
  assert.deepEqual(slotStates(listening.state), ['starting', 'starting'], 'listening while it warms up is not ready');
  assert.equal(listening.state.phase, 'starting');
  assert.equal(listening.state.blocking, false, 'an event loop seen in epoll_wait still makes an auto pool non-blocking');
  const told = feed(listening.state, [[40, { type: 'notified', pid: 100 }], [50, { type: 'notified', pid: 101 }]]);
  assert.deepEqual(slotStates(told.state), ['ready', 'ready']);
  assert.equal(told.state.phase, 'running');
  assert.ok(acts(told.effects).some((e) => e.type === 'started'));
  assert.ok(logs(told.effects).some((m) => /worker 100 \(slot 0, generation 1\) starting→ready \(READY=1 on its ready pipe\)/.test(m)));
  assert.equal(nextDeadline(told.state), undefined, 'an idle pool arms no timer');
});

test('notify: READY=1 before any /proc look asks one look, for the blocking mode of an auto pool', () => {
  const told = feed(spawnedNotify().state, [[1, { type: 'notified', pid: 100 }]]);
  assert.deepEqual(acts(told.effects).filter((e) => e.type === 'probe'), [{ type: 'probe', generation: 1, pid: 100 }]);
  const forced = feed(spawnedNotify({ ...POLICY, blockingMode: 'nonblocking' }).state, [[1, { type: 'notified', pid: 100 }]]);
  assert.deepEqual(acts(forced.effects).filter((e) => e.type === 'probe'), [], 'an explicit mode needs no look');
});

test('notify: a slot without a ready pipe ignores READY events, and a socket slot becomes ready as before', () => {
  const plain = feed(initialPoolState({ ...POLICY, workers: 1 }), [
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }],
    [1, { type: 'notified', pid: 100 }],
  ]);
  assert.deepEqual(slotStates(plain.state), ['starting']);
  const seen = feed(plain.state, [[5, { type: 'listening', pid: 100, how: 'accept' }]]);
  assert.deepEqual(slotStates(seen.state), ['ready']);
});

test('notify: no READY=1 by --start-timeout is a failed start, during start-up and once running', () => {
  const policy = { ...POLICY, workers: 1, startTimeoutMs: 1000 };
  const start = feed(initialPoolState(policy), [[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100, notify: true }], [5, { type: 'listening', pid: 100, how: 'epoll' }]]);
  assert.equal(nextDeadline(start.state) !== undefined && nextDeadline(start.state)! <= 1000, true);
  const late = feed(start.state, [[1000, { type: 'deadline' }]]);
  assert.deepEqual(acts(late.effects).filter((e) => e.type === 'signal'), [{ type: 'signal', pgid: 100, signal: 'SIGKILL' }]);
  assert.ok(logs(late.effects).some((m) => /did not write READY=1 to its ready pipe \(the fd FCGI_SPAWN_READY_FD names\) within 1000 ms: killing it/.test(m)));
  const failed = feed(late.state, [[1001, exit(100, null, 'SIGKILL')]]);
  assert.equal(failed.state.generations[0]!.slots[0]?.failures, 1);
  assert.equal(failed.state.generations[0]!.slots[0]?.state, 'backoff');

  // Once running, a replacement that never says ready is not counted as ready (as a socket worker would be).
  const serving = feed(initialPoolState(policy), [
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100, notify: true }],
    [5, { type: 'notified', pid: 100 }],
    [10, exit(100, 0)],
    [10, { type: 'spawned', generation: 1, slot: 0, pid: 102, notify: true }],
    [1010, { type: 'deadline' }],
  ]);
  assert.equal(serving.state.phase, 'running');
  assert.equal(serving.state.generations[0]!.slots[0]?.state, 'stopping');
  assert.ok(acts(serving.effects).some((e) => e.type === 'signal' && e.pgid === 102 && e.signal === 'SIGKILL'));
});

test('notify: a ready pipe that can no longer say READY=1 fails the start at once, with its reason', () => {
  const { state, effects } = feed(spawnedNotify().state, [[30, { type: 'notify-failed', pid: 100, reason: 'closed its ready pipe without writing READY=1' }]]);
  assert.deepEqual(decisions(effects), [{ type: 'signal', pgid: 100, signal: 'SIGKILL' }]);
  const gone = feed(state, [[31, exit(100, null, 'SIGKILL')]]);
  assert.ok(logs(gone.effects).some((m) => /closed its ready pipe without writing READY=1: failed start 1, retrying in 100 ms/.test(m)));
  // After READY=1 the pipe says nothing more: a late failure changes nothing.
  const ready = feed(spawnedNotify().state, [[5, { type: 'notified', pid: 100 }], [6, { type: 'notify-failed', pid: 100, reason: 'closed' }]]);
  assert.equal(ready.state.generations[0]!.slots[0]?.state, 'ready');
});

test('notify: another line on the pipe is said (quoted, cut) and changes nothing', () => {
  const long = `x\n${'y'.repeat(200)}`;
  const { state, effects } = feed(spawnedNotify().state, [[5, { type: 'notify-noise', pid: 100, line: long }]]);
  assert.deepEqual(decisions(effects), []);
  const [message] = logs(effects);
  assert.match(message ?? '', /^worker 100 \(slot 0, generation 1\) wrote "x\\ny{78}…" to its ready pipe: not READY=1, ignored$/);
  assert.deepEqual(slotStates(state), ['starting', 'starting']);
});

test('notify: a reload steers to the new generation only once every new worker said READY=1', () => {
  const reloading = feed(running(POLICY), [
    [100, { type: 'signal', signal: 'SIGHUP' }],
    [101, { type: 'generation-opened', generation: 2 }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200, notify: true }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201, notify: true }],
    [110, { type: 'listening', pid: 200, how: 'epoll' }],
    [110, { type: 'listening', pid: 201, how: 'epoll' }],
    [300, { type: 'notified', pid: 200 }],
  ]);
  assert.ok(!reloading.effects.some((e) => e.type === 'steer'), 'listening and one READY=1 of two: not yet');
  assert.deepEqual(reloading.state.generations.map((g) => [g.id, g.phase]), [[1, 'serving'], [2, 'starting']]);
  const done = feed(reloading.state, [[900, { type: 'notified', pid: 201 }]]);
  assert.deepEqual(acts(done.effects).filter((e) => e.type === 'steer'), [{ type: 'steer', generation: 2 }]);
  assert.deepEqual(done.state.generations.map((g) => [g.id, g.phase]), [[1, 'draining'], [2, 'serving']]);
});

test('drain: signal stops busy old workers once the steer grace passed and the queue is empty', () => {
  const policy: PoolPolicy = { ...POLICY, drain: 'signal' };
  const start = steered(policy).state;
  const early = feed(start, [[500, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(decisions(early.effects), [], 'within the steer grace nothing happens');
  const queued = feed(start, [[1200, { type: 'drain-status', generation: 1, queue: 2, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(decisions(queued.effects), [], 'connections still queued are left to the old workers');
  const quiet = feed(start, [[1200, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(decisions(quiet.effects), [
    { type: 'signal', pgid: 100, signal: 'SIGTERM' },
    { type: 'signal', pgid: 101, signal: 'SIGTERM' },
  ], 'steered away: no shutdown, the stop signal to each, busy or not');
  const idleOnly = feed(steered(POLICY).state, [[1200, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(decisions(idleOnly.effects), [], 'drain: idle still waits for them');
});

test('drain: signal in a graceful stop of a TCP pool: the empty listener is shut down, then every worker signalled', () => {
  const policy: PoolPolicy = { ...POLICY, drain: 'signal' };
  const quitting = feed(running(policy), [[100, { type: 'signal', signal: 'SIGQUIT' }]]).state;
  const { effects } = feed(quitting, [[120, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(decisions(effects).map((e) => e.type), ['shutdown-socket', 'signal', 'signal']);
});
