/**
 * Attacks as tests (issue 9): a directory the worker user (`nobody`) can write, a root-only file the
 * attack aims at, and programs run as `nobody` through setpriv. These tests need root: as another
 * user there is no root file to protect, and they are skipped visibly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';
import { waitFor } from './wait.js';

export const NOBODY = 65534;
export const NOGROUP = 65534;
const ROOT_CONTENT = 'root only\n';

/** `{ skip }` unless root with setpriv. */
export function needsRoot(): { skip?: string } {
  if (process.geteuid?.() !== 0) return { skip: 'needs root: the attack aims at a root-only file' };
  if (!findTool('setpriv')) return { skip: 'needs setpriv (apt-get install util-linux)' };
  return {};
}

/** A private scratch directory (root, 0755 so that nobody can reach what is inside), removed after the test. */
export function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-attack-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A directory inside `parent` owned by nobody: the worker user's, as a /run/php owned by www-data is. */
export function attackerDirectory(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, NOBODY, NOGROUP);
  return dir;
}

/** A root 0600 file at `dir/name` (dir made root 0700): what the attack must not touch. */
export function rootOnlyFile(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  writeFileSync(path, ROOT_CONTENT, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** Fails the test unless the root-only file still has its owner, mode and content. */
export function assertUntouched(path: string, assertion: { equal: (actual: unknown, expected: unknown, message?: string) => void }): void {
  const stat = statSync(path);
  assertion.equal(stat.uid, 0, `${path} changed owner`);
  assertion.equal(stat.gid, 0, `${path} changed group`);
  assertion.equal((stat.mode & 0o7777).toString(8), '600', `${path} changed mode`);
  assertion.equal(readFileSync(path, 'utf8'), ROOT_CONTENT, `${path} changed content`);
}

/** `argv` run as nobody:nogroup without supplementary groups. */
export function spawnAsNobody(argv: readonly string[]): ChildProcess {
  const setpriv = findTool('setpriv') as string;
  return spawn(setpriv, [`--reuid=${NOBODY}`, `--regid=${NOGROUP}`, '--clear-groups', '--', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** A StartOptions.prefix: the supervisor's process stops itself before it runs, for slowOwnershipCalls(). */
export const STOPPED_START = ['/bin/sh', '-c', 'kill -STOP $$; exec "$0" "$@"'];

const OWNERSHIP_CALLS = 'chown,fchown,fchownat,lchown,chmod,fchmod,fchmodat';

/**
 * Lets a supervisor started with STOPPED_START run, with every chown and chmod of its main thread delayed by
 * 30 ms (strace's syscall delay injection). Between bind() and chmod() there are microseconds, which a racer
 * wins now and then; a loaded machine can stretch them, and this stretches them every time, so that an attack
 * test does not depend on luck. Resolves once it runs; the strace ends with the supervisor.
 */
export async function slowOwnershipCalls(pid: number, t: { after: (fn: () => void) => void }): Promise<void> {
  const strace = spawn(findTool('strace') as string, ['-p', String(pid), '-o', '/dev/null', '-e', `trace=${OWNERSHIP_CALLS}`, '-e', `inject=${OWNERSHIP_CALLS}:delay_enter=30000`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  t.after(() => {
    if (strace.exitCode === null && strace.signalCode === null) strace.kill('SIGKILL');
  });
  await waitFor(`strace attached to ${pid}`, () => /^TracerPid:\s*[1-9]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')));
  process.kill(pid, 'SIGCONT');
}

/** Runs `argv` as nobody to completion (a quick command: ln, mkfifo, mv). */
export async function runAsNobody(argv: readonly string[]): Promise<void> {
  const child = spawnAsNobody(argv);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`as nobody: ${argv.join(' ')} exited ${code}`);
}
