/**
 * contrib/examples/hello-fcgi.mjs as a user meets it: run from the checkout as the README's Quick
 * start says, and copied into a directory of its own with fcgi-spawn linked into its node_modules
 * (what `npm link fcgi-spawn` makes), started with the command its header gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runCli, startSupervisor, type RunningSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { needs } from '../helpers/tools.js';

const EXAMPLE = join(ROOT, 'contrib', 'examples', 'hello-fcgi.mjs');

/** The example's header: `fcgi-spawn start …` and `fcgi-spawn probe …`, as documented. */
function headerCommands(): { start: string[]; probe: string[] } {
  const header = readFileSync(EXAMPLE, 'utf8');
  const line = (verb: string): string[] => {
    const match = new RegExp(`^//\\s+fcgi-spawn (${verb} .*?)(\\s{2,}.*)?$`, 'm').exec(header);
    assert.ok(match?.[1], `no 'fcgi-spawn ${verb}' line in the header of ${EXAMPLE}`);
    return match[1].trim().split(/\s+/);
  };
  return { start: line('start'), probe: line('probe') };
}

async function served(pool: RunningSupervisor, address: string, probeArgs: readonly string[] = ['probe', address, '/']): Promise<void> {
  await pool.waitReady();
  const answer = await runCli(probeArgs);
  assert.equal(answer.code, 0, answer.stderr);
  const pid = Number(/^Hello from fcgi-spawn worker (\d+)$/m.exec(answer.stdout)?.[1]);
  assert.ok(pool.workerPids.includes(pid), `answered by ${pid}, not one of the workers ${pool.workerPids.join(', ')}:\n${answer.stdout}`);
}

test('the Quick start: the example runs from the checkout', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '--', 'node', 'contrib/examples/hello-fcgi.mjs'], { cwd: ROOT });
  t.after(() => pool.cleanup());
  await served(pool, `127.0.0.1:${port}`);
  assert.equal((await pool.stop()).code, 0);
});

test('copied out of the checkout, with fcgi-spawn linked into node_modules, it runs as its header says', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-example-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(EXAMPLE, join(dir, 'hello-fcgi.mjs'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'fcgi-spawn'));
  const { start, probe } = headerCommands();
  const port = String(await freePort());
  const documentedPort = '9000';
  const withPort = (args: readonly string[]): string[] => args.map((arg) => arg.replaceAll(documentedPort, port));
  assert.equal(start[0], 'start');
  const pool = startSupervisor(withPort(start.slice(1)), { cwd: dir });
  t.after(() => pool.cleanup());
  await served(pool, `127.0.0.1:${port}`, withPort(probe));
  assert.equal(pool.workerPids.length, 4, 'the header asks for four workers');
  assert.equal((await pool.stop()).code, 0);
});

/** nobody must be able to read the checkout for the Quick start's `-u nobody` (a clone under /root is not). */
function nobodyReads(path: string): boolean {
  return spawnSync('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', 'test', '-r', path]).status === 0;
}

function asRoot(): { skip?: string } {
  if (process.geteuid?.() !== 0) return { skip: 'runs only as root' };
  const setpriv = needs('setpriv');
  if (setpriv.skip) return setpriv;
  return nobodyReads(EXAMPLE) ? {} : { skip: `nobody cannot read ${EXAMPLE}` };
}

test('the Quick start as root: the workers as nobody', asRoot(), async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '2', '-u', 'nobody', '--', 'node', 'contrib/examples/hello-fcgi.mjs'], { cwd: ROOT });
  t.after(() => pool.cleanup());
  await served(pool, `127.0.0.1:${port}`);
  for (const pid of pool.workerPids) assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+65534\s/m);
  assert.equal((await pool.stop()).code, 0);
});
