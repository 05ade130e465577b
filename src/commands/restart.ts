/**
 * `fcgi-spawn restart`: stop the instance, then start it again with the arguments, working
 * directory and environment it recorded when it started, as a daemon.
 *
 * A restart is a new start: worker counts come from the start options (or the configuration) again,
 * as with `systemctl restart` or an init script's restart. What `scale`, TTIN and TTOU changed lives
 * as long as the supervisor (a reload or update keeps it), so a restart that undoes it says so, with
 * the command that brings the count back.
 */
import { spawn } from 'node:child_process';
import { CliError, START_EXIT } from '../errors.js';
import { sendControl } from '../control/client.js';
import type { InstanceSelector, LocatedInstance } from '../control/locate.js';
import { locate } from './instance-selector.js';
import { runStop, STOP_EXIT } from './stop.js';

const FOREGROUND_FLAGS = new Set(['-n', '--no-daemon']);
const STATUS_TIMEOUT_MS = 5_000;
// A refused run directory is stop's 4 and start's 4 (permission denied) alike.
const LOCATE_EXIT = { usage: START_EXIT.usage, refused: START_EXIT.permissionDenied };

/** The start arguments without the foreground flag (before `--` only: after it they are the worker's). */
export function daemonArguments(argv: readonly string[]): string[] {
  const separator = argv.indexOf('--');
  const own = separator === -1 ? argv : argv.slice(0, separator);
  const rest = separator === -1 ? [] : argv.slice(separator);
  return [...own.filter((arg) => !FOREGROUND_FLAGS.has(arg)), ...rest];
}

/** Each pool's wanted worker count, by pool name; empty when the instance does not answer. */
async function workerCounts(instance: LocatedInstance): Promise<Map<string, number>> {
  if (instance.status.state !== 'running') return new Map();
  try {
    const response = await sendControl(instance.paths.control, { command: 'status' }, STATUS_TIMEOUT_MS);
    if (!response.ok || !response.status) return new Map();
    return new Map(response.status.pools.map((pool) => [pool.name, pool.desiredWorkers]));
  } catch {
    return new Map();
  }
}

/** One line per pool that now runs another count than before the restart. */
export function countChanges(name: string, before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
  const lines: string[] = [];
  for (const [pool, count] of after) {
    const was = before.get(pool);
    if (was === undefined || was === count) continue;
    const poolOption = after.size > 1 ? ` --pool ${pool}` : '';
    lines.push(
      `fcgi-spawn: ${name}: pool ${pool} now runs ${count} worker(s), the count it starts with; it ran ${was} before the restart ` +
        `(a 'scale' lasts until the supervisor stops): 'fcgi-spawn scale --name ${name}${poolOption} ${was}' runs ${was} again\n`,
    );
  }
  return lines;
}

export async function runRestart(selector: InstanceSelector, options: { readonly timeout?: string }): Promise<number> {
  const instance = locate(selector, LOCATE_EXIT);
  const record = instance.record;
  if (!record) {
    throw new CliError(`${instance.name} has no recorded settings to restart with; start it with 'fcgi-spawn start'`, START_EXIT.runtimeFailure);
  }
  const before = await workerCounts(instance);
  const stopped = await runStop({ name: instance.name }, options);
  if (stopped !== STOP_EXIT.stopped) return stopped;
  const script = process.argv[1] as string;
  const child = spawn(process.execPath, [script, 'start', ...daemonArguments(record.argv)], {
    cwd: record.cwd,
    env: record.env as NodeJS.ProcessEnv,
    stdio: 'inherit',
  });
  const code = await new Promise<number>((resolve) => child.once('exit', (exit) => resolve(exit ?? START_EXIT.runtimeFailure)));
  if (code === 0 && before.size > 0) {
    const after = await workerCounts(locate({ name: instance.name }, LOCATE_EXIT));
    for (const line of countChanges(instance.name, before, after)) process.stderr.write(line);
  }
  return code;
}
