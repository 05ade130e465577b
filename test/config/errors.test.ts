/**
 * Bad files through the real CLI: every problem on its own line naming the file, line and column, exit 2 from
 * `config check` and from `start` (4 for an unsafe file), nothing started.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/supervisor.js';
import { COMMAND, scratch, write, yamlCommand } from './helpers.js';

const GOOD_POOL = `    listen: 127.0.0.1:9331\n    command: ${yamlCommand()}\n`;

const cases: ReadonlyArray<{ name: string; file: string; text: string; lines: readonly RegExp[] }> = [
  {
    name: 'values of each kind',
    file: 'bad.yaml',
    text: [
      'allow-root: true',
      'log-level: loud',
      'log-max-size: 10 MB',
      'pools:',
      '  - name: app',
      '    listen: 127.0.0.1:70000',
      `    command: ${yamlCommand()}`,
      '    workers: 0',
      '    socket-mode: 0660',
      '    stop-timeout: 5 minutes',
      '    start-timeout: 0',
      '    stop-signal: URG',
      '    env: {"NOT A NAME": x}',
      '    fd: 4',
      '    blocking: yes',
      '    allow-remote: "true"',
      '',
    ].join('\n'),
    lines: [
      /bad\.yaml:2:12: invalid log-level 'loud': expected one of error, warn, info, debug$/,
      /bad\.yaml:3:15: invalid log-max-size '10 MB': expected a size in bytes, optionally with K, M or G \(e\.g\. 10M\)$/,
      /bad\.yaml:6:13: invalid pools\[0\]\.listen '127\.0\.0\.1:70000': expected HOST:PORT, \[IPV6\]:PORT or a Unix socket path \(with a \/\), with a port from 1 to 65535$/,
      /bad\.yaml:8:14: invalid pools\[0\]\.workers 0: expected an integer from 1 to 4096$/,
      /bad\.yaml:9:18: invalid pools\[0\]\.socket-mode 660: expected an octal mode as a string such as '0660' .*quoted: YAML reads 0660 as the number 660$/,
      /bad\.yaml:10:19: invalid pools\[0\]\.stop-timeout '5 minutes': expected a duration from 0 to 86400s/,
      /bad\.yaml:11:20: invalid pools\[0\]\.start-timeout 0: expected a duration more than 0 to 86400s/,
      /bad\.yaml:12:18: invalid pools\[0\]\.stop-signal 'URG': expected a signal that ends a process.*SIGURG is ignored by default/,
      /bad\.yaml:13:11: invalid key 'NOT A NAME' in pools\[0\]\.env: expected a variable name made of letters, digits and _$/,
      /bad\.yaml:14:9: invalid pools\[0\]\.fd 4: expected one of 0, 3$/,
      /bad\.yaml:15:15: invalid pools\[0\]\.blocking 'yes': expected one of auto, blocking, nonblocking$/,
      /bad\.yaml:16:19: invalid pools\[0\]\.allow-remote 'true': expected true or false$/,
    ],
  },
  {
    name: 'keys in the wrong place, misspelt, missing',
    file: 'keys.yaml',
    text: `allow-root: true\nport: 9000\npools:\n  - name: app\n    wrokers: 2\n    log-file: x.log\n${GOOD_POOL}  - listen: 127.0.0.1:9332\n    command: ${yamlCommand()}\n  - name: no-command\n    listen: 127.0.0.1:9333\n`,
    lines: [
      /keys\.yaml:2:1: unknown key 'port': a file names the address with listen/,
      /keys\.yaml:5:5: unknown key 'wrokers': did you mean 'workers'\?$/,
      /keys\.yaml:6:5: log-file is a supervisor key: set it at the top level of the file, not in a pool$/,
      /keys\.yaml:9:5: missing pools\[1\]\.name: expected a pool name/,
    ],
  },
  {
    name: 'a pool without a command, with an unknown user and a missing program',
    file: 'resolve.yaml',
    text: `pools:\n  - name: app\n    listen: 127.0.0.1:9334\n    user: no-such-user-here\n    command: [no-such-fcgi-program]\n  - name: bare\n    listen: 127.0.0.1:9335\n    allow-root: true\n`,
    lines: [
      /resolve\.yaml:4:11: unknown pools\[0\]\.user 'no-such-user-here': no such user$/,
      /resolve\.yaml:5:14: worker program 'no-such-fcgi-program' not found \(tried .*\/usr\/bin\/no-such-fcgi-program.*\)$/,
      /resolve\.yaml:6:5: pool bare has no command: add command: \[php-cgi\] \(the program and its arguments\)$/,
    ],
  },
  { name: 'YAML that does not parse', file: 'syntax.yaml', text: 'pools:\n  - name: app\n    workers: 1\n    workers: 2\n', lines: [/syntax\.yaml:4:5: not valid YAML: Map keys must be unique$/] },
  { name: 'JSON that does not parse', file: 'syntax.json', text: '{\n  "workers": 2,\n}\n', lines: [/syntax\.json:3:1: not valid JSON: /] },
  { name: 'a list where a mapping belongs', file: 'list.yaml', text: '- workers: 2\n', lines: [/list\.yaml:1:1: the file holds \[\{"workers":2\}\]: expected a mapping of options$/] },
];

for (const c of cases) {
  test(`config check and start: ${c.name} → every problem at its line and column, exit 2`, async (t) => {
    const dir = scratch(t);
    const file = write(join(dir, c.file), c.text);
    const check = await runCli(['config', 'check', '--config', file]);
    assert.equal(check.code, 2, check.stderr);
    assert.equal(check.stdout, '');
    const lines = check.stderr.trim().split('\n');
    assert.equal(lines.length, c.lines.length, check.stderr);
    lines.forEach((line, index) => {
      assert.ok(line.startsWith(`fcgi-spawn: ${file}:`) || line.startsWith(`fcgi-spawn: ${dir}`), line);
      assert.match(line, c.lines[index] as RegExp);
    });
    const start = await runCli(['start', '-n', '--config', file]);
    assert.equal(start.code, 2, start.stderr);
    assert.equal(start.stderr, check.stderr);
  });
}

test('a group-writable config file is refused (start: exit 4), and so is one in a group-writable directory', async (t) => {
  const dir = scratch(t);
  const text = `allow-root: true\nlisten: 127.0.0.1:9336\ncommand: ${yamlCommand()}\n`;
  const file = write(join(dir, 'site.yaml'), text, 0o664);
  const start = await runCli(['start', '-n', '--config', file]);
  assert.equal(start.code, 4, start.stderr);
  assert.equal(start.stderr, `fcgi-spawn: ${file}: refusing ${file}: writable by its group (mode 0664); chmod go-w ${file}\n`);
  const check = await runCli(['config', 'check', '--config', file]);
  assert.equal(check.code, 2, check.stderr);
  chmodSync(file, 0o644);
  assert.equal((await runCli(['config', 'check', '--config', file])).code, 0);
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o775);
  const inShared = write(join(shared, 'site.yaml'), text);
  const refused = await runCli(['start', '-n', '--config', inShared]);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, new RegExp(`refusing ${inShared}: its directory ${shared} is writable by its group \\(mode 0775\\), who could replace ${inShared}`));
  // A JS file is checked before it runs: a group-writable one is never evaluated.
  const js = write(join(dir, 'site.mjs'), `process.stdout.write('RAN'); export default ${JSON.stringify({ 'allow-root': true, listen: '127.0.0.1:9337', command: COMMAND })};\n`, 0o666);
  const jsCheck = await runCli(['config', 'check', '--config', js]);
  assert.equal(jsCheck.code, 2);
  assert.match(jsCheck.stderr, /writable by group and others \(mode 0666\)/);
  assert.doesNotMatch(jsCheck.stdout + jsCheck.stderr, /RAN/);
});

test('an included file is checked like the config file; a file owned by another user is refused', { skip: process.geteuid?.() !== 0 ? 'needs root to chown' : false }, async (t) => {
  const dir = scratch(t);
  const included = write(join(dir, 'pools.d', 'app.yaml'), `listen: 127.0.0.1:9338\ncommand: ${yamlCommand()}\n`);
  const file = write(join(dir, 'main.yaml'), 'allow-root: true\ninclude: pools.d\n');
  assert.equal((await runCli(['config', 'check', '--config', file])).code, 0);
  const { chownSync } = await import('node:fs');
  chownSync(included, 65534, 65534);
  const check = await runCli(['config', 'check', '--config', file]);
  assert.equal(check.code, 2);
  assert.equal(check.stderr, `fcgi-spawn: ${included}: refusing ${included}: owned by uid 65534, not by root\n`);
});

test('start --config of a missing file exits 2 naming it', async (t) => {
  const missing = join(scratch(t), 'nope.yaml');
  const start = await runCli(['start', '-n', '--config', missing]);
  assert.equal(start.code, 2);
  assert.equal(start.stderr, `fcgi-spawn: ${missing}: config file not found\n`);
});
