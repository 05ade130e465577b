/**
 * A worker slot: one place in the pool, filled by a succession of worker processes. Its state says
 * what the process in it is doing (or why there is none); nothing else records it.
 */
import type { ExitStatus } from './events.js';
import type { Listening } from '../os/worker-activity.js';

export interface SlotBase {
  readonly index: number;
  /** Processes that ended after they were ready (crash, recycle) and were replaced. */
  readonly restarts: number;
  /**
   * Consecutive failures: exits before readiness, and crashes (a signal, a non-zero status) within
   * --start-secs of it; forgiven once a worker has been ready that long.
   */
  readonly failures: number;
  readonly lastExit?: ExitStatus;
}

export type SlotState =
  /** No process; wants one now while the pool runs. */
  | { readonly state: 'empty' }
  /** No process, and none wanted now: a place a dynamic or ondemand pool may grow into (core/manager.ts). */
  | { readonly state: 'parked' }
  /** No process; waits after failed starts. */
  | { readonly state: 'backoff'; readonly until: number }
  /** The spawn was asked for; its pid comes with the next event. */
  | { readonly state: 'spawning' }
  | {
      readonly state: 'starting';
      readonly pid: number;
      readonly startedAt: number;
      readonly probeAt: number;
      readonly probeEveryMs: number;
      readonly deadline: number;
      /** Ready only when it says so on its ready pipe (ready: notify); /proc looks still tell the blocking mode. */
      readonly notify?: boolean;
    }
  | { readonly state: 'ready'; readonly pid: number; readonly startedAt: number; readonly readyAt: number; readonly how: Listening | 'timer' | 'notify' }
  | {
      readonly state: 'stopping';
      readonly pid: number;
      readonly startedAt: number;
      readonly killAt: number;
      readonly killed: boolean;
      /** Set when the pool stopped it for not becoming ready: its exit counts as a failed start. */
      readonly failedStart?: string;
      /** Retired by the process manager (shrinking, recycled after its replacement): the slot parks, no respawn. */
      readonly park?: boolean;
    };

export type Slot = SlotBase & SlotState;

export type SlotWithProcess = Extract<Slot, { readonly pid: number }>;

export function hasProcess(slot: Slot): slot is SlotWithProcess {
  return slot.state === 'starting' || slot.state === 'ready' || slot.state === 'stopping';
}

/** Alive, or about to be: the pool must wait for it before it may exit. */
export function isOccupied(slot: Slot): boolean {
  return hasProcess(slot) || slot.state === 'spawning';
}

export function emptySlot(index: number): Slot {
  return { index, restarts: 0, failures: 0, state: 'empty' };
}

/** Replace the state part of a slot, keeping its counters unless overridden. */
export function moveSlot(slot: Slot, next: SlotState & Partial<SlotBase>): Slot {
  const { index, restarts, failures, lastExit } = slot;
  return { index, restarts, failures, ...(lastExit ? { lastExit } : {}), ...next } as Slot;
}
