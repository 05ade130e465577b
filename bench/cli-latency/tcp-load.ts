/**
 * --tcp-sockets N: a helper process holding N idle TCP sockets on 127.0.0.1 (N/2 connections, both ends),
 * so that /proc/net/tcp is as long as on a busy host — nginx in front of a FastCGI pool leaves a socket
 * in TIME_WAIT per request without keep-alive. fcgi-spawn reads that table per worker to tell whether a
 * worker holds a connection (src/os/proc.ts, servingConnection), so `status` grows with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const HOLDER = `
const net = require('net');
const pairs = Number(process.argv[1]);
const held = [];
const server = net.createServer((socket) => held.push(socket));
server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  for (let i = 0; i < pairs; i += 1) {
    await new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve());
      socket.once('error', reject);
      held.push(socket);
    });
  }
  process.stdout.write('ready\\n');
});
process.stdin.resume();
// RST rather than FIN: nothing is left behind in TIME_WAIT for the next minute.
process.stdin.on('end', () => {
  for (const socket of held) socket.resetAndDestroy();
  server.close();
  setTimeout(() => process.exit(0), 100);
});`;

export interface TcpLoad {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

export async function holdTcpSockets(sockets: number, timeoutMs: number): Promise<TcpLoad> {
  const child = spawn(process.execPath, ['-e', HOLDER, String(Math.ceil(sockets / 2))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`--tcp-sockets: not connected within ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`--tcp-sockets: the holder exited with ${code} (file descriptor limit? ulimit -n)`));
    });
  });
  return {
    child,
    async stop(): Promise<void> {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
