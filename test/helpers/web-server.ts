/**
 * A real web server (nginx, Apache, lighttpd) started by a test: its own config and files in a temp dir, a free
 * port on loopback, in the foreground as a child of the test (never a service apt may have started), stopped by
 * its pid and process group, its directory removed.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, groupMembers, killQuietly } from './processes.js';
import { waitFor } from './wait.js';

export interface RunningWebServer {
  readonly port: number;
  readonly pid: number;
  /** The server's temp directory: its config, logs and whatever the test put there. */
  readonly dir: string;
  stop(): Promise<void>;
}

export interface WebServerSpec {
  readonly name: string;
  /** Writes the config into dir for port; returns the command line that runs it in the foreground. */
  readonly prepare: (dir: string, port: number) => readonly string[];
  /** Relative to dir: shown when the server does not come up. */
  readonly errorLog: string;
  /** Apache's children switch to www-data: they must be able to enter the directory. */
  readonly worldReadable?: boolean;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export async function startWebServer(spec: WebServerSpec): Promise<RunningWebServer> {
  const dir = mkdtempSync(join(tmpdir(), `fcgi-spawn-${spec.name}-`));
  if (spec.worldReadable) chmodSync(dir, 0o755);
  const port = await freePort();
  const [program, ...args] = spec.prepare(dir, port);
  const child = spawn(program as string, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, cwd: dir });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid as number;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    killQuietly(pid, 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (groupMembers(pid).length > 0) killQuietly(-pid, 'SIGKILL');
    await waitFor(`${spec.name} gone`, () => groupMembers(pid).length === 0, { timeoutMs: 5_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${spec.name} listening on ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`${spec.name} exited ${child.exitCode}: ${stderr}`);
      return portOpen(port);
    }, { timeoutMs: 10_000 });
  } catch (error) {
    const log = readQuietly(join(dir, spec.errorLog));
    await stop();
    throw new Error(`${(error as Error).message}\n${stderr}\n${log}`);
  }
  return { port, pid, dir, stop };
}
