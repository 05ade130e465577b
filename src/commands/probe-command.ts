/** `fcgi-spawn probe`: the CLI's view of the probe (options as typed → runProbe). */
import { CliError } from '../errors.js';
import { parseEnvAssignment, parseSeconds } from '../config/values.js';
import type { ProbeProtocol } from '../probe/types.js';
import { PROBE_EXIT_CODES, runProbe } from './probe.js';
import { printError, printOut } from './print.js';

export interface ProbeCommandOptions {
  readonly timeout: string;
  readonly param?: string[];
  /** Checked by commander (choices). */
  readonly protocol?: ProbeProtocol;
}

export async function runProbeCommand(address: string, path: string, options: ProbeCommandOptions): Promise<number> {
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
  // Only without --protocol: reading the run directory is the one cost a probe told what to speak skips.
  const lookup = options.protocol === undefined ? await import('../probe/pool-protocol.js') : undefined;
  const context = { env: process.env, euid: process.geteuid?.() ?? 0, cwd: process.cwd() };
  return runProbe(address, path, {
    timeoutMs,
    params,
    ...(options.protocol !== undefined ? { protocol: options.protocol } : {}),
    ...(lookup ? { defaultProtocol: (target) => lookup.protocolFromRecords(target, context) } : {}),
    print: printOut,
    printError,
  });
}
