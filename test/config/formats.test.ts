/**
 * Every format loads, and loads again with its new contents in the same process: a reload re-reads every file
 * (cosmiconfig caches YAML and JSON by default, and import() caches JS modules for ever).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { COMMAND, load, problemsOf, scratch, write, yamlCommand } from './helpers.js';

const json = (workers: number): string => JSON.stringify({ 'allow-root': true, pools: [{ name: 'app', listen: '127.0.0.1:9301', command: COMMAND, workers }] }, null, 2);
const yaml = (workers: number): string => `allow-root: true\npools:\n  - name: app\n    listen: 127.0.0.1:9301\n    command: ${yamlCommand()}\n    workers: ${workers}\n`;

const formats: ReadonlyArray<{ name: string; file: string; text: (workers: number) => string }> = [
  { name: 'YAML', file: 'app.yaml', text: yaml },
  { name: 'JSON', file: 'app.json', text: json },
  { name: '.mjs', file: 'app.mjs', text: (workers) => `export default ${json(workers)};\n` },
  { name: '.cjs', file: 'app.cjs', text: (workers) => `module.exports = ${json(workers)};\n` },
  { name: '.mjs exporting an async function', file: 'fn.mjs', text: (workers) => `export default async () => (${json(workers)});\n` },
];

for (const format of formats) {
  test(`${format.name}: loads, and a second load in the same process sees the new contents`, async (t) => {
    const dir = scratch(t);
    const file = write(join(dir, format.file), format.text(2));
    const first = await load({ configPath: file });
    assert.equal(first.pools[0]?.workers, 2);
    assert.equal(first.supervisor.configFile, file);
    write(file, format.text(3));
    const second = await load({ configPath: file });
    assert.equal(second.pools[0]?.workers, 3);
  });
}

test('search: package.json\'s "fcgi-spawn" key, found from the working directory, and reloaded', async (t) => {
  const dir = scratch(t);
  const packageJson = (workers: number): string => JSON.stringify({ name: 'site', version: '1.0.0', 'fcgi-spawn': JSON.parse(json(workers)) as unknown }, null, 2);
  write(join(dir, 'package.json'), packageJson(2));
  assert.equal((await load({ cwd: dir })).pools[0]?.workers, 2);
  write(join(dir, 'package.json'), packageJson(4));
  const configuration = await load({ cwd: dir });
  assert.equal(configuration.pools[0]?.workers, 4);
  assert.equal(configuration.supervisor.configFile, join(dir, 'package.json'));
  // package.json names no instance: the name comes from the first address.
  assert.equal(configuration.supervisor.name, '127.0.0.1-9301');
});

test('search: a package.json without the key is passed over, and .fcgi-spawnrc.yaml is found', async (t) => {
  const dir = scratch(t);
  // Group-writable, but not ours: it must not even be checked.
  write(join(dir, 'package.json'), JSON.stringify({ name: 'other' }), 0o664);
  write(join(dir, '.fcgi-spawnrc.yaml'), yaml(2));
  const configuration = await load({ cwd: dir });
  assert.equal(configuration.supervisor.configFile, join(dir, '.fcgi-spawnrc.yaml'));
  assert.equal(configuration.pools[0]?.workers, 2);
});

test('search: fcgi-spawn.config.cjs; FCGI_SPAWN_CONFIG names a file outside the working directory', async (t) => {
  const dir = scratch(t);
  write(join(dir, 'fcgi-spawn.config.cjs'), `module.exports = ${json(5)};\n`);
  assert.equal((await load({ cwd: dir })).pools[0]?.workers, 5);
  const elsewhere = write(join(scratch(t), 'site.yaml'), yaml(6));
  const configuration = await load({ cwd: dir, env: { PATH: process.env.PATH ?? '', FCGI_SPAWN_CONFIG: elsewhere } });
  assert.equal(configuration.pools[0]?.workers, 6);
  assert.equal(configuration.supervisor.name, 'site');
});

test('a JS config runs in a child process: its failure is a problem naming the file and its error', async (t) => {
  const dir = scratch(t);
  const file = write(join(dir, 'broken.mjs'), "throw new Error('no database URL');\n");
  const [problem] = await problemsOf({ configPath: file });
  assert.equal(problem?.file, file);
  assert.match(problem?.message ?? '', /unable to evaluate the JS config: .*no database URL/);
  // It ran elsewhere: this process never imported it (a module-level side effect would show here).
  assert.equal((globalThis as { fcgiSpawnConfigRan?: boolean }).fcgiSpawnConfigRan, undefined);
  const noDefault = write(join(dir, 'named.mjs'), 'export const workers = 2;\n');
  assert.match((await problemsOf({ configPath: noDefault }))[0]?.message ?? '', /no default export/);
});

test('a missing config file is a not-found problem; an empty one is an empty configuration', async (t) => {
  const dir = scratch(t);
  const [missing] = await problemsOf({ configPath: join(dir, 'nope.yaml') });
  assert.equal(missing?.kind, 'not-found');
  assert.match(missing?.message ?? '', /config file not found/);
  const empty = write(join(dir, 'empty.yaml'), '');
  const configuration = await load({ configPath: empty, flags: { port: '9302', allowRoot: true }, command: COMMAND });
  assert.equal(configuration.pools[0]?.name, 'default');
  assert.equal(configuration.supervisor.name, 'empty');
});
