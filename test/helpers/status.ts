/** `fcgi-spawn status --json` as the tests read it: the interface, rather than log wording. */
import type { InstanceStatus } from '../../src/control/protocol.js';
import { runCli } from './supervisor.js';

/** The instance selected by `selector` (e.g. ['-p', '9005']); throws with the CLI's message if it does not answer. */
export async function statusJson(selector: readonly string[]): Promise<InstanceStatus> {
  const result = await runCli(['status', ...selector, '--json']);
  if (result.code !== 0) throw new Error(`status ${selector.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as InstanceStatus;
}
