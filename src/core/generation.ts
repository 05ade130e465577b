/**
 * A generation: one socket and the workers on it. A pool has one serving generation; a reload adds
 * a new one (opening → starting → serving) and drains the old (draining → removed); a failed reload
 * rolls the new one back (failing → removed).
 */
import type { Slot } from './slot.js';
import { emptySlot, hasProcess, isOccupied } from './slot.js';

export type GenerationPhase = 'opening' | 'starting' | 'serving' | 'draining' | 'failing';

export interface Generation {
  readonly id: number;
  readonly phase: GenerationPhase;
  readonly slots: readonly Slot[];
  /** Draining: no new connection can reach its socket any more, so idle workers may be retired one by one. */
  readonly steered: boolean;
  /** Draining: before this, handshakes under way may still land in the queue. */
  readonly quietAt: number;
  /** Draining: then the workers still busy are stopped as by TERM. */
  readonly drainDeadline: number;
  readonly probeAt: number;
  readonly shutDown: boolean;
  /**
   * Its socket is another generation's too (a Unix socket systemd passed us: never renamed away from its path).
   * Nothing can be steered: draining, each old worker is retired with the retire signal as soon as a look sees it
   * idle, while the new workers take the shared queue; never shut down.
   */
  readonly sharedSocket?: boolean;
  /** Failing: why the generation is rolled back, and the slot that gave up (its last stderr line tells more). */
  readonly failure?: string;
  readonly failedSlot?: number;
}

export function newGeneration(id: number, phase: GenerationPhase, workers: number): Generation {
  return {
    id,
    phase,
    slots: Array.from({ length: workers }, (_, index) => emptySlot(index)),
    steered: false,
    quietAt: 0,
    drainDeadline: 0,
    probeAt: 0,
    shutDown: false,
  };
}

export function startDraining(generation: Generation, now: number, steered: boolean, graceMs: number, gracefulTimeoutMs: number): Generation {
  const quietAt = now + (steered ? graceMs : 0);
  return { ...generation, phase: 'draining', steered, quietAt, probeAt: quietAt, drainDeadline: now + gracefulTimeoutMs };
}

export function replaceSlot(generation: Generation, slot: Slot): Generation {
  return { ...generation, slots: generation.slots.map((s) => (s.index === slot.index ? slot : s)) };
}

export function isEmpty(generation: Generation): boolean {
  return !generation.slots.some(isOccupied);
}

export function allReady(generation: Generation): boolean {
  // Parked slots want no process: an ondemand generation (every slot parked) is ready at once.
  return generation.slots.length > 0 && generation.slots.every((slot) => slot.state === 'ready' || slot.state === 'parked');
}

export function pids(generation: Generation): number[] {
  return generation.slots.filter(hasProcess).map((slot) => slot.pid);
}
