/**
 * The argv that starts one worker. Each wrapper is a fixed program with the user's values as
 * separate arguments, never a shell string built from them:
 * - setpriv drops privileges in the order setgid, initgroups, setuid and fails if a step fails.
 *   Node's own uid/gid spawn options call setgroups(0) instead of initgroups (measured), so a
 *   worker run as www-data would lose the groups that, say, own a database socket.
 * - sh sets the umask, and LISTEN_PID, which is only known after fork (systemd convention).
 */
import type { PoolConfig } from '../config/types.js';

export interface WorkerCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export const SETPRIV = '/usr/bin/setpriv';
export const SHELL = '/bin/sh';

function withPrivileges(config: PoolConfig, inner: readonly string[]): readonly string[] {
  const identity = config.identity;
  if (!identity) return inner;
  const groups = identity.userName ? '--init-groups' : '--clear-groups';
  return [SETPRIV, `--reuid=${identity.uid}`, `--regid=${identity.gid}`, groups, '--', ...inner];
}

function withShellSetup(config: PoolConfig, inner: readonly string[]): readonly string[] {
  const steps: string[] = [];
  const values: string[] = [];
  if (config.umask !== undefined) {
    steps.push('umask "$1"; shift;');
    values.push(config.umask.toString(8).padStart(4, '0'));
  }
  if (config.fd === 3) steps.push('LISTEN_PID=$$; export LISTEN_PID;');
  if (steps.length === 0) return inner;
  return [SHELL, '-c', `${steps.join(' ')} exec "$@"`, 'fcgi-spawn-worker', ...values, ...inner];
}

export function workerCommand(config: PoolConfig): WorkerCommand {
  const argv = withShellSetup(config, withPrivileges(config, [config.programPath, ...config.args]));
  const [file, ...args] = argv;
  return { file: file as string, args };
}
