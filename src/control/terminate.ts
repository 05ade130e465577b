/**
 * Ending processes recorded earlier, by identity: a signal only reaches a process that is still the
 * one recorded (same pid and start time). Waits with a deadline, then escalates to SIGKILL.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isSameProcess, type ProcessIdentity } from './record.js';

const POLL_MS = 20;

function signal(target: number, name: NodeJS.Signals): void {
  try {
    process.kill(target, name);
  } catch {
    // Gone meanwhile.
  }
}

export async function waitGone(identities: readonly ProcessIdentity[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!identities.some(isSameProcess)) return true;
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

export interface TerminateOptions {
  readonly signal: NodeJS.Signals;
  readonly timeoutMs: number;
  /** Signal process groups (workers lead their own), not only the pids. */
  readonly groups: boolean;
}

/** SIGKILL to whoever of them is still the recorded process, then wait (bounded) for them to go. */
export async function killAll(identities: readonly ProcessIdentity[], groups: boolean): Promise<void> {
  for (const identity of identities.filter(isSameProcess)) signal(groups ? -identity.pid : identity.pid, 'SIGKILL');
  await waitGone(identities, 5_000);
}

/** Returns whether everything was gone without SIGKILL. */
export async function terminate(identities: readonly ProcessIdentity[], options: TerminateOptions): Promise<boolean> {
  const alive = identities.filter(isSameProcess);
  if (alive.length === 0) return true;
  for (const identity of alive) signal(options.groups ? -identity.pid : identity.pid, options.signal);
  if (await waitGone(alive, options.timeoutMs)) return true;
  for (const identity of alive.filter(isSameProcess)) signal(options.groups ? -identity.pid : identity.pid, 'SIGKILL');
  await waitGone(alive, 5_000);
  return false;
}
