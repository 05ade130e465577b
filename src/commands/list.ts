/** `fcgi-spawn list`: every instance recorded in the run directory, with its state. */
import { listRecords } from '../control/locate.js';
import { isSameProcess } from '../control/record.js';
import { runDirectory } from '../control/run-dir.js';

export function runList(options: { readonly json?: boolean }): number {
  const dir = runDirectory({ env: process.env, euid: process.geteuid?.() ?? -1 });
  const rows = listRecords(dir).map((record) => ({
    name: record.name,
    state: isSameProcess(record.supervisor) ? 'running' : 'dead',
    pid: record.supervisor.pid,
    address: record.address,
    startedAt: record.startedAt,
    workers: record.workers.filter(isSameProcess).length,
  }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(`no instances in ${dir}\n`);
    return 0;
  }
  for (const row of rows) {
    process.stdout.write(`${row.name.padEnd(28)} ${row.state.padEnd(8)} pid ${String(row.pid).padEnd(8)} ${row.address.padEnd(28)} ${row.workers} worker(s), started ${row.startedAt}\n`);
  }
  return 0;
}
