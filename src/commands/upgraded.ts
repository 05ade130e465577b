/**
 * The new program's side of an in-place upgrade (runtime/upgrade.ts): the state the previous program left in the
 * run directory, believed only once checked (control/upgrade-state.ts), becomes the instance's lock, each pool's
 * socket and its running workers (their output pipes read into the worker log again).
 */
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { PoolConfig } from '../config/types.js';
import type { AdoptedPool } from '../core/adopt.js';
import { CliError } from '../errors.js';
import type { WorkerPipes } from '../log/setup.js';
import { ListenSocket } from '../os/listen-socket.js';
import { isWorkerPipe, readUpgradeState, type UpgradeState } from '../control/upgrade-state.js';
import type { Adopted, BoundPool } from '../runtime/serve.js';

/** The exit code of a new program that refused what it was handed (it then stops; the workers go to init). */
export const UPGRADE_REFUSED_EXIT = 1;

export function readHandedState(path: string, euid: number): UpgradeState {
  const read = readUpgradeState(path, euid);
  if (read.kind !== 'ok') throw new CliError(`upgrade: the state the previous program left was refused: ${read.reason}`, UPGRADE_REFUSED_EXIT);
  return read.state;
}

function pipeStream(fd: number): Readable {
  return new Socket({ fd, readable: true, writable: false });
}

/** Each configured pool takes its socket from the state, by name; a pool the state lacks is an error. */
export function adoptPools(pools: readonly PoolConfig[], state: UpgradeState): { bound: BoundPool[]; adopted: Adopted } {
  const byName = new Map(state.pools.map((pool) => [pool.name, pool]));
  const bound: BoundPool[] = [];
  const adoptedPools = new Map<string, AdoptedPool>();
  const pipes = new Map<number, WorkerPipes>();
  for (const config of pools) {
    const handed = byName.get(config.name);
    if (!handed) throw new CliError(`upgrade: pool ${config.name} was not handed over by the previous program`, UPGRADE_REFUSED_EXIT);
    const socket = ListenSocket.inherit(handed.socket.fd, config.address, handed.socket.bindName);
    socket.setBlocking(handed.blocking);
    bound.push({ config, socket });
    adoptedPools.set(config.name, {
      name: config.name,
      generation: handed.generation,
      nextGeneration: handed.nextGeneration,
      desiredWorkers: handed.desiredWorkers,
      blocking: handed.blocking,
      workers: handed.workers.map((worker) => ({ slot: worker.slot, pid: worker.identity.pid, ageMs: worker.ageMs, restarts: worker.restarts })),
    });
    for (const worker of handed.workers) {
      const { pid } = worker.identity;
      const opened: { stdout?: Readable; stderr?: Readable } = {};
      for (const [name, fd, at] of [['stdout', worker.stdout, 1], ['stderr', worker.stderr, 2]] as const) {
        if (fd === undefined) continue;
        // Still the worker's pipe (it may have closed or replaced its stdout since): read it; otherwise let it go.
        // (Left open, close-on-exec, when it is not: a number the state named is never closed on trust.)
        if (isWorkerPipe(pid, at, fd)) opened[name] = pipeStream(fd);
      }
      pipes.set(pid, opened);
    }
  }
  return { bound, adopted: { state, pools: adoptedPools, pipes } };
}
