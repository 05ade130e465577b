/** A real nginx in front of a pool, with its own config and files in a temp dir, on a free port. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from './tools.js';
import { startWebServer, type RunningWebServer } from './web-server.js';

export interface Upstream {
  /** FastCGI upstream (host:port or unix:/path) with SCRIPT_FILENAME per location, or an HTTP one. */
  readonly fastcgi?: { readonly address: string; readonly scripts: Readonly<Record<string, string>> };
  readonly http?: { readonly address: string };
  /** Several FastCGI upstreams, one per location: path → its address and SCRIPT_FILENAME. */
  readonly routes?: Readonly<Record<string, { readonly address: string; readonly script: string }>>;
}

export type RunningNginx = RunningWebServer;

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
    .map(([path, script]) => `location ${path} { include fastcgi_params; fastcgi_param SCRIPT_FILENAME ${script}; fastcgi_pass ${fastcgi.address}; }`)
    .join('\n    ');
}

/**
 * nginx with `http` as the content of its http block (a site: upstreams and servers) for the port it gets.
 * Debian's fastcgi_params sits beside the config, so `include fastcgi_params;` works as in /etc/nginx.
 */
export function startNginxSite(http: (port: number) => string): Promise<RunningNginx> {
  const nginx = findTool('nginx');
  if (!nginx) throw new Error('nginx is not installed');
  return startWebServer({
    name: 'nginx',
    errorLog: 'error.log',
    prepare: (dir, port) => {
      for (const sub of ['body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
      copyFileSync('/etc/nginx/fastcgi_params', join(dir, 'fastcgi_params'));
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
${http(port)}
}
`;
      writeFileSync(join(dir, 'nginx.conf'), config);
      return [nginx, '-c', join(dir, 'nginx.conf'), '-p', dir];
    },
  });
}

export function startNginx(upstream: Upstream): Promise<RunningNginx> {
  return startNginxSite((port) => `  server {\n    listen 127.0.0.1:${port};\n    ${locations(upstream)}\n  }`);
}
