/**
 * The `stats` endpoint from a real HTTP client (Node's fetch): GET /metrics in the Prometheus text format, checked
 * by Prometheus' own parser (promtool), GET /status as JSON, loopback only unless stats-allow-remote; and
 * `status --format prometheus` printing the same text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, runCli, startSupervisor } from '../helpers/supervisor.js';
import { freePort } from '../helpers/processes.js';
import { findTool, needs } from '../helpers/tools.js';

const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');

/** `promtool check metrics` on the text: exit status and what it said (lint problems fail it too). */
function promtoolCheck(text: string): { code: number | null; said: string } {
  const result = spawnSync(findTool('promtool') as string, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, said: `${result.stdout}${result.stderr}` };
}

test('GET /metrics and /status from a real HTTP client; other paths and methods refused', async (t) => {
  const [port, statsPort] = [await freePort(), await freePort()];
  const supervisor = startSupervisor(['-p', String(port), '-F', '2', '--stats', `127.0.0.1:${statsPort}`, '--', process.execPath, RESPONDER]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const base = `http://127.0.0.1:${statsPort}`;

  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await metrics.text();
  for (const line of [
    // Node responders are event loops: listening, not idle in accept().
    'fcgi_spawn_workers{pool="default",state="listening"} 2',
    'fcgi_spawn_workers{pool="default",state="idle"} 0',
    'fcgi_spawn_workers{pool="default",state="starting"} 0',
    'fcgi_spawn_listen_queue{pool="default"} 0',
    'fcgi_spawn_listen_queue_max{pool="default"} 0',
    'fcgi_spawn_spawns_total{pool="default"} 2',
    'fcgi_spawn_worker_exits_total{pool="default",cause="crash"} 0',
    'fcgi_spawn_reloads_total{pool="default",result="ok"} 0',
    'fcgi_spawn_max_workers_reached_total{pool="default"} 0',
    'fcgi_spawn_request_timeouts_total{pool="default"} 0',
    'fcgi_spawn_log_lines_dropped_total{pool="default"} 0',
  ]) {
    assert.ok(text.split('\n').includes(line), `/metrics has ${line}:\n${text}`);
  }
  assert.match(text, /^fcgi_spawn_listen_backlog\{pool="default"\} \d+$/m);
  assert.match(text, /^fcgi_spawn_worker_rss_bytes\{pool="default",pid="\d+"\} \d+$/m);
  assert.match(text, /^process_resident_memory_bytes \d+$/m);
  assert.match(text, /^process_cpu_seconds_total [\d.e-]+$/m);

  const status = await fetch(`${base}/status`);
  assert.equal(status.status, 200);
  assert.equal(status.headers.get('content-type'), 'application/json');
  const json = (await status.json()) as { state: string; stats: string; pools: { name: string; workerCounts: { listening: number } }[] };
  assert.equal(json.state, 'running');
  assert.equal(json.stats, `127.0.0.1:${statsPort}`);
  assert.equal(json.pools[0]?.name, 'default');
  assert.equal(json.pools[0]?.workerCounts.listening, 2);

  assert.equal((await fetch(`${base}/nothing`)).status, 404);
  const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');

  const cli = await runCli(['status', '-p', String(port), '--format', 'prometheus']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^fcgi_spawn_spawns_total\{pool="default"\} 2$/m);
  const bad = await runCli(['status', '-p', String(port), '--format', 'xml']);
  assert.equal(bad.code, 4);
  assert.match(bad.stderr, /^fcgi-spawn: invalid --format 'xml': expected text, json, prometheus\n$/);
});

test('the Prometheus text passes promtool check metrics (endpoint and status --format prometheus)', needs('promtool'), async (t) => {
  const [port, statsPort] = [await freePort(), await freePort()];
  const supervisor = startSupervisor(['-p', String(port), '-F', '2', '--stats', `127.0.0.1:${statsPort}`, '--', process.execPath, RESPONDER]);
  t.after(() => supervisor.cleanup());
  await supervisor.waitReady();
  const served = promtoolCheck(await (await fetch(`http://127.0.0.1:${statsPort}/metrics`)).text());
  assert.equal(served.code, 0, served.said);
  const printed = await runCli(['status', '-p', String(port), '--format', 'prometheus']);
  const checked = promtoolCheck(printed.stdout);
  assert.equal(checked.code, 0, checked.said);
  // The check can fail: a counter without the _total suffix, and a broken label, are caught.
  assert.notEqual(promtoolCheck('# HELP x a\n# TYPE x counter\nx 1\n').code, 0);
  assert.notEqual(promtoolCheck('x{a="1" 1\n').code, 0);
});

test('stats on a non-loopback address is refused without stats-allow-remote (exit 2, nothing started)', async () => {
  const port = await freePort();
  const result = await runCli(['start', '-n', '-p', String(port), '--stats', '0.0.0.0:9117', ...(process.geteuid?.() === 0 ? ['--allow-root'] : []), '--', process.execPath, RESPONDER]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--stats '0\.0\.0\.0:9117' is reachable from other hosts.*pass --stats-allow-remote/);
});
