/** Workers run as another user keep that user's supplementary groups (setpriv --init-groups). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, startSupervisor } from '../helpers/supervisor.js';
import { freePort, supplementaryGroups } from '../helpers/processes.js';
import { probe } from '../helpers/fastcgi.js';
import { lookupUser } from '../../src/os/libc.js';
import { readFileSync } from 'node:fs';

/** A user with supplementary groups if the machine has one (e.g. in /etc/group's member lists), else www-data. */
function userWithGroups(): string {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const members = (line.split(':')[3] ?? '').split(',').filter(Boolean);
    for (const member of members) if (member !== 'root' && lookupUser(member)) return member;
  }
  return 'www-data';
}

test('-u USER: workers run as USER with exactly the groups `id -G USER` lists', { skip: process.geteuid?.() !== 0 ? 'needs root' : false }, async (t) => {
  const user = userWithGroups();
  const entry = lookupUser(user);
  assert.ok(entry, `no user ${user}`);
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '-u', user, '--', process.execPath, join(FIXTURES, 'fcgi-responder.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [pid] = pool.workerPids;
  assert.ok(pid !== undefined);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${entry.uid}\\s+${entry.uid}\\s+${entry.uid}\\s+${entry.uid}$`, 'm'));
  assert.match(status, new RegExp(`^Gid:\\s+${entry.gid}\\s+${entry.gid}`, 'm'));
  const expected = execFileSync('id', ['-G', user], { encoding: 'utf8' }).trim().split(/\s+/).map(Number).sort((a, b) => a - b);
  assert.deepEqual(supplementaryGroups(pid).sort((a, b) => a - b), expected);
  assert.equal((await probe(`127.0.0.1:${port}`)).code, 0);
  await pool.stop();
});

test('--umask sets the workers\' umask', async (t) => {
  const port = await freePort();
  const pool = startSupervisor(['-p', String(port), '--umask', '0027', '--', process.execPath, join(FIXTURES, 'fcgi-responder.mjs')]);
  t.after(() => pool.cleanup());
  await pool.waitReady();
  const [pid] = pool.workerPids;
  assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Umask:\s+0027$/m);
  await pool.stop();
});
