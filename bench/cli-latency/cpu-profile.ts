/**
 * Where one command's start-up goes, from V8's sampling profiler (`node --cpu-prof`, 50 µs interval):
 * the self time of every sample, grouped by what ran — Node's ESM or CommonJS loader, the CommonJS export
 * lexer (an ESM import of a CommonJS package), the rest of Node's own JS, each package, our compiled code,
 * the garbage collector, (program) (native: parsing, compiling, bootstrap) and (idle) (waiting for I/O).
 * The median of each group over a few runs; the profile starts after Node's native bootstrap, so compare
 * with `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  readonly url: string;
  readonly functionName: string;
}

interface Profile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export type Breakdown = Readonly<Record<string, number>>;

function category(frame: CallFrame, repo: string): string {
  const url = frame.url.startsWith('file://') ? decodeURIComponent(new URL(frame.url).pathname) : frame.url;
  if (url === '') {
    if (frame.functionName === '(garbage collector)') return 'garbage collector';
    if (frame.functionName === '(program)') return '(program): native, parse/compile';
    if (frame.functionName === '(idle)') return '(idle): waiting';
    if (frame.functionName === '(root)') return '(program): native, parse/compile';
    return 'native calls (fs, module stat/read)';
  }
  if (url.startsWith('node:internal/modules/esm/')) return 'Node ESM loader';
  if (url.startsWith('node:internal/modules/cjs/')) return 'Node CommonJS loader';
  if (url.includes('cjs-module-lexer')) return 'CommonJS export lexer (ESM → CJS)';
  if (url.startsWith('node:internal/modules/')) return 'Node module helpers';
  if (url.startsWith('node:internal/bootstrap/realm')) return 'Node builtin-module loader (realm)';
  if (url.startsWith('node:')) {
    const name = url.replace(/^node:(internal\/)?/, '').split('/')[0] ?? url;
    return `Node core: ${name}`;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return `package ${pkg}`;
  if (url.startsWith(repo)) return 'fcgi-spawn code (bin/, dist/src/)';
  return 'other';
}

/** Median ms per group over `runs` profiled runs of argv (node first). */
export function profileCommand(argv: readonly string[], runs: number, dir: string, env: NodeJS.ProcessEnv, repo: string): Breakdown {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const [node, ...rest] = argv;
  for (let i = 0; i < runs; i += 1) {
    spawnSync(node ?? process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '50', ...rest], { env, stdio: 'ignore', timeout: 60_000 });
  }
  const runsSeen: Map<string, number>[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const totals = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const frame = frames.get(id);
      if (!frame) return;
      const key = category(frame, repo);
      totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
    runsSeen.push(totals);
  }
  rmSync(dir, { recursive: true, force: true });
  // The median of each group over the runs: one run slowed by other load on the machine does not count.
  const out: Record<string, number> = {};
  for (const key of new Set(runsSeen.flatMap((m) => [...m.keys()]))) {
    const values = runsSeen.map((m) => m.get(key) ?? 0).sort((a, b) => a - b);
    const mid = (values.length - 1) / 2;
    out[key] = ((values[Math.floor(mid)] ?? 0) + (values[Math.ceil(mid)] ?? 0)) / 2;
  }
  return out;
}
