/**
 * Turns the core's "spawn slot i" into a real process with the pool's socket, and keeps what the
 * runtime must know about each slot's latest process (its stderr tail).
 */
import type { StartConfig } from '../config/start-config.js';
import type { ListenSocket } from '../os/listen-socket.js';
import { spawnWorker } from './spawn.js';
import { StderrTail } from './stderr-tail.js';
import { workerCommand, type WorkerCommand } from './worker-command.js';
import type { WorkerLauncher } from './supervisor.js';

export class WorkerPool implements WorkerLauncher {
  private readonly command: WorkerCommand;
  private readonly tails = new Map<number, StderrTail>();
  private readonly open = new Set<Promise<void>>();

  constructor(
    private readonly config: StartConfig,
    private readonly socket: ListenSocket,
  ) {
    this.command = workerCommand(config);
  }

  spawn(slot: number, onExit: (pid: number, code: number | null, signal: string | null) => void): number {
    const worker = spawnWorker({
      command: this.command,
      env: this.config.env,
      cwd: this.config.cwd,
      socketFd: this.socket.fd,
      socketAt: this.config.fd,
      onExit: (pid, status) => onExit(pid, status.code, status.signal),
    });
    const tail = new StderrTail(worker.stderr, (chunk) => process.stderr.write(chunk));
    this.tails.set(slot, tail);
    this.open.add(tail.ended);
    void tail.ended.then(() => this.open.delete(tail.ended));
    return worker.pid;
  }

  lastStderrLine(slot: number): string | undefined {
    const line = this.tails.get(slot)?.lastLine;
    return line ? line : undefined;
  }

  /** A worker's output is complete at its pipes' end, which may follow its exit: wait, but not for ever. */
  async outputEnded(withinMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    await Promise.race([Promise.all([...this.open]), deadline]);
    clearTimeout(timer);
  }
}
