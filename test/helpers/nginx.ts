/** A real nginx in front of a pool, with its own config and files in a temp dir, on a free port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';
import { freePort, groupMembers, killQuietly } from './processes.js';
import { waitFor } from './wait.js';

export interface Upstream {
  /** FastCGI upstream (host:port or unix:/path) with SCRIPT_FILENAME per location, or an HTTP one. */
  readonly fastcgi?: { readonly address: string; readonly scripts: Readonly<Record<string, string>> };
  readonly http?: { readonly address: string };
  /** Several FastCGI upstreams, one per location: path → its address and SCRIPT_FILENAME. */
  readonly routes?: Readonly<Record<string, { readonly address: string; readonly script: string }>>;
}

export interface RunningNginx {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

function locations(upstream: Upstream): string {
  if (upstream.http) {
    return `location / { proxy_pass http://${upstream.http.address}; proxy_set_header Connection ""; }`;
  }
  if (upstream.routes) {
    return Object.entries(upstream.routes)
      .map(([path, route]) => `location ${path} { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME ${route.script}; fastcgi_pass ${route.address}; }`)
      .join('\n    ');
  }
  const fastcgi = upstream.fastcgi;
  if (!fastcgi) throw new Error('no upstream');
  return Object.entries(fastcgi.scripts)
    .map(([path, script]) => `location ${path} { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME ${script}; fastcgi_pass ${fastcgi.address}; }`)
    .join('\n    ');
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

export async function startNginx(upstream: Upstream): Promise<RunningNginx> {
  const nginx = findTool('nginx');
  if (!nginx) throw new Error('nginx is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-nginx-'));
  for (const sub of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  const port = await freePort();
  const config = `
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  fastcgi_temp_path ${dir}/fastcgi;
  proxy_temp_path ${dir}/proxy;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    ${locations(upstream)}
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(nginx, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid as number;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    killQuietly(pid, 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    if (groupMembers(pid).length > 0) killQuietly(-pid, 'SIGKILL');
    await waitFor('nginx gone', () => groupMembers(pid).length === 0, { timeoutMs: 5_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`nginx listening on ${port} (${stderr})`, () => portOpen(port), { timeoutMs: 10_000 });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${readErrorLog(dir)}`);
  }
  return { port, pid, stop };
}

function readErrorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}
