/**
 * core: a reload on a socket the new generation shares (a Unix socket systemd passed: never renamed away from its
 * path). Nothing is steered or shut down; each old worker a look sees waiting is retired with the retire signal,
 * whatever the shared queue holds; a busy one is left to finish.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Effect } from '../../src/core/effects.js';
import type { Event } from '../../src/core/events.js';
import type { PoolPolicy, PoolState } from '../../src/core/pool.js';
import { feed, POLICY as BASE, running } from './tables.js';

const POLICY: PoolPolicy = { ...BASE, unixSocket: true, retireSignal: 'SIGQUIT' };
const acts = (effects: Effect[]): Effect[] => effects.filter((e) => e.type !== 'log' && e.type !== 'probe-drain');
const exit = (pid: number): Event => ({ type: 'exit', pid, status: { code: 0, signal: null } });

function sharedReload(): { state: PoolState; effects: Effect[] } {
  return feed(running(POLICY), [
    [100, { type: 'signal', signal: 'SIGHUP' }],
    [101, { type: 'generation-opened', generation: 2, shared: true }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [110, { type: 'listening', pid: 200, how: 'accept' }],
    [110, { type: 'listening', pid: 201, how: 'accept' }],
  ]);
}

test('the new generation on the shared socket is ready: no steering, both generations marked as sharing it', () => {
  const { state, effects } = sharedReload();
  assert.ok(!effects.some((e) => e.type === 'steer'), 'nothing to steer on one socket');
  assert.deepEqual(state.generations.map((g) => [g.id, g.phase, g.sharedSocket]), [[1, 'draining', true], [2, 'serving', true]]);
  assert.match(effects.filter((e) => e.type === 'log').map((e) => (e as { message: string }).message).join('\n'), /same socket \(systemd's\); retiring each old worker \(SIGQUIT\) once seen idle/);
});

test('each old worker seen idle is retired with the retire signal at once, queue or not; a busy one is left; never a shutdown', () => {
  const start = sharedReload().state;
  // No steer grace to wait out (nothing was steered), and the queue is the new workers' too.
  const first = feed(start, [[111, { type: 'drain-status', generation: 1, queue: 5, busy: [101], idle: [100] }]]);
  assert.deepEqual(acts(first.effects), [{ type: 'signal', pgid: 100, signal: 'SIGQUIT' }]);
  const second = feed(first.state, [[140, { type: 'drain-status', generation: 1, queue: null, busy: [], idle: [], listening: [101] }]]);
  assert.deepEqual(acts(second.effects), [{ type: 'signal', pgid: 101, signal: 'SIGQUIT' }]);
  const done = feed(second.state, [[150, exit(100)], [160, exit(101)]]);
  assert.ok(!done.effects.some((e) => e.type === 'shutdown-socket'));
  assert.deepEqual(acts(done.effects).filter((e) => e.type === 'close-socket' || e.type === 'reload-finished'), [
    { type: 'close-socket', generation: 1 },
    { type: 'reload-finished', requestIds: [], ok: true, message: 'reloaded: generation 2 serving' },
  ]);
  assert.deepEqual(done.state.generations.map((g) => g.id), [2]);
});

test('a worker seen busy is never signalled, until the graceful timeout stops it with the stop signal', () => {
  const start = sharedReload().state;
  const busy = feed(start, [[111, { type: 'drain-status', generation: 1, queue: 0, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(acts(busy.effects), []);
  const late = feed(busy.state, [[30_200, { type: 'deadline' }]]);
  assert.deepEqual(acts(late.effects).filter((e) => e.type === 'signal'), [
    { type: 'signal', pgid: 100, signal: 'SIGTERM' },
    { type: 'signal', pgid: 101, signal: 'SIGTERM' },
  ]);
});

test('drain: signal on the shared socket: every old worker gets the stop signal at the first look, busy or not', () => {
  const policy: PoolPolicy = { ...POLICY, drain: 'signal' };
  const { state } = feed(running(policy), [
    [100, { type: 'signal', signal: 'SIGHUP' }],
    [101, { type: 'generation-opened', generation: 2, shared: true }],
    [101, { type: 'spawned', generation: 2, slot: 0, pid: 200 }],
    [101, { type: 'spawned', generation: 2, slot: 1, pid: 201 }],
    [110, { type: 'listening', pid: 200, how: 'epoll' }],
    [110, { type: 'listening', pid: 201, how: 'epoll' }],
  ]);
  const { effects } = feed(state, [[111, { type: 'drain-status', generation: 1, queue: 3, busy: [100, 101], idle: [] }]]);
  assert.deepEqual(acts(effects), [
    { type: 'signal', pgid: 100, signal: 'SIGTERM' },
    { type: 'signal', pgid: 101, signal: 'SIGTERM' },
  ]);
});
