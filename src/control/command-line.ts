/**
 * Whether a process is a fcgi-spawn supervisor of this installation, by its command line: the only
 * test left for a bare pidfile (`-P`) that no record names. A supervisor runs as
 * `NODE BIN start …` (the daemon: `process.execPath DAEMON_NODE_FLAGS BIN start --daemonized …`; by hand or from an
 * init script through the `#!/usr/bin/env node` line, `node BIN start …`). Matching any argument
 * that ends in `fcgi-spawn` plus any `start` also took `sh /etc/init.d/fcgi-spawn start`, a process
 * a recycled pid can well name: so the shape is required, and the script must be this installation's.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * bin/fcgi-spawn.js of this installation (this file runs as dist/src/control/command-line.js). Made when asked:
 * `status` and `stop` load this module but seldom call it, and a URL built at load time cost them 1.6 M
 * instructions (callgrind).
 */
const ourBin = (): string => fileURLToPath(new URL('../../../bin/fcgi-spawn.js', import.meta.url));
/**
 * Node's options for the daemon (daemonize.ts puts them before BIN). A young generation of at most 1 MB per
 * semi-space: V8 lets it grow to 16 MB while workers churn and gives the memory back only when its memory reducer
 * runs, after a quiet spell. Measured (8 fcgiwrap, one SIGKILLed every ~2 s, VmRSS every 10 s): 80.7–81.8 MiB
 * without, 68.2–70.7 MiB with; at rest 30 s later both ~67 MiB; worker-output capture (bench:logs' capture of
 * 2 × 250,000 lines) took the same CPU either way (0.52 s mean of 3).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** node, nodejs, node20, node-20.11… as packaged; anything else must be the very executable we run on. */
const NODE_NAME = /^node(js)?[-\d.]*$/;

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function isNode(pid: number, argv0: string): boolean {
  if (NODE_NAME.test(basename(argv0))) return true;
  const exe = realPath(`/proc/${pid}/exe`);
  return exe !== undefined && exe === realPath(process.execPath);
}

export function isOurSupervisorCommand(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  // The daemon runs as `NODE FLAGS BIN start` (DAEMON_NODE_FLAGS, and only those: the shape stays exact).
  const [argv0, ...rest] = argv;
  const skipped = DAEMON_NODE_FLAGS.every((flag, i) => rest[i] === flag) ? DAEMON_NODE_FLAGS.length : 0;
  const [script, command] = rest.slice(skipped);
  if (argv0 === undefined || script === undefined || command !== 'start' || !isNode(pid, argv0)) return false;
  // A relative script path is relative to that process's working directory, which /proc shows.
  const scriptPath = realPath(resolve(`/proc/${pid}/cwd`, script));
  return scriptPath !== undefined && scriptPath === realPath(ourBin());
}
