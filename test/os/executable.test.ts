/** Finding a worker program as execvp() will: each directory of PATH tried, and reported, once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveProgram } from '../../src/os/executable.js';
import { runCli, FIXTURES } from '../helpers/supervisor.js';

test('a directory named twice in PATH is tried once, in the order PATH gives', () => {
  const result = resolveProgram('no-such-fcgi-program', '/', '/usr/bin:/bin:/usr/bin:/usr/sbin:/bin');
  assert.deepEqual(result, {
    found: false,
    reason: 'not-found',
    tried: ['/usr/bin/no-such-fcgi-program', '/bin/no-such-fcgi-program', '/usr/sbin/no-such-fcgi-program'],
  });
});

test('relative PATH entries that name the same directory count once', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = resolveProgram('worker', dir, `bin:./bin:${dir}/bin/:/usr/bin`);
  assert.equal(result.found, false);
  assert.deepEqual(!result.found && result.tried, [join(dir, 'bin', 'worker'), '/usr/bin/worker']);
});

test('start: the "tried" list of a missing program names each directory once', async () => {
  const env = { ...process.env, PATH: '/usr/local/bin:/usr/bin:/usr/local/bin:/bin:/usr/bin' };
  const allowRoot = process.geteuid?.() === 0 ? ['--allow-root'] : [];
  const result = await runCli(['start', '-n', '-p', '9000', ...allowRoot, '--', 'no-such-fcgi-program'], { env, cwd: FIXTURES });
  assert.equal(result.code, 2, result.stderr);
  assert.equal(
    result.stderr,
    "fcgi-spawn: worker program 'no-such-fcgi-program' not found (tried /usr/local/bin/no-such-fcgi-program, /usr/bin/no-such-fcgi-program, /bin/no-such-fcgi-program)\n",
  );
});
