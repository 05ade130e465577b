/**
 * The argv that starts one worker. Each wrapper is a fixed program with the user's values as
 * separate arguments, never a shell string built from them:
 * - setpriv drops privileges in the order setgid, initgroups, setuid and fails if a step fails.
 *   Node's own uid/gid spawn options call setgroups(0) instead of initgroups (measured), so a
 *   worker run as www-data would lose the groups that, say, own a database socket.
 * - sh sets the umask, oom_score_adj (a write to /proc/self, kept across exec), and LISTEN_PID, which is only
 *   known after fork (systemd convention).
 * - prlimit (util-linux) sets each resource limit's soft and hard value in one prlimit(2) call, so no order of
 *   raising or lowering can fail halfway; nice (coreutils) sets the niceness. Both run before setpriv: raising a
 *   limit or lowering the niceness needs root, which the wrappers still are (config/limits.ts checked that it
 *   will be allowed). Each wrapper is one more exec per spawn, so each appears only when its keys are set.
 */
import { prlimitValue } from '../config/rlimit.js';
import type { PoolConfig } from '../config/types.js';

export interface WorkerCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export const SETPRIV = '/usr/bin/setpriv';
export const SHELL = '/bin/sh';
export const PRLIMIT = '/usr/bin/prlimit';
export const NICE = '/usr/bin/nice';

/** The supervisor's own niceness, which `nice -n` adds to: the workers get exactly the pool's `nice`. */
export interface SpawnerState {
  readonly nice: number;
}

function withPrivileges(config: PoolConfig, inner: readonly string[]): readonly string[] {
  const identity = config.identity;
  if (!identity) return inner;
  const groups = identity.userName ? '--init-groups' : '--clear-groups';
  return [SETPRIV, `--reuid=${identity.uid}`, `--regid=${identity.gid}`, groups, '--', ...inner];
}

function withLimits(config: PoolConfig, spawner: SpawnerState, inner: readonly string[]): readonly string[] {
  let argv = inner;
  if (config.nice !== undefined && config.nice !== spawner.nice) argv = [NICE, '-n', String(config.nice - spawner.nice), '--', ...argv];
  const limits = [
    ...(config.rlimitNofile ? [`--nofile=${prlimitValue(config.rlimitNofile)}`] : []),
    ...(config.rlimitCore ? [`--core=${prlimitValue(config.rlimitCore)}`] : []),
  ];
  return limits.length > 0 ? [PRLIMIT, ...limits, '--', ...argv] : argv;
}

function withShellSetup(config: PoolConfig, inner: readonly string[]): readonly string[] {
  const steps: string[] = [];
  const values: string[] = [];
  if (config.umask !== undefined) {
    steps.push('umask "$1"; shift;');
    values.push(config.umask.toString(8).padStart(4, '0'));
  }
  if (config.oomScoreAdj !== undefined) {
    // A failed write must not start the worker with the wrong score: the shell's own message names the file.
    steps.push('echo "$1" > /proc/self/oom_score_adj || exit 126; shift;');
    values.push(String(config.oomScoreAdj));
  }
  if (config.fd === 3) steps.push('LISTEN_PID=$$; export LISTEN_PID;');
  if (steps.length === 0) return inner;
  return [SHELL, '-c', `${steps.join(' ')} exec "$@"`, 'fcgi-spawn-worker', ...values, ...inner];
}

export function workerCommand(config: PoolConfig, spawner: SpawnerState): WorkerCommand {
  const argv = withShellSetup(config, withLimits(config, spawner, withPrivileges(config, [config.programPath, ...config.args])));
  const [file, ...args] = argv;
  return { file: file as string, args };
}
