/**
 * Turns the core's "spawn slot i" into a real process with the pool's socket, and keeps what the
 * runtime must know about each slot's latest process (its stderr tail).
 */
import type { StartConfig } from '../config/start-config.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { resolveProgram } from '../os/executable.js';
import { spawnWorker } from './spawn.js';
import { StderrTail } from './stderr-tail.js';
import { workerCommand, type WorkerCommand } from './worker-command.js';
import type { WorkerLauncher } from './supervisor.js';

export class WorkerPool implements WorkerLauncher {
  private command: WorkerCommand;
  private readonly tails = new Map<string, StderrTail>();
  private readonly open = new Set<Promise<void>>();

  constructor(
    private config: StartConfig,
    private readonly sockets: PoolSockets,
  ) {
    this.command = workerCommand(config);
  }

  /** A reload runs the program found now (a new deployment), checked as at start. */
  prepare(): void {
    const resolved = resolveProgram(this.config.program, this.config.cwd, this.config.env.PATH);
    if (!resolved.found) {
      throw new Error(`worker program '${this.config.program}' ${resolved.reason === 'not-found' ? 'not found' : 'not executable'} (tried ${resolved.tried.join(', ')})`);
    }
    this.config = { ...this.config, programPath: resolved.path };
    this.command = workerCommand(this.config);
  }

  spawn(generation: number, slot: number, onExit: (pid: number, code: number | null, signal: string | null) => void): number {
    const socket = this.sockets.get(generation);
    if (!socket) throw new Error(`generation ${generation} has no socket`);
    const worker = spawnWorker({
      command: this.command,
      env: this.config.env,
      cwd: this.config.cwd,
      socketFd: socket.fd,
      socketAt: this.config.fd,
      onExit: (pid, status) => onExit(pid, status.code, status.signal),
    });
    const tail = new StderrTail(worker.stderr, (chunk) => process.stderr.write(chunk));
    this.tails.set(`${generation}:${slot}`, tail);
    this.open.add(tail.ended);
    void tail.ended.then(() => this.open.delete(tail.ended));
    return worker.pid;
  }

  lastStderrLine(generation: number, slot: number): string | undefined {
    const line = this.tails.get(`${generation}:${slot}`)?.lastLine;
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
