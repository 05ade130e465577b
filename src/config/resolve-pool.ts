/**
 * One pool's values → a PoolConfig, checked against the system as it is now (at every load: a reload re-reads
 * users, finds the program again, and takes the real path of `chdir`, so a deploy that swapped a `current`
 * symlink runs the new release). Everything that can be known without starting is checked here; every problem
 * is reported, not only the first.
 */
import { realpathSync, statSync } from 'node:fs';
import { resolveProgram } from '../os/executable.js';
import { lookupGroup, lookupUser, type PasswdEntry } from '../os/libc.js';
import { UNIX_PATH_MAX } from '../os/sockaddr.js';
import { COMMAND_ORIGIN } from './flags.js';
import { checkLimits } from './limits.js';
import type { Values } from './layers.js';
import { optionsOf } from './options.js';
import { resolveProcessManager } from './process-manager.js';
import { READY_FD_VARIABLE, readyFdOf } from './ready-fd.js';
import { label, quote, type Origin, type Problems } from './problems.js';
import type { PoolConfig, WorkerIdentity } from './types.js';

export interface PoolContext {
  readonly name: string;
  /** Where the pool itself was written (a file's mapping), for problems about a key it lacks; undefined: flags alone. */
  readonly origin?: Origin;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly euid: number;
}

const ROOT_ONLY = ['user', 'group', 'socket-user', 'socket-group'] as const;
/** Our own activation variables are not the workers' (a supervisor run by another); --fd 3 and ready: notify set their own. */
const OURS = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_PIDFDID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', READY_FD_VARIABLE];

function userEntry(values: Values, name: 'user' | 'socket-user', problems: Problems): PasswdEntry | undefined {
  const given = values.given(name);
  if (!given) return undefined;
  const text = given.value;
  const entry = /^\d+$/.test(text) ? (lookupUser(Number(text)) ?? { name: '', uid: Number(text), gid: NaN, home: '', shell: '' }) : lookupUser(text);
  if (!entry) problems.add(given.origin, `unknown ${label(given.origin)} ${quote(text)}: no such user`);
  return entry;
}

function groupId(values: Values, name: 'group' | 'socket-group', problems: Problems): number | undefined {
  const given = values.given(name);
  if (!given) return undefined;
  if (/^\d+$/.test(given.value)) return Number(given.value);
  const entry = lookupGroup(given.value);
  if (!entry) problems.add(given.origin, `unknown ${label(given.origin)} ${quote(given.value)}: no such group`);
  return entry?.gid;
}

/** -u/-g and friends need root: refused when not root, never ignored (spawn-fcgi ignores them). */
function rootOnly(values: Values, context: PoolContext, problems: Problems): boolean {
  if (context.euid === 0) return true;
  const given = ROOT_ONLY.map((name) => values.given(name)).filter((sourced) => sourced !== undefined);
  if (given.length === 0) return true;
  const [first] = given;
  problems.add(first!.origin, `${given.map((sourced) => label(sourced.origin)).join(', ')} need root: fcgi-spawn runs as uid ${context.euid} and cannot switch users`, 'permission');
  return false;
}

function workerIdentity(values: Values, context: PoolContext, user: PasswdEntry | undefined, problems: Problems): WorkerIdentity | undefined {
  const allowRoot = values.value('allow-root') === true;
  const group = values.given('group');
  if (!values.given('user')) {
    if (group) problems.add(group.origin, `${label(group.origin)} ${quote(group.value)} needs a user: name the user the workers run as (-u USER)`);
    else if (context.euid === 0 && !allowRoot) {
      const where = context.origin ? `pool ${context.name}: ` : '';
      problems.add(context.origin ?? { kind: 'flag', flag: '--user' }, `${where}refusing to run workers as root: pass -u USER (e.g. -u www-data), or --allow-root if you mean it`);
    }
    return undefined;
  }
  if (!user) return undefined;
  const gid = group ? groupId(values, 'group', problems) : user.gid;
  if (gid === undefined) return undefined;
  const origin = values.origin('user');
  if (Number.isNaN(gid)) problems.add(origin, `${label(origin)} ${quote(values.value('user'))} has no passwd entry: pass -g GROUP too`);
  else if ((user.uid === 0 || gid === 0) && !allowRoot) problems.add(origin, `refusing to run workers as ${user.uid === 0 ? 'root' : 'group root'}: pass --allow-root if you mean it`);
  return { uid: user.uid, gid, ...(user.name ? { userName: user.name } : {}) };
}

/**
 * The workers' whole environment: ours (or nothing, with clear-env, plus env-keep), then the user's HOME, USER,
 * LOGNAME and SHELL from passwd (root's would be wrong and may point into /root), then env, then what we set.
 */
function workerEnv(values: Values, context: PoolContext, user: PasswdEntry | undefined, problems: Problems): Record<string, string> {
  const clear = values.value('clear-env') === true;
  const keep = values.given('env-keep');
  if (keep && !clear) problems.add(keep.origin, `${label(keep.origin)} applies with clear-env (--clear-env): without it workers inherit every variable`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(context.env)) {
    if (value !== undefined && !OURS.includes(key) && (!clear || keep?.value.includes(key))) env[key] = value;
  }
  if (user?.name) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, ...(user.shell ? { SHELL: user.shell } : {}) });
  Object.assign(env, values.value('env') ?? {});
  const children = values.value('php-children');
  if (children !== undefined) env.PHP_FCGI_CHILDREN = String(children);
  const socketAt = values.value('fd') ?? 0;
  if (socketAt === 3) Object.assign(env, { LISTEN_FDS: '1', LISTEN_FDNAMES: 'fcgi-spawn' });
  if (values.value('ready') === 'notify') env[READY_FD_VARIABLE] = String(readyFdOf(socketAt));
  return env;
}

function workingDirectory(values: Values, context: PoolContext, problems: Problems): string | undefined {
  const given = values.given('chdir');
  const dir = given?.value ?? context.cwd;
  try {
    if (statSync(dir).isDirectory()) return realpathSync(dir);
  } catch {
    // Reported below.
  }
  problems.add(given?.origin ?? { kind: 'default' }, `invalid ${given ? label(given.origin) : 'working directory'} ${quote(dir)}: not a directory`);
  return undefined;
}

function missing(context: PoolContext, problems: Problems, key: string, flagsMessage: string, fileHint: string): void {
  if (context.origin) problems.add(context.origin, `pool ${context.name} has no ${key}: ${fileHint}`);
  else problems.add({ kind: 'flag', flag: key }, flagsMessage);
}

export function resolvePool(values: Values, context: PoolContext, problems: Problems): PoolConfig | undefined {
  const before = problems.count;
  const address = values.value('listen');
  if (address === undefined) {
    if (!values.failed('listen')) missing(context, problems, 'listen', 'no address to bind: pass -p PORT (with -a ADDRESS) or -s PATH', 'add listen: 127.0.0.1:9005 (or a Unix socket path)');
  } else if (address.kind === 'unix' && Buffer.byteLength(address.path) > UNIX_PATH_MAX) {
    problems.add(values.origin('listen'), `invalid ${label(values.origin('listen'))} ${quote(address.path)}: the path must be at most ${UNIX_PATH_MAX} bytes long`);
  }
  const command = values.value('command');
  if (command === undefined && !values.failed('command')) missing(context, problems, 'command', 'no worker command: give it after --, e.g. fcgi-spawn start -p 9005 -- php-cgi', 'add command: [php-cgi] (the program and its arguments)');
  const rootOk = rootOnly(values, context, problems);
  const [user, socketUser] = rootOk ? [userEntry(values, 'user', problems), userEntry(values, 'socket-user', problems)] : [];
  const identity = workerIdentity(values, context, user, problems);
  const cwd = workingDirectory(values, context, problems);
  checkLimits(values, problems);
  const env = workerEnv(values, context, user, problems);
  const format = values.given('worker-log-format');
  const workerLog = values.value('worker-log');
  if (format && workerLog !== undefined && workerLog.kind !== 'file') {
    problems.add(format.origin, `${label(format.origin)} ${quote(format.value)} applies to a worker log file, not to worker-log ${workerLog.kind}`);
  }
  let programPath: string | undefined;
  if (command !== undefined && cwd !== undefined) {
    const [program = ''] = command;
    const resolved = resolveProgram(program, cwd, env.PATH);
    if (resolved.found) programPath = resolved.path;
    else {
      const origin = values.given('command')?.origin ?? COMMAND_ORIGIN;
      const what = resolved.reason === 'not-found' ? 'not found' : 'not executable';
      problems.add(origin, `worker program '${program}' ${what} (tried ${resolved.tried.join(', ')})`, resolved.reason === 'not-found' ? 'not-found' : 'permission');
    }
  }
  const manager = resolveProcessManager(values, command?.[0], problems);
  const socketUid = socketUser?.uid ?? identity?.uid;
  const socketGid = (rootOk ? groupId(values, 'socket-group', problems) : undefined) ?? identity?.gid;
  if (problems.count > before || address === undefined || command === undefined || cwd === undefined || programPath === undefined) return undefined;
  const [program, ...args] = command as [string, ...string[]];
  return {
    ...(values.fields(optionsOf('pool')) as Omit<PoolConfig, 'name' | 'program' | 'programPath' | 'args' | 'env' | 'cwd'>),
    name: context.name,
    program,
    programPath,
    args,
    env,
    cwd,
    ...manager,
    ...(identity ? { identity } : {}),
    ...(socketUid !== undefined ? { socketUid } : {}),
    ...(socketGid !== undefined ? { socketGid } : {}),
  };
}
