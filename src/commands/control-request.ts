/** reload, scale and reopen-logs: one request to a running instance's control socket, its answer printed. */
import { CliError } from '../errors.js';
import type { InstanceSelector } from '../control/locate.js';
import { ControlError, sendControl } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import { locate } from './instance-selector.js';

/** The codes reload, scale and reopen-logs share. */
export const REQUEST_EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3, unreachable: 4, refused: 5 } as const;

export async function runControlRequest(selector: InstanceSelector, request: ControlRequest, timeoutMs: number): Promise<number> {
  const instance = locate(selector, { usage: REQUEST_EXIT.usage, refused: REQUEST_EXIT.refused });
  if (instance.status.state !== 'running') {
    throw new CliError(`${instance.name} is not running; start it with 'fcgi-spawn start'`, REQUEST_EXIT.notRunning);
  }
  try {
    const response = await sendControl(instance.paths.control, request, timeoutMs);
    if (!response.ok) throw new CliError(`${instance.name}: ${response.message}`, REQUEST_EXIT.failed);
    process.stdout.write(`fcgi-spawn: ${instance.name}: ${response.message}\n`);
    return REQUEST_EXIT.ok;
  } catch (error) {
    if (error instanceof ControlError) throw new CliError(`${instance.name} (pid ${instance.status.pid}): ${error.message}`, REQUEST_EXIT.unreachable);
    throw error;
  }
}
