/** `fcgi-spawn probe`: the CLI's view of the FastCGI probe (options as typed → runProbe). */
import { CliError } from '../errors.js';
import { parseEnvAssignment, parseSeconds } from '../config/values.js';
import { PROBE_EXIT_CODES, runProbe } from './probe.js';

export async function runProbeCommand(address: string, path: string, options: { timeout: string; param?: string[] }): Promise<number> {
  let timeoutMs: number;
  const params: Record<string, string> = {};
  try {
    timeoutMs = parseSeconds('--timeout', options.timeout, 3600);
    for (const assignment of options.param ?? []) {
      const [key, value] = parseEnvAssignment(assignment, '--param');
      params[key] = value;
    }
  } catch (error) {
    throw new CliError(`probe: ${(error as Error).message}`, PROBE_EXIT_CODES.usage);
  }
  return runProbe(address, path, {
    timeoutMs,
    params,
    print: (text) => process.stdout.write(text),
    printError: (text) => process.stderr.write(text),
  });
}
