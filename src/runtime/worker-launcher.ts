/**
 * Turns the core's "spawn slot i" into a real process with the pool's socket, hands its output to the
 * logs (log/setup.ts), and keeps what the runtime must know about each slot's latest process (what it
 * last wrote to stderr, for the message of a failed start-up).
 */
import type { StartConfig } from '../config/start-config.js';
import type { Logs, WorkerOutput } from '../log/setup.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { resolveProgram } from '../os/executable.js';
import { spawnWorker } from './spawn.js';
import { workerCommand, type WorkerCommand } from './worker-command.js';
import type { WorkerLauncher } from './supervisor.js';

/** What the pool needs of the logs: how to open a worker's stdio, and where its pipes go. */
export type WorkerOutputs = Pick<Logs, 'workerStdio' | 'attachWorker'>;

export class WorkerPool implements WorkerLauncher {
  private command: WorkerCommand;
  private readonly outputs = new Map<string, WorkerOutput>();

  constructor(
    private config: StartConfig,
    private readonly sockets: PoolSockets,
    private readonly logs: WorkerOutputs,
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
      stdio: this.logs.workerStdio,
      onExit: (pid, status) => onExit(pid, status.code, status.signal),
    });
    // In this turn: a pipe still unread on the next one is resumed by execa and its lines are lost.
    const output = this.logs.attachWorker({ stdout: worker.stdout, stderr: worker.stderr }, { workerIndex: slot, pid: worker.pid });
    this.outputs.set(`${generation}:${slot}`, output);
    return worker.pid;
  }

  /** What the slot's latest worker last wrote to stderr; call after Logs.outputEnded() to include its final line. */
  lastStderrLine(generation: number, slot: number): string | undefined {
    return this.outputs.get(`${generation}:${slot}`)?.lastStderrLine();
  }
}
