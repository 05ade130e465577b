/** Finding the instance a command names (see selector-options.ts for the options). */
import { CliError } from '../errors.js';
import { locateInstance, type IgnoredFile, type InstanceSelector, type LocatedInstance } from '../control/locate.js';
import { RunDirectoryError } from '../control/run-dir.js';
import { printError } from './print.js';

export interface LocateExitCodes {
  readonly usage: number;
  /** The run directory is not ours, or open to others: nothing in it is believed. */
  readonly refused: number;
}

/** Files that failed the checks were ignored: say which and why, so that nobody wonders. */
export function warnIgnored(ignored: readonly IgnoredFile[]): void {
  for (const file of ignored) printError(`fcgi-spawn: warning: ignoring ${file.path}: ${file.reason}\n`);
}

export function locate(selector: InstanceSelector, codes: LocateExitCodes): LocatedInstance {
  let instance: LocatedInstance;
  try {
    instance = locateInstance(selector, { env: process.env, euid: process.geteuid?.() ?? -1, cwd: process.cwd() });
  } catch (error) {
    if (error instanceof RunDirectoryError) throw new CliError(error.message, codes.refused);
    if (error instanceof Error) throw new CliError(error.message, codes.usage);
    throw error;
  }
  warnIgnored(instance.ignored);
  return instance;
}
