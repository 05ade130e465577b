/**
 * What a pool serves, when `probe` is not told: the record of the running instance that holds the address says
 * it (a pool's `protocol`, when its configuration names one). Read through the run directory's checks, as every
 * command reads it; a refused directory, no such pool or a record that does not say leaves it unknown.
 */
import { resolve } from 'node:path';
import { StateReader } from '../control/locate.js';
import { isSameProcess } from '../control/record.js';
import { formatAddress, type ProbeAddress } from './exchange.js';
import { PROBE_PROTOCOLS, type ProbeProtocol } from './types.js';

export interface LookupContext {
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
  readonly cwd: string;
}

export function protocolFromRecords(address: ProbeAddress, context: LookupContext): ProbeProtocol | undefined {
  const wanted = address.kind === 'unix' ? resolve(context.cwd, address.path) : formatAddress(address);
  let reader: StateReader;
  try {
    reader = StateReader.open(context);
  } catch {
    return undefined;
  }
  for (const record of reader.records()) {
    const pool = record.pools?.find((candidate) => candidate.address === wanted);
    if (pool === undefined || !isSameProcess(record.supervisor)) continue;
    // A record is JSON from disk: believe only a protocol we know.
    return PROBE_PROTOCOLS.find((known) => known === pool.protocol);
  }
  return undefined;
}
