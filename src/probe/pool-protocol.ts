/**
 * What a pool serves, when `probe` is not told: the record of the running instance that holds the address says
 * it (a pool's `protocol`, when its configuration names one). Read through the run directory's checks, as every
 * command reads it; a refused or missing directory, no such pool or a record that does not say leaves it
 * unknown. Imports run-dir and record directly, not the locator: a probe loads as few modules as it can.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkRunDirectory, runDirectory } from '../control/run-dir.js';
import { isSameProcess, readRecordChecked } from '../control/record.js';
import { formatAddress, type ProbeAddress } from './exchange.js';
import { PROBE_PROTOCOLS, type ProbeProtocol } from './types.js';

export interface LookupContext {
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
  readonly cwd: string;
}

function recordFiles(dir: string, euid: number): string[] {
  try {
    if (checkRunDirectory(dir, euid) !== 'ok') return [];
    return readdirSync(dir).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
}

export function protocolFromRecords(address: ProbeAddress, context: LookupContext): ProbeProtocol | undefined {
  const wanted = address.kind === 'unix' ? resolve(context.cwd, address.path) : formatAddress(address);
  const dir = runDirectory(context);
  for (const file of recordFiles(dir, context.euid)) {
    const read = readRecordChecked(join(dir, file), context.euid);
    if (read.kind !== 'ok') continue;
    const pool = read.value.pools?.find((candidate) => candidate.address === wanted);
    if (pool === undefined || !isSameProcess(read.value.supervisor)) continue;
    // A record is JSON from disk: believe only a protocol we know.
    return PROBE_PROTOCOLS.find((known) => known === pool.protocol);
  }
  return undefined;
}
