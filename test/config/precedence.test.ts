/** Flags over the file over the defaults; pool keys at the top level as defaults; names; paths relative to the file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, renameSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { remoteWarnings } from '../../src/config/listen.js';
import { COMMAND, load, problemsOf, scratch, write, yamlCommand } from './helpers.js';

const TWO_POOLS = `allow-root: true
workers: 3
stop-timeout: 2s
pools:
  - name: a
    listen: 127.0.0.1:9311
    command: ${yamlCommand()}
  - name: b
    listen: 127.0.0.1:9312
    command: ${yamlCommand()}
    workers: 2
`;

test('precedence: a pool key over the top level over the default; a flag over both, in every pool', async (t) => {
  const file = write(join(scratch(t), 'site.yaml'), TWO_POOLS);
  const fromFile = await load({ configPath: file });
  const [a, b] = fromFile.pools;
  assert.deepEqual([a?.name, a?.workers, b?.name, b?.workers], ['a', 3, 'b', 2]);
  assert.equal(a?.stopTimeoutMs, 2000);
  assert.equal(a?.startTimeoutMs, 30_000, 'the default');
  assert.equal(a?.backlog, 1024, 'the default');
  const withFlags = await load({ configPath: file, flags: { workers: '5', stopTimeout: '500ms', logLevel: 'debug' } });
  assert.deepEqual(withFlags.pools.map((pool) => [pool.workers, pool.stopTimeoutMs]), [[5, 500], [5, 500]]);
  assert.equal(withFlags.supervisor.logLevel, 'debug');
  // The command after -- is every pool's command.
  const [program, ...args] = ['/bin/sh', '-c', 'exit 0'];
  const withCommand = await load({ configPath: file, command: [program as string, ...args] });
  assert.deepEqual(withCommand.pools.map((pool) => [pool.programPath, pool.args]), [[program, args], [program, args]]);
});

test('a file without pools: is one pool, named default; its top level names the instance', async (t) => {
  const dir = scratch(t);
  const file = write(join(dir, 'one.yaml'), `name: shop\nallow-root: true\nlisten: "[::1]:9313"\ncommand: ${yamlCommand()}\nsocket-mode: "0600"\numask: "027"\nlog-max-size: 10M\n`);
  const configuration = await load({ configPath: file });
  const [pool] = configuration.pools;
  assert.equal(pool?.name, 'default');
  assert.deepEqual(pool?.address, { kind: 'tcp', host: '::1', port: 9313 });
  assert.equal(pool?.socketMode, 0o600);
  assert.equal(pool?.umask, 0o027);
  assert.equal(configuration.supervisor.name, 'shop');
  assert.equal(configuration.supervisor.logMaxSize, 10 * 1024 * 1024);
  // --name on the command line is always the instance name.
  assert.equal((await load({ configPath: file, flags: { name: 'other' } })).supervisor.name, 'other');
  // Without name: the file's name.
  const unnamed = write(join(dir, 'blog.yml'), `allow-root: true\nlisten: 127.0.0.1:9314\ncommand: ${yamlCommand()}\n`);
  assert.equal((await load({ configPath: unnamed })).supervisor.name, 'blog');
});

test('flags alone make one pool named default, named after its address', async () => {
  const configuration = await load({ flags: { port: '9315', address: '127.0.0.1', workers: '2', allowRoot: true }, command: COMMAND });
  assert.equal(configuration.pools[0]?.name, 'default');
  assert.equal(configuration.supervisor.name, '127.0.0.1-9315');
  assert.equal(configuration.supervisor.configFile, undefined);
  assert.deepEqual(configuration.supervisor.sourceFiles, []);
});

test('relative paths in a file are relative to its directory, whatever the working directory', async (t) => {
  const dir = scratch(t);
  const elsewhere = scratch(t);
  mkdirSync(join(dir, 'www'));
  write(join(dir, 'bin', 'worker'), '#!/bin/sh\nexec sleep 1000\n', 0o755);
  const file = write(
    join(dir, 'site.yaml'),
    [
      'allow-root: true',
      'log-file: logs/site.log',
      'pidfile: run/site.pid',
      'pools:',
      '  - name: app',
      '    listen: ./app.sock',
      '    command: [./bin/worker, --flag]',
      '    chdir: www',
      '    worker-log: logs/app.log',
      '    watch: [src, ../shared]',
      '    watch-ignore: ["*.tmp"]',
      '    touch-reload: reload.touch',
      '',
    ].join('\n'),
  );
  const configuration = await load({ configPath: file, cwd: elsewhere });
  const [pool] = configuration.pools;
  assert.deepEqual(pool?.address, { kind: 'unix', path: join(dir, 'app.sock') });
  assert.equal(pool?.program, join(dir, 'bin', 'worker'));
  assert.equal(pool?.programPath, join(dir, 'bin', 'worker'));
  assert.deepEqual(pool?.args, ['--flag']);
  assert.equal(pool?.cwd, realpathSync(join(dir, 'www')));
  assert.deepEqual(pool?.workerLog, { kind: 'file', path: join(dir, 'logs', 'app.log') });
  assert.deepEqual(pool?.watch, [join(dir, 'src'), join(dirname(dir), 'shared')]);
  assert.deepEqual(pool?.watchIgnore, ['*.tmp'], 'patterns are not paths');
  assert.equal(pool?.touchReload, join(dir, 'reload.touch'));
  assert.equal(configuration.supervisor.logFile, join(dir, 'logs', 'site.log'));
  assert.equal(configuration.supervisor.extraPidfile, join(dir, 'run', 'site.pid'));
  // Flags stay relative to the working directory.
  const fromFlags = await load({ configPath: file, cwd: elsewhere, flags: { logFile: 'mine.log' } });
  assert.equal(fromFlags.supervisor.logFile, join(elsewhere, 'mine.log'));
});

test('chdir is resolved at every load: a swapped `current` symlink is followed by the next load', async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'release-1'));
  mkdirSync(join(dir, 'release-2'));
  symlinkSync('release-1', join(dir, 'current'));
  const file = write(join(dir, 'site.yaml'), `allow-root: true\nlisten: 127.0.0.1:9316\ncommand: ${yamlCommand()}\nchdir: current\n`);
  assert.equal((await load({ configPath: file })).pools[0]?.cwd, join(realpathSync(dir), 'release-1'));
  symlinkSync('release-2', join(dir, 'next'));
  renameSync(join(dir, 'next'), join(dir, 'current'));
  assert.equal((await load({ configPath: file })).pools[0]?.cwd, join(realpathSync(dir), 'release-2'));
});

test('include: every *.yaml, *.yml and *.json of the directory, in name order, as more pools with the top-level defaults', async (t) => {
  const dir = scratch(t);
  write(join(dir, 'pools.d', 'b-shop.yaml'), `listen: 127.0.0.1:9318\ncommand: ${yamlCommand()}\n`);
  write(join(dir, 'pools.d', 'a-blog.json'), JSON.stringify({ name: 'blog', listen: '127.0.0.1:9317', command: COMMAND, workers: 4 }));
  write(join(dir, 'pools.d', 'c-two.yml'), `workers: 2\npools:\n  - name: c1\n    listen: 127.0.0.1:9319\n    command: ${yamlCommand()}\n  - name: c2\n    listen: 127.0.0.1:9320\n    command: ${yamlCommand()}\n`);
  write(join(dir, 'pools.d', 'README.txt'), 'not a pool\n');
  const file = write(join(dir, 'main.yaml'), `allow-root: true\nworkers: 3\ninclude: pools.d\npools:\n  - name: api\n    listen: 127.0.0.1:9321\n    command: ${yamlCommand()}\n`);
  const configuration = await load({ configPath: file });
  assert.deepEqual(
    configuration.pools.map((pool) => [pool.name, pool.workers]),
    [['api', 3], ['blog', 4], ['b-shop', 3], ['c1', 2], ['c2', 2]],
  );
  assert.deepEqual(configuration.supervisor.sourceFiles, [file, ...['a-blog.json', 'b-shop.yaml', 'c-two.yml'].map((name) => join(dir, 'pools.d', name))]);
  assert.deepEqual(configuration.supervisor.includeDirectories, [join(dir, 'pools.d')]);
});

test('pool names are unique and addresses do not collide (a wildcard host holds the port on every address)', async (t) => {
  const dir = scratch(t);
  const file = write(
    join(dir, 'clash.yaml'),
    `allow-root: true\nallow-remote: true\ncommand: ${yamlCommand()}\npools:\n  - name: a\n    listen: 0.0.0.0:9322\n  - name: a\n    listen: 127.0.0.1:9322\n  - name: c\n    listen: /tmp/x.sock\n  - name: d\n    listen: /tmp/x.sock\n`,
  );
  const problems = await problemsOf({ configPath: file });
  assert.deepEqual(
    problems.map((p) => [p.line, p.message]),
    [
      [7, "two pools are named 'a': pool names must be unique"],
      [8, "pools[1].listen '127.0.0.1:9322' collides with pool a's 0.0.0.0:9322: each pool needs an address of its own"],
      [12, "pools[3].listen '/tmp/x.sock' collides with pool c's /tmp/x.sock: each pool needs an address of its own"],
    ],
  );
});

test('remoteWarnings: a non-loopback bind warns unless allow-remote; loopback and Unix sockets do not', async (t) => {
  const file = write(
    join(scratch(t), 'remote.yaml'),
    `allow-root: true\ncommand: ${yamlCommand()}\npools:\n  - {name: open, listen: "0.0.0.0:9323"}\n  - {name: v6, listen: "[::]:9324"}\n  - {name: known, listen: "0.0.0.0:9325", allow-remote: true}\n  - {name: local, listen: "127.0.0.2:9326"}\n  - {name: unix, listen: /tmp/r.sock}\n`,
  );
  const warnings = remoteWarnings(await load({ configPath: file }));
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings[0] ?? '', /^pool open listens on 0\.0\.0\.0:9323, reachable from other hosts: FastCGI has no authentication.*PHP_VALUE.*--allow-remote$/);
  assert.match(warnings[1] ?? '', /^pool v6 listens on \[::\]:9324/);
});
