/**
 * Replacing the supervisor's program in place (`fcgi-spawn upgrade`, SIGUSR2), as nginx, gunicorn and php-fpm do
 * on USR2, but keeping the pid: systemd, runit, s6 or a container's PID 1 see nothing change. First the program now
 * on disk is checked (`--version`, `config check` of the instance's file); then the serving generation of every
 * pool (its socket, its workers, their output pipes) and the instance lock are written to a state file in the run
 * directory (control/upgrade-state.ts), their descriptors lose FD_CLOEXEC, and the new program is execve()d with
 * the state's path in UPGRADE_STATE_ENV. It adopts them and reloads every pool (start.ts, serve.ts).
 */
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { Configuration } from '../config/types.js';
import { hasProcess } from '../core/slot.js';
import type { SupervisorState } from '../core/supervisor.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { execve, setCloseOnExec } from '../os/libc.js';
import { formatAddress } from '../os/sockaddr.js';
import type { Claimed } from '../control/instance.js';
import { identityOf } from '../control/record.js';
import { pipeOfWorker, selfIdentity, UPGRADE_STATE_ENV, UPGRADE_STATE_VERSION, writeUpgradeState, type UpgradePool, type UpgradeState } from '../control/upgrade-state.js';
import type { PoolRuntime } from './pool-runtime.js';
import { runCheck } from './spawn.js';

/** How long each check of the new program may take. */
const CHECK_TIMEOUT_MS = 30_000;

/** What `status` shows of the last upgrade (the new program's, once it runs). */
export interface UpgradeStatus {
  readonly id: string;
  readonly state: 'in-progress' | 'done' | 'failed';
  readonly from: string;
  readonly to: string;
  readonly at: string;
  readonly message: string;
}

export type UpgradeRefusal = { readonly kind: 'check' | 'refused'; readonly message: string };

export interface UpgraderOptions {
  readonly logger: Logger;
  readonly claimed: Claimed;
  readonly version: string;
  /** Where `start` was run: the new program reads its arguments (a relative --config) from there. */
  readonly launchCwd: string;
  readonly state: () => SupervisorState;
  readonly pool: (key: string) => PoolRuntime | undefined;
  readonly configuration: () => Configuration;
  readonly loadConfiguration: () => Promise<Configuration>;
  /** Let go of what the new program makes again (control socket, watchers, stats server); the log is flushed. */
  readonly release: () => Promise<void>;
  /** execve failed: take them up again. */
  readonly restore: () => Promise<void>;
  /** execve failed after the checks passed: what status shows. */
  readonly failed: (status: UpgradeStatus) => void;
}

/** The program that runs now, as it would be started again: node, its options, the script, the same arguments. */
function programArgv(): { file: string; script: string; argv: string[] } {
  const script = process.argv[1] as string;
  return { file: process.execPath, script, argv: [process.execPath, ...process.execArgv, script, ...process.argv.slice(2)] };
}

export class Upgrader {
  private busy = false;

  constructor(private readonly options: UpgraderOptions) {}

  /** Checks, then execve; returns (a refusal) only when nothing was changed, or throws nothing and never returns. */
  async check(requested?: string): Promise<UpgradeRefusal | { readonly kind: 'ready'; readonly to: string; readonly id: string }> {
    if (this.busy) return { kind: 'refused', message: 'an upgrade is already under way' };
    this.busy = true;
    try {
      const busy = whyBusy(this.options.state());
      if (busy) return { kind: 'refused', message: `upgrade refused: ${busy}; try again once it is done` };
      const { file, script } = programArgv();
      const version = await runCheck(file, [...process.execArgv, script, '--version'], CHECK_TIMEOUT_MS);
      if (!version.ok || version.stdout === '') return { kind: 'check', message: `upgrade refused: the new program (${script}) failed '--version': ${version.ok ? 'it printed nothing' : version.reason}` };
      const configFile = this.options.configuration().supervisor.configFile;
      if (configFile !== undefined) {
        const checked = await runCheck(file, [...process.execArgv, script, 'config', 'check', '--config', configFile], CHECK_TIMEOUT_MS);
        if (!checked.ok) return { kind: 'check', message: `upgrade refused: the new program (${script} ${version.stdout}) refuses ${configFile}: ${checked.reason}` };
      }
      const differs = await this.poolsDiffer();
      if (differs) return { kind: 'refused', message: `upgrade refused: ${differs}` };
      return { kind: 'ready', to: version.stdout, id: requested ?? `${process.pid}-${Date.now()}` };
    } catch (error) {
      return { kind: 'refused', message: `upgrade refused: ${describeError(error)}` };
    } finally {
      this.busy = false;
    }
  }

  /**
   * Hand everything over and become the new program; on failure, take everything back and say why. What is handed
   * over is read now, not at check(): a worker may have been respawned, or a stop asked for, since.
   */
  async exec(id: string, to: string): Promise<void> {
    const { logger, claimed } = this.options;
    const requestedAt = new Date().toISOString();
    const refuse = (message: string): void => {
      logger.log('error', message);
      this.options.failed({ id, state: 'failed', from: this.options.version, to, at: requestedAt, message });
    };
    if (this.busy) return refuse('upgrade refused: an upgrade is already under way');
    const busy = whyBusy(this.options.state());
    if (busy) return refuse(`upgrade refused: ${busy}; try again once it is done`);
    let state: UpgradeState;
    try {
      state = this.collect(id, requestedAt);
    } catch (error) {
      return refuse(`upgrade refused: ${describeError(error)}`);
    }
    this.busy = true;
    const path = join(claimed.paths.dir, `${claimed.name}.upgrade`);
    const fds = [state.lock.fd, ...state.pools.flatMap((pool) => [pool.socket.fd, ...pool.workers.flatMap((w) => [w.stdout, w.stderr].filter((fd): fd is number => fd !== undefined))])];
    const { file, argv } = programArgv();
    const cwd = process.cwd();
    logger.log('info', `upgrade: execve ${argv.slice(1).join(' ')} (${this.options.version} → ${to}), same pid ${process.pid}; handing over ${state.pools.map((p) => `${p.name} generation ${p.generation} (${p.workers.length} workers)`).join(', ')}`);
    try {
      writeUpgradeState(path, state);
      await this.options.release();
      for (const fd of fds) setCloseOnExec(fd, false);
      // stdio as it is (a terminal, the journal's socket, a log pipe): measured, Node had marked fds 1 and 2
      // close-on-exec when they were sockets, and the new program came up with /dev/null there.
      for (const fd of [0, 1, 2]) {
        try {
          setCloseOnExec(fd, false);
        } catch {
          // Not open: the new node opens /dev/null there.
        }
      }
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
      env[UPGRADE_STATE_ENV] = path;
      // The daemon runs in /; the new program resolves start's arguments as the first did, then goes to / again.
      process.chdir(this.options.launchCwd);
      execve(file, argv, env);
    } catch (error) {
      try {
        process.chdir(cwd);
      } catch {
        // Stays where it is.
      }
      for (const fd of fds) {
        try {
          setCloseOnExec(fd, true);
        } catch {
          // Closed meanwhile: nothing to keep from the workers.
        }
      }
      const { removeQuietly } = await import('../control/files.js');
      removeQuietly(path);
      await this.options.restore().catch(() => undefined);
      refuse(`upgrade failed: ${describeError(error)}; the running program keeps serving`);
    } finally {
      this.busy = false;
    }
  }

  /** The new program adopts pools by name and address: a file that says otherwise is applied by `update` first. */
  private async poolsDiffer(): Promise<string | undefined> {
    const loaded = await this.options.loadConfiguration();
    const wanted = loaded.pools.map((pool) => `${pool.name} on ${formatAddress(pool.address)}`).sort();
    const running = this.options.state().pools.map((pool) => `${pool.name} on ${formatAddress(pool.config.address)}`).sort();
    if (wanted.join('\n') === running.join('\n')) return undefined;
    return `the configuration's pools (${wanted.join(', ')}) are not the running ones (${running.join(', ')}); apply it with 'fcgi-spawn update' first`;
  }

  private collect(id: string, requestedAt: string): UpgradeState {
    const { claimed, version } = this.options;
    const ours = readdirSync('/proc/self/fd').map(Number).filter((fd) => Number.isInteger(fd) && fd > 2);
    const pools = this.options.state().pools.map((entry): UpgradePool => {
      const generation = entry.state.generations[0];
      const runtime = this.options.pool(entry.key);
      const socket = generation ? runtime?.sockets.get(generation.id) : undefined;
      if (!generation || !runtime || !socket) throw new Error(`pool ${entry.name} has no serving socket`);
      if (socket.adopted) throw new Error(`pool ${entry.name} serves on a socket systemd passed: restart the service to upgrade it`);
      const now = performance.now();
      const workers = generation.slots.filter(hasProcess).map((slot) => {
        const identity = identityOf(slot.pid);
        if (!identity) throw new Error(`worker ${slot.pid} of pool ${entry.name} is gone`);
        const stdout = pipeOfWorker(slot.pid, 1, ours);
        const stderr = pipeOfWorker(slot.pid, 2, ours);
        return { slot: slot.index, identity, ageMs: Math.max(0, Math.round(now - slot.startedAt)), restarts: slot.restarts, ...(stdout !== undefined ? { stdout } : {}), ...(stderr !== undefined && stderr !== stdout ? { stderr } : {}) };
      });
      const bindName = socket.boundName;
      return {
        key: entry.key,
        name: entry.name,
        generation: generation.id,
        nextGeneration: entry.state.nextGeneration,
        desiredWorkers: entry.state.desiredWorkers,
        blocking: entry.state.blocking,
        socket: { fd: socket.fd, inode: socket.inode, ...(bindName !== undefined ? { bindName } : {}) },
        workers,
      };
    });
    const lockStat = claimed.lock.identity();
    return { version: UPGRADE_STATE_VERSION, id, from: version, requestedAt, supervisor: selfIdentity(), lock: { fd: claimed.lock.fd, ...lockStat }, pools };
  }
}

/** Only a settled supervisor is handed over: one serving generation per pool, no worker between two states. */
function whyBusy(state: SupervisorState): string | undefined {
  if (state.phase !== 'running') return `the supervisor is ${state.phase}`;
  if (state.loading || state.outstanding.length > 0 || state.opening.length > 0) return 'a reload or an update is under way';
  for (const pool of state.pools) {
    if (pool.removing || pool.state.phase !== 'running') return `pool ${pool.name} is ${pool.removing ? 'being removed' : pool.state.phase}`;
    if (pool.state.generations.length !== 1 || pool.state.generations[0]?.phase !== 'serving') return `pool ${pool.name} is reloading`;
    if (pool.state.lingering.length > 0) return `pool ${pool.name} is still stopping a process group`;
    const moving = pool.state.generations[0].slots.find((slot) => slot.state === 'starting' || slot.state === 'stopping' || slot.state === 'spawning');
    if (moving) return `a worker of pool ${pool.name} is ${moving.state}`;
  }
  return undefined;
}
