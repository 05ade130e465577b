/**
 * core/slot-events as tables: a worker that crashes (a signal, a non-zero status) within --start-secs
 * of becoming ready counts toward its slot's backoff like a failed start; a clean exit (a recycle)
 * is replaced at once; a worker ready for --start-secs has its slot's failures forgiven.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialPoolState, nextDeadline, type PoolPolicy, type PoolState } from '../../src/core/pool.js';
import type { Effect } from '../../src/core/effects.js';
import type { Event, ExitStatus } from '../../src/core/events.js';
import type { Slot } from '../../src/core/slot.js';
import { feed, POLICY as BASE, running as runningPool, steered } from './tables.js';

const POLICY: PoolPolicy = { ...BASE, startRetries: 3, blockingMode: 'blocking' };
const run = feed;

const SEGV: ExitStatus = { code: null, signal: 'SIGSEGV' };
const exit = (pid: number, status: ExitStatus): Event => ({ type: 'exit', pid, status });
const slot0 = (state: PoolState): Slot => state.generations[0]!.slots[0]!;
const spawns = (effects: Effect[]): number => effects.filter((e) => e.type === 'spawn').length;
const logs = (effects: Effect[]): string[] => effects.flatMap((e) => (e.type === 'log' ? [e.message] : []));

/** Workers 100 (slot 0) and 101 (slot 1), ready at 5. */
const running = (): PoolState => runningPool(POLICY);

/** Slot 0's worker `pid`, ready at `at`, crashes 40 ms later; the next is spawned when the backoff ends. */
function crashLoop(from: PoolState, firstPid: number, at: number, times: number, status: ExitStatus = SEGV) {
  let state = from;
  let now = at;
  const effects: Effect[] = [];
  const delays: number[] = [];
  for (let i = 0; i < times; i += 1) {
    const pid = firstPid + i;
    if (i > 0) {
      const crashed = run(state, [[now, { type: 'spawned', generation: 1, slot: 0, pid }], [now + 10, { type: 'listening', pid, how: 'epoll' }]]);
      state = crashed.state;
      effects.push(...crashed.effects);
      now += 10;
    }
    const result = run(state, [[now + 40, exit(pid, status)]]);
    state = result.state;
    effects.push(...result.effects);
    const slot = slot0(state);
    if (slot.state !== 'backoff') return { state, effects, delays, now: now + 40 };
    delays.push(slot.until - (now + 40));
    // The respawn comes at the backoff's end, not before.
    assert.ok((nextDeadline(state) ?? Infinity) <= slot.until);
    const early = run(state, [[slot.until - 1, { type: 'deadline' }]]);
    assert.equal(spawns(early.effects), 0);
    const respawn = run(early.state, [[slot.until, { type: 'deadline' }]]);
    state = respawn.state;
    effects.push(...respawn.effects);
    now = slot.until;
  }
  return { state, effects, delays, now };
}

test('a worker killed by a signal 40 ms after readiness is backed off, doubling, not respawned at once', () => {
  const { state, effects, delays } = crashLoop(running(), 100, 5, 5);
  assert.deepEqual(delays, [100, 200, 400, 800, 1600]);
  assert.equal(spawns(effects), 5, 'one spawn per backoff, none at the crash itself');
  assert.equal(slot0(state).failures, 5);
  assert.equal(slot0(state).restarts, 5, 'each was ready, so each replacement is a restart');
  assert.deepEqual(slot0(state).lastExit, SEGV);
  assert.ok(logs(effects).includes('worker 100 (slot 0, generation 1) ready→exited (killed by SIGSEGV) 40 ms after it became ready: early crash 1, retrying in 100 ms'), logs(effects).join('\n'));
});

test('a non-zero status within --start-secs counts too; status 0 (a recycle) is replaced at once', () => {
  const failing = crashLoop(running(), 100, 5, 2, { code: 1, signal: null });
  assert.deepEqual(failing.delays, [100, 200]);
  const recycled = run(running(), [[90, exit(100, { code: 0, signal: null })]]);
  assert.equal(spawns(recycled.effects), 1, 'replaced in the same dispatch');
  assert.equal(slot0(recycled.state).state, 'spawning');
  assert.equal(slot0(recycled.state).failures, 0);
  assert.equal(slot0(recycled.state).restarts, 1);
});

test('a crash after --start-secs of readiness is replaced at once', () => {
  const { state, effects } = run(running(), [[5 + 1000, exit(100, SEGV)]]);
  assert.equal(spawns(effects), 1);
  assert.equal(slot0(state).failures, 0);
  assert.ok(logs(effects).some((line) => /ready→exited \(killed by SIGSEGV\): respawning$/.test(line)));
});

test('a worker ready for --start-secs has its slot forgiven: the next crash starts the backoff over', () => {
  const looped = crashLoop(running(), 100, 5, 3);
  assert.equal(slot0(looped.state).state, 'spawning');
  const readyAt = looped.now + 10;
  let { state, effects } = run(looped.state, [[looped.now, { type: 'spawned', generation: 1, slot: 0, pid: 200 }], [readyAt, { type: 'listening', pid: 200, how: 'epoll' }]]);
  assert.equal(slot0(state).failures, 3, 'readiness alone forgives nothing');
  assert.equal(nextDeadline(state), readyAt + POLICY.startSecsMs, 'one deadline to forgive, while there is something to forgive');
  ({ state, effects } = run(state, [[readyAt + POLICY.startSecsMs, { type: 'deadline' }]]));
  assert.equal(slot0(state).failures, 0);
  assert.deepEqual(logs(effects), ['worker 200 (slot 0, generation 1) ready for 1000 ms: 3 earlier failure(s) forgiven']);
  assert.equal(nextDeadline(state), undefined, 'an idle pool arms no timer');
  // Its own crash, later, is replaced at once; a replacement that crashes right after readiness is failure 1 again.
  const later = readyAt + 1500;
  const again = run(state, [[later, exit(200, SEGV)], [later, { type: 'spawned', generation: 1, slot: 0, pid: 201 }], [later + 10, { type: 'listening', pid: 201, how: 'epoll' }], [later + 50, exit(201, SEGV)]]);
  const slot = slot0(again.state);
  assert.ok(slot.state === 'backoff' && slot.until === later + 50 + 100 && slot.failures === 1, JSON.stringify(slot));
});

test('during start-up, crashes right after readiness use up the start retries: start fails', () => {
  let state = run(initialPoolState(POLICY), [
    [0, { type: 'start' }],
    [0, { type: 'spawned', generation: 1, slot: 0, pid: 100 }],
    [0, { type: 'spawned', generation: 1, slot: 1, pid: 101 }],
    [20, { type: 'listening', pid: 100, how: 'accept' }],
  ]).state;
  const looped = crashLoop(state, 100, 20, POLICY.startRetries + 1);
  state = looped.state;
  assert.equal(state.phase, 'stopping');
  assert.equal(state.exitCode, 1);
  assert.match(state.failure ?? '', /^slot 0 failed to start 4 times; last: ready→exited \(killed by SIGSEGV\) 40 ms after it became ready$/);
});

test('a crash in a draining generation is not counted: the slot is simply gone', () => {
  const reloading = steered(POLICY);
  const old = reloading.state.generations.find((g) => g.id === 1);
  assert.equal(old?.phase, 'draining');
  const { state, effects } = run(reloading.state, [[120, exit(100, SEGV)]]);
  assert.equal(spawns(effects), 0);
  const slot = state.generations.find((g) => g.id === 1)?.slots[0];
  assert.equal(slot?.state, 'empty');
  assert.equal(slot?.failures, 0);
});
