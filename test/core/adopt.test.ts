/** core/adopt as a table: the state an upgraded program starts from, and the reload that retires what it adopted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Configuration } from '../../src/config/types.js';
import { poolConfig as pool } from './tables.js';
import { adoptedSupervisorState } from '../../src/core/adopt.js';
import { reconcileSupervisor } from '../../src/core/supervisor.js';


const configuration: Configuration = {
  supervisor: { name: 'test', daemon: false, daemonized: false, logLevel: 'info', logFormat: 'text', watchConfig: false, sourceFiles: [] },
  pools: [pool('web', 9000, { workers: 2 })],
};

const adopted = new Map([['web', { name: 'web', generation: 4, nextGeneration: 5, desiredWorkers: 2, blocking: true, workers: [{ slot: 0, pid: 101, ageMs: 5000, restarts: 1 }, { slot: 1, pid: 102, ageMs: 4000, restarts: 0 }] }]]);

test('adopted pools run at once: their generation serving under its own number, its workers ready, their age and restarts kept', () => {
  const state = adoptedSupervisorState(configuration, true, adopted, 10_000);
  assert.equal(state.phase, 'running');
  const web = state.pools[0]?.state;
  assert.equal(web?.phase, 'running');
  assert.equal(web?.nextGeneration, 5);
  assert.deepEqual(web?.generations.map((g) => [g.id, g.phase]), [[4, 'serving']]);
  assert.deepEqual(web?.generations[0]?.slots.map((slot) => (slot.state === 'ready' ? [slot.pid, slot.startedAt, slot.restarts] : slot.state)), [[101, 5000, 1], [102, 6000, 0]]);
});

test('a reload of an adopted pool opens the next generation beside it, as any reload does', () => {
  const state = adoptedSupervisorState(configuration, true, adopted, 10_000);
  const asked = reconcileSupervisor(state, { type: 'reload', requestId: 1 }, 10_000);
  assert.ok(asked.effects.some((effect) => effect.type === 'load-config'));
  const loaded = reconcileSupervisor(asked.state, { type: 'config-loaded', configuration }, 10_001);
  const opened = loaded.effects.filter((effect) => effect.type === 'pool' && effect.effect.type === 'open-generation');
  assert.deepEqual(opened.map((effect) => effect.type === 'pool' && effect.effect.type === 'open-generation' && effect.effect.generation), [5]);
  // Nothing is signalled before the new generation serves.
  assert.equal(loaded.effects.some((effect) => effect.type === 'pool' && effect.effect.type === 'signal'), false);
});
