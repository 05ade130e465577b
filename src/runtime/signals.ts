/** Signal wiring: a handler only queues the signal; the supervisor's dispatch decides. */
import type { SupervisorSignal } from '../core/events.js';

export const HANDLED_SIGNALS: readonly SupervisorSignal[] = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGTTOU'];

export function wireSignals(enqueue: (signal: SupervisorSignal) => void): () => void {
  const handlers = HANDLED_SIGNALS.map((signal) => {
    const handler = (): void => enqueue(signal);
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
