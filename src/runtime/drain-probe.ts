/** What /proc and TCP_INFO show of a draining generation: its queue, its busy and its idle workers. */
import type { DrainObservation } from '../core/events.js';
import type { Generation } from '../core/generation.js';
import { hasProcess } from '../core/slot.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { ConnectionLook } from '../os/connections.js';
import { workerActivity } from '../os/worker-activity.js';

/**
 * The queue is read before the workers: once it is empty after steering it stays empty, so a worker
 * seen waiting afterwards cannot be handed a connection any more (read after, a worker scanned
 * early could have taken the last queued connection in between).
 */
export function observeDrain(generation: Generation, socket: ListenSocket): DrainObservation {
  // TCP through TCP_INFO, Unix through sock_diag (null where neither answers).
  const queue = socket.queue()?.length ?? null;
  const busy: number[] = [];
  const idle: number[] = [];
  const listening: number[] = [];
  const look = new ConnectionLook(socket.identity);
  for (const slot of generation.slots.filter(hasProcess)) {
    if (slot.state === 'stopping') continue;
    const activity = workerActivity(slot.pid, socket.identity, look)?.activity;
    if (activity === 'idle') idle.push(slot.pid);
    else if (activity === 'listening') listening.push(slot.pid);
    else busy.push(slot.pid);
  }
  return { queue, busy, idle, listening };
}
