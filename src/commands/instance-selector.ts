/** Finding the instance a command names (see selector-options.ts for the options), and formatting durations. */
import { CliError } from '../errors.js';
import { locateInstance, SelectorError, type InstanceSelector, type LocatedInstance } from '../control/locate.js';

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
