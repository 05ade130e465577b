/** `config check`, `config schema`, `config print`, and `start --config` serving from a file, through the real CLI. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DaemonSandbox } from '../helpers/daemon.js';
import { probe } from '../helpers/fastcgi.js';
import { freePort } from '../helpers/processes.js';
import { ROOT, runCli, startSupervisor } from '../helpers/supervisor.js';
import { waitFor } from '../helpers/wait.js';
import { COMMAND, load, RESPONDER, scratch, write, yamlCommand } from './helpers.js';

interface Described {
  name: string;
  'config-file'?: string;
  pools: Array<Record<string, unknown> & { env: Record<string, string> }>;
}

test('config check prints the configuration as resolved: programs found, real paths, own variables only; exit 0', async (t) => {
  const dir = scratch(t);
  const file = write(join(dir, 'site.yaml'), `allow-root: true\nlisten: 127.0.0.1:9351\ncommand: [node, ${JSON.stringify(RESPONDER)}]\nworkers: 2\nstop-timeout: 1500ms\nenv: {APP_ENV: prod}\n`);
  const check = await runCli(['config', 'check', '--config', file], { env: { ...process.env, SECRET_TOKEN: 'hunter2' } });
  assert.equal(check.code, 0, check.stderr);
  const described = parse(check.stdout) as Described;
  assert.equal(described.name, 'site');
  assert.equal(described['config-file'], file);
  const [pool] = described.pools;
  assert.equal(pool?.name, 'default');
  assert.equal(pool?.listen, '127.0.0.1:9351');
  assert.equal(pool?.workers, 2);
  assert.equal(pool?.['stop-timeout'], '1.5s');
  assert.match(String((pool?.command as string[])[0]), /\/node$/, 'node found in PATH');
  assert.deepEqual(pool?.env, { APP_ENV: 'prod' }, 'inherited variables (SECRET_TOKEN) are counted, not shown');
  assert.doesNotMatch(check.stdout, /hunter2/);
});

test('config check without a file to check exits 2 saying where one goes', async (t) => {
  const check = await runCli(['config', 'check'], { cwd: scratch(t) });
  assert.equal(check.code, 2);
  assert.match(check.stderr, /^fcgi-spawn: no config file: pass --config FILE \(or set FCGI_SPAWN_CONFIG\)/);
});

test('config schema prints the JSON Schema shipped as schema.json: every pool key, described, and nothing else allowed', async () => {
  const result = await runCli(['config', 'schema']);
  assert.equal(result.code, 0, result.stderr);
  const schema = JSON.parse(result.stdout) as {
    $schema: string;
    additionalProperties: boolean;
    properties: Record<string, { description?: string; default?: unknown; items?: { properties: Record<string, { description?: string; default?: unknown }>; required: string[] } }>;
  };
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema.additionalProperties, false);
  const pool = schema.properties.pools?.items;
  assert.deepEqual(pool?.required, ['name']);
  for (const key of ['listen', 'command', 'workers', 'stop-timeout', 'socket-mode', 'env', 'watch', 'allow-remote', 'clear-env']) {
    assert.ok(pool?.properties[key]?.description, `pools[].${key} described`);
  }
  assert.equal(pool?.properties['stop-timeout']?.default, '10s');
  assert.equal(pool?.properties['socket-mode']?.default, '0660');
  assert.equal(schema.properties['log-level']?.default, 'info');
  assert.equal(schema.properties.port, undefined, 'flags that make listen are not file keys');
  assert.deepEqual(JSON.parse(readFileSync(join(ROOT, 'schema.json'), 'utf8')), schema, 'npm run build wrote the same schema.json');
});

test('config print turns a flag line into a file that loads to the same pool', async (t) => {
  const dir = scratch(t);
  const asRoot = process.geteuid?.() === 0 ? ['-u', 'www-data'] : [];
  const flags = ['-p', '9352', '-F', '3', '-e', 'APP=1', '--stop-timeout', '1.5', '-M', '0600', '--log-level', 'debug', '--watch', 'src', ...asRoot, '--', ...COMMAND];
  const printed = await runCli(['config', 'print', ...flags], { cwd: dir });
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /^# yaml-language-server: \$schema=\/.*\/schema\.json\n/);
  const file = write(join(dir, 'printed.yaml'), printed.stdout);
  const fromFile = await load({ configPath: file, cwd: dir });
  const fromFlags = await load({ flags: { port: '9352', workers: '3', env: ['APP=1'], stopTimeout: '1.5', socketMode: '0600', logLevel: 'debug', watch: ['src'], ...(asRoot.length ? { user: 'www-data' } : {}) }, command: COMMAND, cwd: dir });
  assert.deepEqual(fromFile.pools, fromFlags.pools);
  assert.equal(fromFile.supervisor.logLevel, 'debug');
  const bad = await runCli(['config', 'print', '-p', '99999']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr, "fcgi-spawn: invalid --port '99999': expected an integer from 1 to 65535\n");
});

test('start --config: a pool from a YAML file serves, its relative log path next to the file', async (t) => {
  const dir = scratch(t);
  const port = await freePort();
  const file = write(join(dir, 'app.yaml'), `name: from-file\nallow-root: true\nlisten: 127.0.0.1:${port}\ncommand: ${yamlCommand()}\nworkers: 2\nworker-log: logs/workers.log\n`);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'logs'));
  const pool = startSupervisor(['--config', file], { cwd: ROOT });
  t.after(() => pool.cleanup());
  await pool.waitReady();
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  const status = await runCli(['status', '--name', 'from-file', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pools: Array<{ workers: unknown[] }> }).pools[0]?.workers.length, 2);
  assert.ok(existsSync(join(dir, 'logs', 'workers.log')));
  await pool.stop();
});

test('start --config as a daemon: a relative config path and relative paths in it, though the daemon runs in /', async (t) => {
  const box = new DaemonSandbox();
  t.after(() => box.cleanup());
  const dir = scratch(t);
  const port = await freePort();
  write(join(dir, 'site.yaml'), `allow-root: true\nlisten: 127.0.0.1:${port}\ncommand: ${yamlCommand()}\nlog-file: site.log\nworker-log: workers.log\n`);
  const start = await runCli(['start', '--config', 'site.yaml'], { cwd: dir, env: box.env });
  box.remember();
  assert.equal(start.code, 0, start.stderr);
  assert.match(start.stdout, new RegExp(`site ready \\(pid \\d+\\) on 127\\.0\\.0\\.1:${port}`));
  await waitFor('the log next to the file', () => existsSync(join(dir, 'site.log')) && readFileSync(join(dir, 'site.log'), 'utf8').includes('ready'));
  assert.equal((await box.cli(['stop', '--name', 'site'])).code, 0);
});

test('start --config with two pools serves both; update re-reads the edited file (a new pool, a new worker count)', async (t) => {
  const dir = scratch(t);
  const [a, b, c] = [await freePort(), await freePort(), await freePort()];
  const text = (bWorkers: number, third: string): string =>
    `name: two\nallow-root: true\ncommand: ${yamlCommand()}\npools:\n  - {name: a, listen: "127.0.0.1:${a}"}\n  - {name: b, listen: "127.0.0.1:${b}", workers: ${bWorkers}}\n${third}`;
  const file = write(join(dir, 'two.yaml'), text(1, ''));
  const pool = startSupervisor(['--config', file]);
  t.after(() => pool.cleanup());
  await waitFor('both pools answering', async () => (await probe(`127.0.0.1:${a}`)).code === 0 && (await probe(`127.0.0.1:${b}`)).code === 0, { timeoutMs: 30_000 });
  write(file, text(2, `  - {name: c, listen: "127.0.0.1:${c}"}\n`));
  const update = await runCli(['update', '--name', 'two']);
  assert.equal(update.code, 0, update.stderr);
  const status = await runCli(['status', '--name', 'two', '--json']);
  const pools = (JSON.parse(status.stdout) as { pools: Array<{ name: string; desiredWorkers: number }> }).pools;
  assert.deepEqual(pools.map((p) => [p.name, p.desiredWorkers]), [['a', 1], ['b', 2], ['c', 1]]);
  assert.equal((await probe(`127.0.0.1:${c}`)).code, 0);
  // A broken edit changes nothing: update fails with the problem, at its line.
  write(file, text(0, ''));
  const broken = await runCli(['update', '--name', 'two']);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, new RegExp(`${file}:6:\\d+: invalid pools\\[1\\]\\.workers 0`));
  await pool.stop();
});
