/**
 * A watcher in its own process: a quiet watcher arms no timer and polls nothing; the inotify limit
 * and an unreadable directory are warnings naming the path and the fix, and the watcher goes on.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Configuration } from '../../src/config/types.js';
import { isAlive, killQuietly } from '../helpers/processes.js';
import { findTool } from '../helpers/tools.js';
import { waitFor } from '../helpers/wait.js';
import { configuration, pool, tempDir } from './helpers.js';

const CHILD = resolve(dirname(fileURLToPath(import.meta.url)), 'watch-child.js');

interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  readonly lines: Record<string, unknown>[];
  send(command: string): void;
  line(what: string, match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

function startChild(t: TestContext, prefix: readonly string[], config: Configuration, args: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Child {
  const argv = [...prefix, process.execPath, CHILD, JSON.stringify(config), ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env });
  const pid = child.pid as number;
  t.after(async () => {
    killQuietly(pid);
    await waitFor(`watch child ${pid} gone`, () => !isAlive(pid));
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return {
    process: child,
    lines,
    send: (command) => child.stdin.write(`${command}\n`),
    line: (what, match) => waitFor(`${what} (lines ${JSON.stringify(lines)}, stderr ${stderr})`, () => lines.find(match), { timeoutMs: 15_000 }),
  };
}

async function closes(child: Child): Promise<void> {
  const exited = new Promise<number | null>((resolve) => child.process.once('exit', (code) => resolve(code)));
  child.send('close');
  await child.line('closed', (line) => line.closed === true);
  assert.equal(await exited, 0, 'the process ends by itself once the watcher is closed');
}

test('a quiet watcher arms no timer and polls nothing (CHOKIDAR_USEPOLLING ignored, with a warning)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'fcgi-spawn.yaml');
  writeFileSync(file, 'workers: 1\n');
  mkdirSync(join(dir, 'app', 'src'), { recursive: true });
  writeFileSync(join(dir, 'app', 'src', 'index.php'), '');
  const config = configuration([pool('app', { watch: [join(dir, 'app')], touchReload: join(dir, 'reload') })], { watchConfig: true, sourceFiles: [file] });
  const child = startChild(t, [], config, [], { ...process.env, CHOKIDAR_USEPOLLING: '1' });
  await child.line('ready', (line) => line.ready === true);
  assert.deepEqual(child.lines[0], { warning: 'watch: CHOKIDAR_USEPOLLING ignored: fcgi-spawn watches with inotify, never by polling' });
  writeFileSync(join(dir, 'app', 'src', 'index.php'), 'changed');
  writeFileSync(file, 'workers: 2\n');
  await child.line('the pool change', (line) => line.pool === 'app');
  await child.line('the config change', (line) => line.config === file);
  // After a burst the watcher's one-shot timers (debounce, chokidar's throttles) run out; a polling
  // watcher would hold StatWatchers, an interval a Timeout, for ever.
  let resources: unknown;
  const quiet = waitFor('no timer and no stat watcher left', async () => {
    const seen = child.lines.length;
    child.send('resources');
    const line = await child.line('resources', (candidate) => child.lines.indexOf(candidate) >= seen && 'resources' in candidate);
    resources = line.resources;
    return Array.isArray(resources) && !resources.includes('Timeout') && !resources.includes('StatWatcher');
  }, { timeoutMs: 10_000, intervalMs: 200 });
  await quiet.catch((error: Error) => assert.fail(`${error.message}; last seen: ${JSON.stringify(resources)}`));
  assert.ok(Array.isArray(resources) && resources.includes('FSEventWrap'), `inotify watches in place: ${JSON.stringify(resources)}`);
  await closes(child);
});

/** unshare(1) with a user namespace of our own, where the inotify watch limit can be lowered for us alone. */
function userNamespace(): { skip?: string } {
  const unshare = findTool('unshare');
  if (unshare === undefined) return { skip: 'needs unshare (util-linux)' };
  const probe = spawnSync(unshare, ['--user', '--map-root-user', 'true']);
  return probe.status === 0 ? {} : { skip: `unshare --user refused here: ${probe.stderr.toString().trim()}` };
}

test('past the inotify watch limit: a warning naming the path and fs.inotify.max_user_watches, and no crash', userNamespace(), async (t) => {
  const dir = tempDir(t);
  for (let index = 0; index < 40; index += 1) mkdirSync(join(dir, 'app', `dir${index}`), { recursive: true });
  const config = configuration([pool('app', { watch: [join(dir, 'app')] })]);
  const child = startChild(t, ['unshare', '--user', '--map-root-user'], config, ['--inotify-watches', '10']);
  await child.line('ready', (line) => line.ready === true);
  const warnings = child.lines.filter((line) => typeof line.warning === 'string').map((line) => line.warning as string);
  assert.equal(warnings.length, 1, `one warning for the pool, not one per directory: ${JSON.stringify(warnings)}`);
  assert.match(warnings[0] as string, new RegExp(`^watch: unable to watch ${dir}/app\\S* \\(watch of pool app\\): ENOSPC \\(inotify watch limit reached\\) \\(further paths past the same limit are not listed\\); .*fs\\.inotify\\.max_user_watches = \\d+\\): sysctl -w fs\\.inotify\\.max_user_watches=`));
  await closes(child);
});

test('an unreadable directory is a warning naming it; the rest is still watched', { skip: process.geteuid?.() === 0 && findTool('setpriv') !== undefined ? undefined : 'needs root and setpriv to run the watcher as nobody' }, async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const app = join(dir, 'app');
  mkdirSync(join(app, 'secret'), { recursive: true });
  mkdirSync(join(app, 'public'));
  mkdirSync(join(dir, 'private'));
  chmodSync(join(app, 'secret'), 0o700);
  chmodSync(join(dir, 'private'), 0o700);
  const config = configuration([pool('app', { watch: [app, join(dir, 'private')] })]);
  const child = startChild(t, ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'], config);
  await child.line('ready', (line) => line.ready === true);
  const fix = 'not watched: make it readable by the supervisor\'s user';
  await child.line('the unreadable root', (line) => line.warning === `watch: unable to watch ${join(dir, 'private')} (watch of pool app): EACCES (permission denied); ${fix}`);
  await child.line('the unreadable directory below a root', (line) => line.warning === `watch: unable to watch ${join(app, 'secret')} (watch of pool app): EACCES (permission denied); ${fix}`);
  writeFileSync(join(app, 'public', 'index.php'), '');
  await child.line('a change in the readable part', (line) => line.pool === 'app' && line.path === join(app, 'public', 'index.php'));
  await closes(child);
});
