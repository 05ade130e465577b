/** The options that name an instance, shared by stop, status, reload, restart, scale and reopen-logs. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { locateInstance, SelectorError, type InstanceSelector, type LocatedInstance } from '../control/locate.js';

export function addSelectorOptions(command: Command): Command {
  return command
    .option('--name <name>', 'instance name (default: derived from the address)')
    .option('-p, --port <port>', 'the instance listening on this TCP port')
    .option('-a, --address <addr>', 'with -p: the address it listens on (default: 127.0.0.1)')
    .option('-s, --socket <path>', 'the instance listening on this Unix socket')
    .option('-P, --pidfile <path>', 'the instance whose pid is in this file');
}

export function locate(selector: InstanceSelector, usageExitCode: number): LocatedInstance {
  try {
    return locateInstance(selector, { env: process.env, euid: process.geteuid?.() ?? -1, cwd: process.cwd() });
  } catch (error) {
    if (error instanceof SelectorError || error instanceof Error) throw new CliError(error.message, usageExitCode);
    throw error;
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}
