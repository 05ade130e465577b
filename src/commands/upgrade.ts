/**
 * `fcgi-spawn upgrade`: the running supervisor checks the program now on disk and replaces itself with it in place
 * (same pid), then reloads every pool (runtime/upgrade.ts). The answer comes before execve; the outcome is followed
 * through `status`, which the new program serves with the upgrade's id, until its reload finished or failed.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../errors.js';
import type { InstanceSelector } from '../control/locate.js';
import { ControlError, sendControl } from '../control/client.js';
import type { ControlResponse } from '../control/protocol.js';
import { locate } from './instance-selector.js';

/** A code never changes meaning (README "Exit codes"). */
export const UPGRADE_EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, unreachable: 4, refused: 5, checkFailed: 6 } as const;

/** How often status is asked while the new program reloads its pools. */
const POLL_MS = 100;

export async function runUpgrade(selector: InstanceSelector, timeoutMs: number): Promise<number> {
  const instance = locate(selector, { usage: UPGRADE_EXIT.usage, refused: UPGRADE_EXIT.refused });
  if (instance.status.state !== 'running') throw new CliError(`${instance.name} is not running; start it with 'fcgi-spawn start'`, UPGRADE_EXIT.notRunning);
  const deadline = performance.now() + timeoutMs;
  const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const where = `${instance.name} (pid ${instance.status.pid})`;
  let answer: ControlResponse | undefined;
  try {
    answer = await sendControl(instance.paths.control, { command: 'upgrade', id }, timeoutMs);
  } catch (error) {
    // The checks passed and execve closed the connection before the answer was read: status tells the rest.
    if (!(error instanceof ControlError)) throw error;
  }
  if (answer && !answer.ok) throw new CliError(`${instance.name}: ${answer.message}`, answer.refusal === 'check' ? UPGRADE_EXIT.checkFailed : UPGRADE_EXIT.failed);
  if (answer) process.stdout.write(`fcgi-spawn: ${instance.name}: ${answer.message}\n`);
  while (performance.now() < deadline) {
    const status = await sendControl(instance.paths.control, { command: 'status' }, Math.max(1, deadline - performance.now())).catch(() => undefined);
    const upgrade = status?.ok ? status.status?.upgrade : undefined;
    if (upgrade?.id === id && upgrade.state !== 'in-progress') {
      const pid = status?.ok ? status.status?.pid : undefined;
      if (upgrade.state === 'failed') throw new CliError(`${instance.name}: ${upgrade.message}`, UPGRADE_EXIT.failed);
      process.stdout.write(`fcgi-spawn: ${instance.name}: upgraded from ${upgrade.from} to ${upgrade.to} (pid ${pid ?? '?'}): ${upgrade.message}\n`);
      return UPGRADE_EXIT.ok;
    }
    await sleep(POLL_MS);
  }
  throw new CliError(`${where}: the upgrade did not finish within ${Math.round(timeoutMs / 1000)} s; see 'fcgi-spawn status --name ${instance.name}' and its log`, UPGRADE_EXIT.unreachable);
}
