/** The process manager's keys: each combination refused with one line naming the key and the value; the defaults that follow from others. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/supervisor.js';
import { COMMAND, EUID, load, scratch, write, yamlCommand } from './helpers.js';

const USER = EUID === 0 ? ['-u', 'nobody'] : [];

const refused: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
  ['max-spare above workers', ['--pm', 'dynamic', '-F', '2', '--max-spare', '5'], /^fcgi-spawn: invalid --max-spare 5 for pm dynamic: expected at most --workers \(2\)$/],
  ['min-spare above max-spare', ['--pm', 'dynamic', '-F', '8', '--min-spare', '4', '--max-spare', '2'], /^fcgi-spawn: invalid --min-spare 4 for pm dynamic: expected at most max-spare \(2\)$/],
  ['start-workers outside the spares', ['--pm', 'dynamic', '-F', '4', '--start-workers', '4', '--max-spare', '3'], /^fcgi-spawn: invalid --start-workers 4 for pm dynamic: expected from min-spare \(1\) to max-spare \(3\)$/],
  ['a spare key on a static pool', ['--min-spare', '2'], /^fcgi-spawn: --min-spare 2 applies to pm dynamic, not to pm static$/],
  ['idle-timeout on a dynamic pool', ['--pm', 'dynamic', '-F', '4', '--idle-timeout', '3s'], /^fcgi-spawn: --idle-timeout '3s' applies to pm ondemand, not to pm dynamic$/],
  ['jitter without max-lifetime', ['--max-lifetime-jitter', '5s'], /^fcgi-spawn: --max-lifetime-jitter '5s' applies with max-lifetime$/],
  ['an unknown pm', ['--pm', 'lazy'], /^fcgi-spawn: invalid --pm 'lazy': expected one of static, dynamic, ondemand$/],
  ['a retire signal that does not end a process', ['--retire-signal', 'CHLD'], /^fcgi-spawn: invalid --retire-signal 'CHLD': expected a signal that ends a process/],
  ['max-rss that is no size', ['--max-rss', 'lots'], /^fcgi-spawn: invalid --max-rss 'lots': expected a size in bytes/],
];

for (const [name, args, line] of refused) {
  test(`refused: ${name} (one line, exit 2, nothing started)`, async () => {
    const result = await runCli(['start', '-n', '-p', '9397', ...args, ...USER, '--', ...COMMAND]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', line);
  });
}

test('in a file, the problem is at its line and names the key path', async (t) => {
  const dir = scratch(t);
  const file = write(join(dir, 'pm.yaml'), `pools:\n  - name: a\n    listen: 127.0.0.1:9398\n    command: ${yamlCommand()}\n    pm: dynamic\n    workers: 2\n    max-spare: 4\n`);
  const result = await runCli(['config', 'check', '--config', file]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /pm\.yaml:7:16: invalid pools\[0\]\.max-spare 4 for pm dynamic: expected at most pools\[0\]\.workers \(2\)/);
});

test('defaults that follow: start-workers between the spares, jitter a tenth of max-lifetime, generation for fcgiwrap', async () => {
  const flags = { port: '9399', pm: 'dynamic', workers: '16', minSpare: '2', maxSpare: '6', maxLifetime: '600s', ...(EUID === 0 ? { user: 'nobody' } : {}) };
  const { pools: [pool] } = await load({ flags, command: COMMAND });
  assert.equal(pool?.pm, 'dynamic');
  assert.deepEqual([pool?.minSpare, pool?.startWorkers, pool?.maxSpare], [2, 4, 6]);
  assert.equal(pool?.maxLifetimeJitterMs, 60_000);
  assert.equal(pool?.retireSignal, 'SIGTERM');
  const other = await load({ flags: { port: '9399', stopSignal: 'QUIT', ...(EUID === 0 ? { user: 'nobody' } : {}) }, command: ['/bin/sh'] });
  assert.equal(other.pools[0]?.retireSignal, 'SIGQUIT', 'the stop signal by default');
  const wrap = await load({ flags: { port: '9399', ...(EUID === 0 ? { user: 'nobody' } : {}) }, command: ['/usr/sbin/fcgiwrap'] }).catch(() => undefined);
  if (wrap) assert.equal(wrap.pools[0]?.retireSignal, 'generation', 'fcgiwrap answers 502 on any signal');
});
