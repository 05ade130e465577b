/**
 * The Node HTTP app of the reload and throughput benchmarks, one program for both supervisors so that they
 * run the same code: under fcgi-spawn it listens on the inherited socket (fd 0); under PM2's cluster mode
 * on PORT (Node's cluster module: PM2's daemon accepts and hands each connection to a worker).
 *
 * Its handler and its drain are test/fixtures/http-app.mjs's: GET answers 200 `pid=<pid>`, ?sleep=MS delays
 * the answer; on the stop signal it stops accepting, closes idle keep-alive connections, answers requests in
 * flight with `Connection: close`, then exits 0. It drains on SIGTERM (fcgi-spawn's stop signal) and on
 * SIGINT (PM2's, which otherwise kills it at once: the keep-alive-safe shutdown handler of issue 3).
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

let stopping = false;

const server = http.createServer(async (request, response) => {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  const sleepMs = Number(url.searchParams.get('sleep') ?? 0);
  if (sleepMs > 0) await delay(sleepMs);
  if (stopping) response.setHeader('Connection', 'close');
  response.writeHead(200, { 'Content-Type': 'text/plain' }).end(`pid=${process.pid}\n`);
});

const port = process.env['PORT'];
if (port) server.listen(Number(port), '127.0.0.1');
else server.listen({ fd: 0 });

function drain(): void {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
}

process.on('SIGTERM', drain);
process.on('SIGINT', drain);
// PM2 sends this message instead of a signal when shutdown_with_message is set.
process.on('message', (message) => {
  if (message === 'shutdown') drain();
});
