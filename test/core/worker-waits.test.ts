/** core/pool as tables: what the way a worker was seen waiting on the socket means for an 'auto' pool. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Listening } from '../../src/os/worker-activity.js';
import { feed, POLICY as BASE } from './tables.js';

const POLICY: PoolPolicy = { ...BASE, workers: 1 };

function seenAs(how: Listening, policy: PoolPolicy = POLICY): PoolState {
  return feed(initialPoolState(policy), [[0, { type: 'start' }], [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }], [0, { type: 'listening', pid: 100, how }]]).state;
}

test('a worker seen in accept() keeps an auto pool blocking; one in poll/select or epoll makes it non-blocking', () => {
  assert.equal(seenAs('accept').blocking, true);
  assert.equal(seenAs('serving').blocking, true);
  assert.equal(seenAs('poll').blocking, false);
  assert.equal(seenAs('epoll').blocking, false);
  assert.equal(seenAs('poll', { ...POLICY, blockingMode: 'blocking' }).blocking, true, 'an explicit mode is kept');
  for (const how of ['accept', 'poll', 'epoll', 'serving'] as const) assert.equal(seenAs(how).phase, 'running');
});
