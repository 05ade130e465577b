/**
 * `fcgi-spawn top`: the status model once a second, every pool on a line (workers by state, queue, spawns per
 * second, RSS). On a terminal the frame is redrawn in place and q or Ctrl-C quits; otherwise (a pipe, a file, a
 * test) one frame is printed per second until the process is interrupted or --iterations frames were printed.
 */
import type { InstanceSelector } from '../control/locate.js';
import { CliError } from '../errors.js';
import { topFrame } from '../status/top-frame.js';
import type { InstanceStatus } from '../status/types.js';
import { locate } from './instance-selector.js';
import { fetchStatus, STATUS_EXIT } from './status.js';

const FRAME_MS = 1000;
const CLEAR = '\x1b[H\x1b[2J';
const CTRL_C = '\x03';

function iterationsOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1) throw new CliError(`invalid --iterations '${text}': expected a whole number from 1`, STATUS_EXIT.unknown);
  return count;
}

/** What ends the loop: q or Ctrl-C on a terminal, SIGINT/SIGTERM otherwise; a quit also cuts the wait for the next frame. */
class Quit {
  requested = false;
  private wake: (() => void) | undefined;
  private readonly undo: (() => void)[] = [];

  constructor(keys: boolean) {
    const quit = (): void => this.request();
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
    this.undo.push(() => process.off('SIGINT', quit).off('SIGTERM', quit));
    if (keys) {
      const onKey = (data: Buffer): void => {
        const text = data.toString('latin1');
        if (text.includes('q') || text.includes('Q') || text.includes(CTRL_C)) this.request();
      };
      process.stdin.setRawMode(true);
      process.stdin.on('data', onKey).resume();
      this.undo.push(() => {
        process.stdin.off('data', onKey).pause();
        process.stdin.setRawMode(false);
      });
    }
  }

  request(): void {
    this.requested = true;
    this.wake?.();
  }

  /** Resolves after `ms`, or at once on a quit. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  release(): void {
    for (const undo of this.undo) undo();
  }
}

export async function runTop(selector: InstanceSelector, options: { readonly iterations?: string }): Promise<number> {
  const iterations = iterationsOf(options.iterations);
  const instance = locate(selector, { usage: STATUS_EXIT.unknown, refused: STATUS_EXIT.unknown });
  if (instance.status.state !== 'running') {
    process.stderr.write(`fcgi-spawn: ${instance.name} is not running\n`);
    return instance.status.state === 'dead' ? STATUS_EXIT.deadWithPidfile : STATUS_EXIT.notRunning;
  }
  const terminal = process.stdout.isTTY === true;
  const quit = new Quit(terminal && process.stdin.isTTY === true);
  let previous: { status: InstanceStatus; at: number } | undefined;
  const started = Date.now();
  try {
    for (let frame = 1; !quit.requested; frame += 1) {
      let status: InstanceStatus;
      try {
        status = await fetchStatus(instance.paths.control);
      } catch (error) {
        process.stderr.write(`fcgi-spawn: ${instance.name} did not answer: ${(error as Error).message}\n`);
        return STATUS_EXIT.unknown;
      }
      const at = Date.now();
      const text = topFrame(status, previous?.status, previous ? at - previous.at : 0, new Date(at));
      process.stdout.write(terminal ? `${CLEAR}${text}${iterations === undefined ? '(q quits)\n' : ''}` : `${text}\n`);
      previous = { status, at };
      if (iterations !== undefined && frame >= iterations) break;
      // Frames on a one-second grid: the time a status read takes does not add up.
      await quit.wait(Math.max(0, started + frame * FRAME_MS - Date.now()));
    }
    return STATUS_EXIT.running;
  } finally {
    quit.release();
  }
}
