/**
 * Where a worker of a `ready: notify` pool says it is ready: the descriptor just past the listening socket's
 * (3 beside the FastCGI convention's fd 0 and the two output streams; 4 beside the systemd convention's fd 3),
 * named in its environment. The variable and the line are fcgi-spawn/worker's own (src/worker), so that both
 * ends of the pipe read one definition.
 */
export { READY_FD_VARIABLE, READY_LINE } from '../worker/environment.cjs';

export function readyFdOf(socketAt: 0 | 3): number {
  return socketAt === 3 ? 4 : 3;
}
