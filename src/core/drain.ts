/**
 * Retiring a draining generation without dropping a request (DESIGN.md "Reload without drops"):
 * never signal a worker that is busy, nor one that can still be handed a connection. Once no new
 * connection can reach the socket (steered away, or the Unix path removed) and its queue is empty,
 * an idle worker is retired at once; a pool that cannot be steered away (graceful stop of TCP) waits
 * until every worker is idle, then shuts the listener down and retires them all together.
 */
import type { DrainObservation } from './events.js';
import type { Effect } from './effects.js';
import { replaceSlot, type Generation } from './generation.js';
import { stop, type ConvergeContext } from './converge.js';
import { hasProcess, type Slot } from './slot.js';

/**
 * drain: signal. Workers that finish what they hold on the stop signal get it as soon as no new connection can
 * reach them, busy or not: an event loop holding kept-alive connections is never idle. Where nothing steered new
 * connections away (a graceful stop of a TCP pool), the empty listener is shut down first, so that new ones are
 * refused rather than queued where no worker accepts any more; never a socket systemd passed (shared).
 */
function signalAll(generation: Generation, waiting: readonly Slot[], context: ConvergeContext): Generation {
  let next = generation;
  if (!generation.steered && !generation.shutDown && !generation.sharedSocket && waiting.length > 0) {
    context.effects.push({ type: 'shutdown-socket', generation: generation.id } satisfies Effect);
    next = { ...next, shutDown: true };
  }
  for (const slot of waiting) if (slot.state === 'starting' || slot.state === 'ready') next = replaceSlot(next, stop(next, slot, context));
  return next;
}

function queueEmpty(generation: Generation, observed: DrainObservation): boolean {
  if (observed.queue !== null) return observed.queue === 0;
  // Unix where sock_diag cannot tell the queue (no unix_diag): a worker blocked in accept() would have taken any
  // queued connection, so one idle worker proves it empty; a pool of event-loop workers (every one
  // waiting in epoll_wait) accepts as soon as it can, so once quiet its queue is taken as empty.
  if (observed.idle.length > 0) return true;
  const waiting = generation.slots.filter((slot) => slot.state === 'starting' || slot.state === 'ready');
  return waiting.length > 0 && waiting.every((slot) => observed.listening?.includes(slot.pid));
}

export function applyDrainStatus(generation: Generation, observed: DrainObservation, context: ConvergeContext): Generation {
  if (generation.phase !== 'draining' || context.now < generation.quietAt) return generation;
  const waiting = generation.slots.filter((slot) => slot.state === 'starting' || slot.state === 'ready');
  // On a shared socket the new workers take whatever is queued: workers that drain on the stop signal get it at once.
  if (generation.sharedSocket) return context.policy.drain === 'signal' ? signalAll(generation, waiting, context) : retireIdle(generation, observed, context);
  if (!queueEmpty(generation, observed)) return generation;
  if (context.policy.drain === 'signal') return signalAll(generation, waiting, context);
  // Only workers positively seen waiting (in accept(), or an event loop without a connection):
  // one between two requests is neither, and is looked at again at the next probe.
  const idle = waiting.filter((slot) => !observed.busy.includes(slot.pid) && (observed.idle.includes(slot.pid) || observed.listening?.includes(slot.pid)));
  const allIdle = idle.length === waiting.length;
  if (!generation.steered && !allIdle) return generation;
  if (idle.length === 0) return generation;
  let next = generation;
  if (allIdle && !generation.shutDown && generation.slots.some(hasProcess)) {
    // Wakes every accept() with EINVAL: fcgiwrap and php-cgi exit by themselves within milliseconds.
    context.effects.push({ type: 'shutdown-socket', generation: generation.id } satisfies Effect);
    next = { ...next, shutDown: true };
  }
  for (const slot of idle) next = replaceSlot(next, stop(next, slot, context));
  return next;
}

/**
 * A socket the new generation shares (systemd's Unix socket): its queue is theirs too, so it is never waited on
 * empty, and never shut down. A worker this look saw waiting is signalled in the same dispatch with the retire
 * signal, as the process manager retires one worker of several: a program that finishes a request on that signal
 * loses nothing if the kernel hands it a connection at that moment (php-cgi, a Node worker draining on TERM); one
 * that cuts a request on any signal (fcgiwrap) can lose that one request (README: Socket activation).
 */
function retireIdle(generation: Generation, observed: DrainObservation, context: ConvergeContext): Generation {
  let next = generation;
  for (const slot of generation.slots) {
    if (slot.state !== 'starting' && slot.state !== 'ready') continue;
    const waits = observed.idle.includes(slot.pid) || observed.listening?.includes(slot.pid);
    if (waits && !observed.busy.includes(slot.pid)) next = replaceSlot(next, stop(next, slot, context, context.policy.retireSignal));
  }
  return next;
}
