/** `fcgi-spawn list`: every instance recorded in the run directory, with its state. */
import { CliError } from '../errors.js';
import { StateReader } from '../control/locate.js';
import { isSameProcess } from '../control/record.js';
import { RunDirectoryError } from '../control/run-dir.js';
import { warnIgnored } from './instance-selector.js';

/** 4: the run directory was refused (not ours, open to others), as for start, stop and status. */
export const LIST_EXIT = { listed: 0, refused: 4 } as const;

function openRunDirectory(): StateReader {
  try {
    return StateReader.open({ env: process.env, euid: process.geteuid?.() ?? -1 });
  } catch (error) {
    if (error instanceof RunDirectoryError) throw new CliError(error.message, LIST_EXIT.refused);
    throw error;
  }
}

export function runList(options: { readonly json?: boolean }): number {
  const reader = openRunDirectory();
  const rows = reader.records().map((record) => ({
    name: record.name,
    state: isSameProcess(record.supervisor) ? 'running' : 'dead',
    pid: record.supervisor.pid,
    address: record.address,
    startedAt: record.startedAt,
    workers: record.workers.filter(isSameProcess).length,
  }));
  warnIgnored(reader.ignored);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return LIST_EXIT.listed;
  }
  if (rows.length === 0) {
    process.stdout.write(`no instances in ${reader.dir}\n`);
    return LIST_EXIT.listed;
  }
  for (const row of rows) {
    process.stdout.write(`${row.name.padEnd(28)} ${row.state.padEnd(8)} pid ${String(row.pid).padEnd(8)} ${row.address.padEnd(28)} ${row.workers} worker(s), started ${row.startedAt}\n`);
  }
  return LIST_EXIT.listed;
}
