/** The options that name an instance, shared by stop, status, reload, restart, scale and reopen-logs. */
import type { Command } from 'commander';

export function addSelectorOptions(command: Command): Command {
  return command
    .option('--name <name>', 'instance name (default: derived from the address)')
    .option('-p, --port <port>', 'the instance listening on this TCP port')
    .option('-a, --address <addr>', 'with -p: the address it listens on (default: 127.0.0.1)')
    .option('-s, --socket <path>', 'the instance listening on this Unix socket')
    .option('-P, --pidfile <path>', 'the instance whose pid is in this file');
}
