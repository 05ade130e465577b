/** Talking to a running instance over its control socket (node:net only: CLI start-up stays cheap). */
import { connect } from 'node:net';
import type { ControlRequest, ControlResponse } from './protocol.js';

export class ControlError extends Error {
  constructor(readonly kind: 'unreachable' | 'timeout' | 'protocol', message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export function sendControl(path: string, request: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ControlError('timeout', `no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: ControlError): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      data += chunk;
      const newline = data.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(JSON.parse(data.slice(0, newline)) as ControlResponse);
      } catch {
        reject(new ControlError('protocol', `unreadable answer from ${path}`));
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => fail(new ControlError('unreachable', `cannot reach ${path}: ${error.code ?? error.message}`)));
    socket.once('end', () => {
      if (!data.includes('\n')) fail(new ControlError('protocol', `${path} closed without answering`));
    });
  });
}
