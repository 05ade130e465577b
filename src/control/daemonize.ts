/**
 * `start` without -n: the launching process starts the daemon in a session of its own (setsid, no
 * terminal, stdio on /dev/null) and waits on a pipe for one line from it — ready, or the error with
 * its exit code — so that `start` returns only when the pool serves, and fails with the real reason.
 * The daemon's own working directory is /, its umask 022; the environment is the launching one
 * (recorded, so that `restart` gives the workers the same).
 */
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { DAEMON_NODE_FLAGS } from './command-line.js';

export const DAEMON_FLAG = '--daemonized';
/** The handshake pipe's fd in the daemon. */
const HANDSHAKE_FD = 3;

export type Handshake =
  | { readonly ok: true; readonly pid: number; readonly name: string; readonly address: string }
  | { readonly ok: false; readonly code: number; readonly message: string };

function firstLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let data = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\n')) resolve(data.slice(0, data.indexOf('\n')));
    });
    stream.once('end', () => resolve(data.includes('\n') ? data.slice(0, data.indexOf('\n')) : undefined));
    stream.once('error', () => resolve(undefined));
  });
}

/** Runs in the launching process: start the daemon and report what it says. */
export async function launchDaemon(script: string, argv: readonly string[]): Promise<Handshake> {
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, script, 'start', DAEMON_FLAG, ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    cwd: process.cwd(),
    env: process.env,
  });
  const pipe = child.stdio[HANDSHAKE_FD] as Readable;
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit status ${code}`)));
  const line = await firstLine(pipe);
  pipe.destroy();
  child.unref();
  if (line !== undefined) {
    try {
      return JSON.parse(line) as Handshake;
    } catch {
      // Fall through: an unreadable line is as good as none.
    }
  }
  return { ok: false, code: 1, message: `the daemon ended before it was ready (${await exited})` };
}

let reported = false;

/** Runs in the daemon: tell the launching process, once, and let go of the pipe (fd 3 may be reused after). */
export function reportToLauncher(handshake: Handshake): void {
  if (reported) return;
  reported = true;
  try {
    writeSync(HANDSHAKE_FD, `${JSON.stringify(handshake)}\n`);
    closeSync(HANDSHAKE_FD);
  } catch {
    // The launcher is gone (killed while waiting): the daemon serves all the same.
  }
}

/** The daemon's own state, explicit rather than inherited from the launching shell. */
export function detachFromLauncher(): void {
  process.chdir('/');
  process.umask(0o022);
}
