/**
 * bench/apps/http-app.ts written with fcgi-spawn/worker instead of its own signal handler: the same answers (GET:
 * 200 `pid=<pid>`, ?sleep=MS first), listen() on the inherited socket (with ready: notify it says ready), the
 * drain on SIGTERM the helper's. PORT, when set, is the fallback for a run by hand (under PM2's cluster mode it
 * did not come up within 30 s here, not looked into: the benchmark runs it under fcgi-spawn only).
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { listen } from '../../src/worker/index.js';

const server = http.createServer(async (request, response) => {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  const sleepMs = Number(url.searchParams.get('sleep') ?? 0);
  if (sleepMs > 0) await delay(sleepMs);
  response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`pid=${process.pid}\n`);
});

const port = process.env['PORT'];
await listen(server, port ? { fallback: { port: Number(port), host: '127.0.0.1' } } : {});
