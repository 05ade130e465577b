/**
 * cosmiconfig and the YAML parser stay out of a supervisor started from flags alone (config/load.ts imports them
 * only for a file to read): they would sit in its heap for its life. With a config file in the directory, they load
 * and the file is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, startSupervisor, testEnvironment } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

/** Packages the supervisor had loaded when it exited (CommonJS ones: cosmiconfig and yaml are CommonJS for Node). */
async function packagesOfAStart(t: { after: (fn: () => Promise<void> | void) => void }, configFile: string | undefined): Promise<{ packages: string[]; log: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lazy-load-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const preload = join(dir, 'loaded.cjs');
  const list = join(dir, 'loaded.json');
  // Preloaded into every node through NODE_OPTIONS: only the supervisor (`… start …`) writes the list.
  writeFileSync(preload, `if (process.argv.includes('start')) process.once('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))));\n`);
  if (configFile !== undefined) writeFileSync(join(dir, 'fcgi-spawn.config.yaml'), configFile);
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-F', '1', '--', process.execPath, RESPONDER], { cwd: dir, env: { ...testEnvironment(), NODE_OPTIONS: `--require ${preload}` } });
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const exit = await pool.stop();
  assert.equal(exit.code, 0, pool.log());
  const files = JSON.parse(readFileSync(list, 'utf8')) as string[];
  const packages = new Set(files.map((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1]).filter((name): name is string => name !== undefined));
  return { packages: [...packages].sort(), log: pool.log() };
}

test('a supervisor started from flags alone loads neither cosmiconfig nor yaml', async (t) => {
  const { packages } = await packagesOfAStart(t, undefined);
  assert.ok(packages.includes('winston'), `the list is the supervisor's: ${packages.join(', ')}`);
  assert.ok(!packages.includes('cosmiconfig'), `cosmiconfig loaded: ${packages.join(', ')}`);
  assert.ok(!packages.includes('yaml'), `yaml loaded: ${packages.join(', ')}`);
});

test('with a config file in the directory, they load and the file is read', async (t) => {
  const { packages, log } = await packagesOfAStart(t, 'name: from-the-file\n');
  assert.ok(packages.includes('cosmiconfig') && packages.includes('yaml'), packages.join(', '));
  assert.match(log, /from-the-file/);
});
