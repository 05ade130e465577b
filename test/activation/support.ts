/** What the socket-activation tests share: a two-pool configuration, request loops, the sockets a process holds. */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requestLoop } from '../helpers/fastcgi.js';

export interface PoolSpec {
  readonly name: string;
  readonly listen: string;
  readonly command: readonly string[];
  readonly workers: number;
}

export function poolsYaml(pools: readonly PoolSpec[]): string {
  const lines = [
    ...(process.geteuid?.() === 0 ? ['allow-root: true'] : []),
    'steer-grace: 0.1',
    'start-retries: 1',
    'pools:',
    ...pools.flatMap((pool) => [`  - name: ${pool.name}`, `    listen: ${pool.listen}`, `    command: ${JSON.stringify(pool.command)}`, `    workers: ${pool.workers}`]),
  ];
  return `${lines.join('\n')}\n`;
}

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-activation-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeConfig(dir: string, pools: readonly PoolSpec[]): string {
  const file = join(dir, 'pools.yaml');
  writeFileSync(file, poolsYaml(pools));
  return file;
}

/** fd → socket inode of every socket `pid` holds. */
export function socketFds(pid: number): Map<number, number> {
  const held = new Map<number, number>();
  for (const entry of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${entry}`));
      if (match) held.set(Number(entry), Number(match[1]));
    } catch {
      // Closed meanwhile.
    }
  }
  return held;
}

/** `clients` sequential FastCGI request loops on each address until `stop()`; what they got, in total. */
export function loops(targets: ReadonlyArray<{ address: string; path: string }>, clients = 3): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let done = false;
  const running = targets.flatMap((target) => Array.from({ length: clients }, () => requestLoop(target.address, target.path, () => done, 120_000)));
  return {
    async stop() {
      done = true;
      const results = await Promise.all(running);
      return { ok: results.reduce((sum, r) => sum + r.ok, 0), failed: results.flatMap((r) => r.failed) };
    },
  };
}
