import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { test } from 'node:test';
import { HeapTrim, supervisorHeapTrim } from '../../src/runtime/heap-trim.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;

/** A heap whose use the test sets; each collection brings it back to `live`; `looks` counts the trim's readings. */
function fakeHeap(live: number, quietMs: number): { used: number; collections: number; looks: number; trim: HeapTrim } {
  const heap = { used: live, collections: 0, looks: 0 } as { used: number; collections: number; looks: number; trim: HeapTrim };
  heap.trim = new HeapTrim({
    collect: () => {
      heap.collections += 1;
      heap.used = live;
    },
    usedBytes: () => {
      heap.looks += 1;
      return heap.used;
    },
    quietMs,
    minGrowthBytes: 4 * MiB,
  });
  return heap;
}

test('a burst of spawns that grew the heap is followed by one collection once the spawns stop, and no timer after it', async () => {
  const heap = fakeHeap(20 * MiB, 30);
  for (let i = 0; i < 5; i += 1) {
    heap.used += 2 * MiB;
    heap.trim.spawned();
  }
  assert.equal(heap.collections, 0);
  await waitFor('the collection after the burst', () => heap.collections === 1);
  assert.equal(heap.trim.armed, false, 'a timer is still armed with nothing spawned');
  heap.trim.stop();
});

test('spawns that hardly grew the heap leave it to V8', async () => {
  const heap = fakeHeap(20 * MiB, 10);
  heap.used += MiB;
  heap.trim.spawned();
  const looks = heap.looks;
  await waitFor('the look after the quiet spell', () => heap.looks > looks);
  assert.equal(heap.collections, 0);
  assert.equal(heap.trim.armed, false);
  heap.trim.stop();
});

test('spawns keep pushing the look back while they go on', async () => {
  const heap = fakeHeap(20 * MiB, 80);
  heap.used += 10 * MiB;
  const until = Date.now() + 200;
  while (Date.now() < until) {
    heap.trim.spawned();
    assert.equal(heap.collections, 0, 'collected while spawns were still coming');
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor('the collection after the last spawn', () => heap.collections === 1);
  heap.trim.stop();
});

test('stop disarms it', () => {
  const heap = fakeHeap(20 * MiB, 10_000);
  heap.trim.spawned();
  assert.equal(heap.trim.armed, true);
  heap.trim.stop();
  assert.equal(heap.trim.armed, false);
});

test("the supervisor's trim gets a real full collection from V8, and gc stays out of the global scope", () => {
  const trim = supervisorHeapTrim();
  assert.ok(trim, 'no full collection available');
  let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `object ${i}` }));
  assert.ok(garbage.length > 0);
  const before = getHeapStatistics().used_heap_size;
  garbage = undefined;
  (trim as unknown as { options: { collect: () => void } }).options.collect();
  assert.ok(getHeapStatistics().used_heap_size < before - 4 * MiB, 'the garbage was not collected');
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'gc leaked into the global scope');
  trim.stop();
});
