/** core/pool as tables: what the way a worker was seen waiting on the socket means for an 'auto' pool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, reconcile, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Event } from '../../src/core/events.js';
import type { Listening } from '../../src/os/worker-activity.js';

const POLICY: PoolPolicy = {
  workers: 1,
  startRetries: 2,
  startSecsMs: 1000,
  startTimeoutMs: 30_000,
  procReadiness: true,
  stopSignal: 'SIGTERM',
  stopTimeoutMs: 10_000,
  blockingMode: 'auto',
  gracefulTimeoutMs: 30_000,
  steerGraceMs: 1000,
  unixSocket: false,
};

function seenAs(how: Listening, policy: PoolPolicy = POLICY): PoolState {
  let state = initialPoolState(policy);
  const events: Event[] = [{ type: 'start' }, { type: 'spawned', generation: 1, slot: 0, pid: 100 }, { type: 'listening', pid: 100, how }];
  for (const event of events) state = reconcile(state, event, 0).state;
  return state;
}

test('a worker seen in accept() keeps an auto pool blocking; one in poll/select or epoll makes it non-blocking', () => {
  assert.equal(seenAs('accept').blocking, true);
  assert.equal(seenAs('serving').blocking, true);
  assert.equal(seenAs('poll').blocking, false);
  assert.equal(seenAs('epoll').blocking, false);
  assert.equal(seenAs('poll', { ...POLICY, blockingMode: 'blocking' }).blocking, true, 'an explicit mode is kept');
  for (const how of ['accept', 'poll', 'epoll', 'serving'] as const) assert.equal(seenAs(how).phase, 'running');
});
