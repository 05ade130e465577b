/**
 * What a worker learns from the supervisor through its environment: where its listening socket is (fd 0, the
 * FastCGI convention, or fd 3 under LISTEN_FDS), and where to say that it is ready (FCGI_SPAWN_READY_FD, given
 * only by a pool with `ready: notify`: a pipe of the supervisor's own, one line, once). CommonJS, like the
 * rest of fcgi-spawn/worker, so that `require` and `import` share one copy of its state.
 */
import { closeSync, fstatSync, writeSync } from 'node:fs';

/** The variable that names the ready pipe's descriptor (runtime/ready-channel.ts reads the other end). */
export const READY_FD_VARIABLE = 'FCGI_SPAWN_READY_FD';
/** The one line the supervisor takes for "ready" (systemd's word for it). */
export const READY_LINE = 'READY=1\n';

function isSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/**
 * The descriptor of the listening socket this process inherited: 3 under systemd-style activation meant for this
 * very process (LISTEN_PID guards against variables inherited from a parent), else 0 when fd 0 is a socket (the
 * FastCGI convention, fcgi-spawn's default); undefined when there is none (the app started by hand).
 */
export function inheritedFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) >= 1) return 3;
  return isSocket(0) ? 0 : undefined;
}

let told = false;

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error as Error).message;
}

/**
 * Tells the supervisor that this worker is ready: writes READY=1 to the pipe FCGI_SPAWN_READY_FD names and closes
 * it. A pool with `ready: notify` counts the worker as ready only then (a reload steers no connection to new
 * workers before it); in any other pool there is no such variable and this does nothing. Returns whether the
 * supervisor was told (now or by an earlier call). Throws when the variable names something that is not a pipe
 * or a socket, or the write fails: a worker that believes it said ready, unheard, would be killed at the pool's
 * --start-timeout for no reason it could see.
 */
export function ready(env: NodeJS.ProcessEnv = process.env): boolean {
  if (told) return true;
  const text = env[READY_FD_VARIABLE];
  if (text === undefined) return false;
  // Not for this worker's own children: whatever they hold at that number is not the supervisor's pipe.
  delete env[READY_FD_VARIABLE];
  if (!/^\d+$/.test(text) || Number(text) < 3) {
    throw new Error(`fcgi-spawn/worker: ${READY_FD_VARIABLE}='${text}' is not a descriptor number (3 or more)`);
  }
  const fd = Number(text);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFIFO() && !stat.isSocket()) throw new Error('not a pipe or a socket');
  } catch (error) {
    throw new Error(`fcgi-spawn/worker: unable to use ${READY_FD_VARIABLE}=${fd}: ${describe(error)}`);
  }
  try {
    writeSync(fd, READY_LINE);
  } catch (error) {
    throw new Error(`fcgi-spawn/worker: unable to write to ${READY_FD_VARIABLE}=${fd}: ${describe(error)}`);
  } finally {
    closeSync(fd);
  }
  told = true;
  return true;
}
