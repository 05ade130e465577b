/**
 * The process manager's effects for one pool (core/manager.ts decides them): arming the queue watch, a /proc look
 * at the serving generation's ready workers, and the log line of a worker stopped for request-timeout. Each answers
 * only through events.
 */
import type { Effect } from '../core/effects.js';
import type { Event, WorkerSample } from '../core/events.js';
import type { Generation } from '../core/generation.js';
import type { Logger, LogFields } from '../log/logger.js';
import { ConnectionLook } from '../os/connections.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { blockedIn, sampleWorker } from '../os/worker-sample.js';
import { unwatchQueue, watchQueue } from './queue-watch.js';

export type ManagerEffect = Extract<Effect, { type: 'watch-queue' | 'sample' | 'report-stuck' }>;

export interface ManagerHands {
  readonly name: string;
  readonly sockets: PoolSockets;
  readonly generations: () => readonly Generation[];
  /** From a callback (the watch thread's message): dispatched at once. */
  readonly enqueue: (event: Event) => void;
  /** During a dispatch: after the current event. */
  readonly report: (event: Event) => void;
  readonly log: (level: Parameters<Logger['log']>[0], message: string, fields?: LogFields) => void;
}

export function executeManagerEffect(effect: ManagerEffect, hands: ManagerHands): void {
  switch (effect.type) {
    case 'watch-queue': {
      const socket = hands.sockets.get(effect.generation);
      if (!socket) return;
      const { generation } = effect;
      watchQueue(hands.name, socket.fd, () => hands.enqueue({ type: 'queue-waiting', generation, queue: hands.sockets.get(generation)?.queue()?.length ?? null }));
      return;
    }
    case 'sample': {
      const socket = hands.sockets.get(effect.generation);
      const generation = hands.generations().find((g) => g.id === effect.generation);
      const workers: WorkerSample[] = [];
      if (socket && generation) {
        const look = new ConnectionLook(socket.identity);
        for (const slot of generation.slots) {
          if (slot.state !== 'ready') continue;
          const sample = sampleWorker(slot.pid, socket.identity, look, effect.memory);
          if (sample) workers.push(sample);
        }
      }
      hands.report({ type: 'pool-sample', generation: effect.generation, workers });
      return;
    }
    case 'report-stuck': {
      const { wchan, syscall } = blockedIn(effect.pid);
      hands.log('warn', `request timeout: worker ${effect.pid} busy with the same connection for ${effect.busyMs} ms, blocked in ${wchan} (syscall ${syscall}): stopping it`, {
        pid: effect.pid,
        busy_ms: effect.busyMs,
        wchan,
        syscall,
      });
      return;
    }
  }
}

export function forgetQueue(name: string, fd?: number): void {
  unwatchQueue(name, fd);
}
