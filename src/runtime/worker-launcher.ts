/**
 * Turns the core's "spawn slot i of generation g" into a real process with that generation's socket
 * and that generation's configuration (a rolled-back reload never leaks into the serving generation's
 * respawns), hands its output to the pool's worker log, and keeps what each slot's latest process
 * last wrote to stderr (for the message of a failed start).
 */
import { getPriority } from 'node:os';
import type { PoolConfig } from '../config/types.js';
import type { WorkerOutput, WorkerOutputs, WorkerPipes } from '../log/setup.js';
import type { PoolSockets } from '../os/pool-sockets.js';
import { ReadyChannel } from './ready-channel.js';
import { spawnWorker } from './spawn.js';
import { workerCommand, type WorkerCommand } from './worker-command.js';

/** What becomes of a spawned worker, as the pool runtime turns it into events. */
export interface WorkerListener {
  exit(pid: number, code: number | null, signal: string | null): void;
  /** Its ready pipe (ready: notify): READY=1, no READY=1 any more, another line. */
  notified(pid: number): void;
  notifyFailed(pid: number, reason: string): void;
  notifyNoise(pid: number, line: string): void;
}

export interface Spawned {
  readonly pid: number;
  /** It has a ready pipe: it is ready when it says so. */
  readonly notify: boolean;
}

export class WorkerPool {
  private readonly generations = new Map<number, { readonly config: PoolConfig; readonly command: WorkerCommand }>();
  private readonly outputs = new Map<string, WorkerOutput>();
  /** The outputs of the generation retired last are kept: a rolled-back reload tells its failed worker's last line. */
  private lastForgotten: number | undefined;

  constructor(
    private readonly sockets: PoolSockets,
    private readonly logs: WorkerOutputs,
  ) {}

  /** The configuration a generation runs for its whole life. */
  assign(generation: number, config: PoolConfig): void {
    // The supervisor's niceness now: a generation's workers get the pool's `nice` whatever the supervisor runs at.
    this.generations.set(generation, { config, command: workerCommand(config, { nice: getPriority(0) }) });
  }

  configOf(generation: number): PoolConfig | undefined {
    return this.generations.get(generation)?.config;
  }

  /** A retired generation's configuration is not needed any more. */
  forget(generation: number): void {
    this.generations.delete(generation);
    const older = this.lastForgotten;
    this.lastForgotten = generation;
    if (older !== undefined) for (const key of [...this.outputs.keys()]) if (key.startsWith(`${older}:`)) this.outputs.delete(key);
  }

  spawn(generation: number, slot: number, listener: WorkerListener): Spawned {
    const socket = this.sockets.get(generation);
    const assigned = this.generations.get(generation);
    if (!socket || !assigned) throw new Error(`generation ${generation} has no socket`);
    const { config, command } = assigned;
    let channel: ReadyChannel | undefined;
    const worker = spawnWorker({
      command,
      env: config.env,
      cwd: config.cwd,
      socketFd: socket.fd,
      socketAt: config.fd,
      stdio: this.logs.workerStdio,
      readyPipe: config.ready === 'notify',
      onExit: (pid, status) => {
        channel?.close();
        listener.exit(pid, status.code, status.signal);
      },
    });
    const { pid } = worker;
    if (worker.ready) {
      channel = new ReadyChannel(worker.ready, {
        ready: () => listener.notified(pid),
        failed: (reason) => listener.notifyFailed(pid, reason),
        noise: (line) => listener.notifyNoise(pid, line),
      });
    }
    // In this turn: a pipe still unread on the next one is resumed by execa and its lines are lost.
    const output = this.logs.attachWorker({ stdout: worker.stdout, stderr: worker.stderr }, { workerIndex: slot, pid: worker.pid });
    this.outputs.set(`${generation}:${slot}`, output);
    return { pid, notify: channel !== undefined };
  }

  /** A worker the previous program spawned (an in-place upgrade): its output pipes, when it had them, go to the worker log again. */
  adopt(generation: number, slot: number, pid: number, pipes: WorkerPipes): void {
    this.outputs.set(`${generation}:${slot}`, this.logs.attachWorker(pipes, { workerIndex: slot, pid }));
  }

  /** Resolves when the slot's latest worker's pipes ended, or after withinMs. */
  async outputEnded(generation: number, slot: number, withinMs: number): Promise<void> {
    const output = this.outputs.get(`${generation}:${slot}`);
    if (!output) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([output.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)))]);
    clearTimeout(timer);
  }

  /** What the slot's latest worker last wrote to stderr; call after the output ended to include its final line. */
  lastStderrLine(generation: number, slot: number): string | undefined {
    return this.outputs.get(`${generation}:${slot}`)?.lastStderrLine();
  }
}
