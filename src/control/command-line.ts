/**
 * Whether a process is a fcgi-spawn supervisor of this installation, by its command line: the only
 * test left for a bare pidfile (`-P`) that no record names. A supervisor runs as
 * `NODE BIN start …` (the daemon: `process.execPath BIN start --daemonized …`; by hand or from an
 * init script through the `#!/usr/bin/env node` line, `node BIN start …`). Matching any argument
 * that ends in `fcgi-spawn` plus any `start` also took `sh /etc/init.d/fcgi-spawn start`, a process
 * a recycled pid can well name: so the shape is required, and the script must be this installation's.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/fcgi-spawn.js of this installation (this file runs as dist/src/control/command-line.js). */
const OUR_BIN = new URL('../../../bin/fcgi-spawn.js', import.meta.url);
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
  const [argv0, script, command] = argv;
  if (argv0 === undefined || script === undefined || command !== 'start' || !isNode(pid, argv0)) return false;
  // A relative script path is relative to that process's working directory, which /proc shows.
  const scriptPath = realPath(resolve(`/proc/${pid}/cwd`, script));
  return scriptPath !== undefined && scriptPath === realPath(fileURLToPath(OUR_BIN));
}
