/**
 * `fcgi-spawn restart`: stop the instance, then start it again with the arguments, working
 * directory and environment it recorded when it started, as a daemon.
 */
import { spawn } from 'node:child_process';
import { CliError, START_EXIT } from '../errors.js';
import type { InstanceSelector } from '../control/locate.js';
import { locate } from './instance-selector.js';
import { runStop, STOP_EXIT } from './stop.js';

const FOREGROUND_FLAGS = new Set(['-n', '--no-daemon']);

/** The start arguments without the foreground flag (before `--` only: after it they are the worker's). */
export function daemonArguments(argv: readonly string[]): string[] {
  const separator = argv.indexOf('--');
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const rest = separator === -1 ? [] : argv.slice(separator);
  return [...own.filter((arg) => !FOREGROUND_FLAGS.has(arg)), ...rest];
}

export async function runRestart(selector: InstanceSelector, options: { readonly timeout?: string }): Promise<number> {
  // A refused run directory is stop's 4 and start's 4 (permission denied) alike.
  const instance = locate(selector, { usage: START_EXIT.usage, refused: START_EXIT.permissionDenied });
  const record = instance.record;
  if (!record) {
    throw new CliError(`${instance.name} has no recorded settings to restart with; start it with 'fcgi-spawn start'`, START_EXIT.runtimeFailure);
  }
  const stopped = await runStop({ name: instance.name }, options);
  if (stopped !== STOP_EXIT.stopped) return stopped;
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [script, 'start', ...daemonArguments(record.argv)], {
    cwd: record.cwd,
    env: record.env as NodeJS.ProcessEnv,
    stdio: 'inherit',
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? START_EXIT.runtimeFailure)));
}
