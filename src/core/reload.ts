/**
 * Reloads and scaling: a new generation is opened, started and steered to, or rolled back; requests
 * that come during a reload are coalesced into one more, never lost; fewer workers come through a
 * new generation, since signalling one of several workers on a shared socket races with accept().
 */
import type { Effect } from './effects.js';
import { newGeneration } from './generation.js';
import { replaceGeneration, servingGeneration, type PoolState } from './pool-state.js';

export function requestReload(state: PoolState, requestId: number | undefined, now: number, effects: Effect[]): PoolState {
  const ids = requestId === undefined ? [] : [requestId];
  if (state.phase === 'quitting' || state.phase === 'stopping') {
    effects.push({ type: 'reload-finished', requestIds: ids, ok: false, message: 'reload refused: the pool is stopping' });
    return state;
  }
  if (state.phase !== 'running' || state.reload) {
    effects.push({ type: 'log', level: 'info', message: 'reload requested during another: it will follow' });
    return { ...state, pendingReload: { requestIds: [...(state.pendingReload?.requestIds ?? []), ...ids] } };
  }
  return beginReload(state, ids, now, effects);
}

export function beginReload(state: PoolState, requestIds: readonly number[], _now: number, effects: Effect[]): PoolState {
  const id = state.nextGeneration;
  effects.push({ type: 'log', level: 'info', message: `reload: starting generation ${id} with ${state.desiredWorkers} worker(s)` });
  effects.push({ type: 'open-generation', generation: id });
  return {
    ...state,
    nextGeneration: id + 1,
    generations: [...state.generations, newGeneration(id, 'opening', 0)],
    reload: { newGeneration: id, requestIds },
  };
}

export function scale(state: PoolState, workers: number, requestId: number | undefined, now: number, effects: Effect[]): PoolState {
  const ids = requestId === undefined ? [] : [requestId];
  const serving = servingGeneration(state);
  if (state.phase !== 'running' || !serving) {
    effects.push({ type: 'reload-finished', requestIds: ids, ok: false, message: `scale refused: the pool is ${state.phase}` });
    return state;
  }
  effects.push({ type: 'log', level: 'info', message: `scale: ${state.desiredWorkers} → ${workers} worker(s)` });
  const scaled = { ...state, desiredWorkers: workers };
  if (workers > serving.slots.length && !state.reload) {
    const added = newGeneration(serving.id, serving.phase, workers - serving.slots.length).slots.map((slot, i) => ({ ...slot, index: serving.slots.length + i }));
    effects.push({ type: 'reload-finished', requestIds: ids, ok: true, message: `scaled to ${workers} worker(s)` });
    return replaceGeneration(scaled, { ...serving, slots: [...serving.slots, ...added] });
  }
  if (workers === serving.slots.length && !state.reload) {
    effects.push({ type: 'reload-finished', requestIds: ids, ok: true, message: `already ${workers} worker(s)` });
    return scaled;
  }
  // Fewer workers: signalling one that shares the socket with the others races with accept();
  // a new generation of the right size takes over instead, without a drop.
  return requestReload(scaled, requestId, now, effects);
}

export function rollback(state: PoolState, generationId: number, why: string, effects: Effect[], opened: boolean, failedSlot?: number): PoolState {
  const generation = state.generations.find((g) => g.id === generationId);
  if (!generation) return state;
  effects.push({ type: 'log', level: 'error', message: `reload failed, generation ${generationId} rolled back: ${why}; the old workers keep serving` });
  if (opened) {
    const next = { ...state, generations: state.generations.filter((g) => g.id !== generationId) };
    return finishReloads(next, false, `reload failed: ${why}`, effects);
  }
  return replaceGeneration(state, { ...generation, phase: 'failing', failure: why, ...(failedSlot !== undefined ? { failedSlot } : {}) });
}

/**
 * Answer the reload under way. A failed reload (rollback) keeps the requests that came during it:
 * they start the next one. Only a stopping pool answers those too, as failed.
 */
export function finishReloads(state: PoolState, ok: boolean, message: string, effects: Effect[], stopping = false, failedWorker?: { generation: number; slot: number }): PoolState {
  if (!state.reload && !(stopping && state.pendingReload)) return state;
  const requestIds = [...(state.reload?.requestIds ?? []), ...(stopping ? (state.pendingReload?.requestIds ?? []) : [])];
  effects.push({ type: 'reload-finished', requestIds, ok, message, ...(failedWorker ? { failedWorker } : {}) });
  const { reload: _done, ...rest } = state;
  return stopping ? { ...rest, pendingReload: undefined } : rest;
}
