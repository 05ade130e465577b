/**
 * systemd's notify protocol (Type=notify): datagrams to $NOTIFY_SOCKET. Node's dgram has no AF_UNIX,
 * so the datagram goes through libc (os/libc.ts).
 */
import { sendUnixDatagram } from '../os/libc.js';

export class Notifier {
  constructor(private readonly socketPath: string | undefined) {}

  get enabled(): boolean {
    return this.socketPath !== undefined && this.socketPath !== '';
  }

  send(fields: Readonly<Record<string, string | number>>): void {
    if (!this.enabled) return;
    const message = Object.entries(fields).map(([key, value]) => `${key}=${value}`).join('\n');
    try {
      sendUnixDatagram(this.socketPath as string, Buffer.from(message));
    } catch {
      // systemd went away or never listened: nothing to tell.
    }
  }

  ready(status: string): void {
    this.send({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  reloading(): void {
    this.send({ RELOADING: 1, MONOTONIC_USEC: monotonicMicroseconds(), STATUS: 'reloading' });
  }

  status(status: string): void {
    this.send({ READY: 1, STATUS: status });
  }

  stopping(): void {
    this.send({ STOPPING: 1, STATUS: 'stopping' });
  }
}

/** CLOCK_MONOTONIC in µs, as systemd compares RELOADING=1 against it. */
function monotonicMicroseconds(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
