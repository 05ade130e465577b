/**
 * `fcgi-spawn status [--json]`: what the daemon knows (it holds the socket, so the queue length
 * comes from it), with LSB exit codes so init scripts can use them.
 */
import type { InstanceSelector } from '../control/locate.js';
import { sendControl } from '../control/client.js';
import type { InstanceStatus, PoolStatus } from '../control/protocol.js';
import { formatDuration, locate } from './instance-selector.js';

/** LSB: 0 running, 1 dead but the pidfile exists, 3 not running, 4 unknown (usage errors, a refused run directory). */
export const STATUS_EXIT = { running: 0, deadWithPidfile: 1, notRunning: 3, unknown: 4 } as const;

const CONTROL_TIMEOUT_MS = 5_000;

function poolTable(pool: PoolStatus): string[] {
  const queue = pool.queue ? `${pool.queue.length}/${pool.queue.limit}` : 'unknown (Unix socket)';
  const head = [
    `  pool ${pool.name}: listening on ${pool.address}, backlog ${pool.backlog}, queue ${queue}, ${pool.blocking ? 'blocking' : 'non-blocking'} socket${pool.reloading ? ' (reloading)' : ''}`,
    `    generation ${pool.generation}, ${pool.desiredWorkers} worker(s) wanted`,
    '    PID      SLOT GEN STATE     UP        RESTARTS LAST EXIT   RSS(KiB)  CPU(ms)  ACTIVITY',
  ];
  const rows = pool.workers.map((w) => {
    const lastExit = w.lastExit ? (w.lastExit.signal ?? `status ${w.lastExit.code}`) : '-';
    return `    ${String(w.pid).padEnd(8)} ${String(w.slot).padEnd(4)} ${String(w.generation).padEnd(3)} ${w.state.padEnd(9)} ${formatDuration(w.uptimeMs ?? 0).padEnd(9)} ${String(w.restarts).padEnd(8)} ${lastExit.padEnd(11)} ${String(w.rssKiB ?? '-').padEnd(9)} ${String(w.cpuMs ?? '-').padEnd(8)} ${w.activity}`;
  });
  return [...head, ...rows];
}

function table(status: InstanceStatus): string {
  const lines = [
    `${status.name}: ${status.phase}${status.reloading ? ' (reloading)' : ''}, pid ${status.pid}, up ${formatDuration(status.uptimeMs)}${status.configFile ? `, from ${status.configFile}` : ''}`,
    ...(status.configError ? [`  configuration error (the running pools keep their settings): ${status.configError}`] : []),
    ...status.pools.flatMap(poolTable),
  ];
  return `${lines.join('\n')}\n`;
}

/** Only the named pool, the instance's own fields kept (the top-level ones then describe that pool). */
function onlyPool(status: InstanceStatus, name: string): InstanceStatus | undefined {
  const pool = status.pools.find((p) => p.name === name);
  if (!pool) return undefined;
  const { name: _pool, ...fields } = pool;
  return { ...status, ...fields, pools: [pool] };
}

export async function runStatus(selector: InstanceSelector, options: { readonly json?: boolean; readonly pool?: string }): Promise<number> {
  const instance = locate(selector, { usage: STATUS_EXIT.unknown, refused: STATUS_EXIT.unknown });
  const say = (state: string, extra: Record<string, unknown> = {}): void => {
    process.stdout.write(options.json ? `${JSON.stringify({ name: instance.name, state, ...extra })}\n` : `${instance.name}: ${state}\n`);
  };
  if (instance.status.state === 'stopped') {
    say('not running');
    return STATUS_EXIT.notRunning;
  }
  if (instance.status.state === 'dead') {
    say(`dead, but its pidfile ${instance.paths.pidfile} remains${instance.status.pid ? ` (pid ${instance.status.pid})` : ''}`);
    return STATUS_EXIT.deadWithPidfile;
  }
  try {
    const response = await sendControl(instance.paths.control, { command: 'status' }, CONTROL_TIMEOUT_MS);
    if (!response.ok || !response.status) throw new Error(response.message);
    const status = options.pool !== undefined ? onlyPool(response.status, options.pool) : response.status;
    if (!status) {
      process.stderr.write(`fcgi-spawn: ${instance.name} has no pool named '${options.pool}' (it has ${response.status.pools.map((p) => p.name).join(', ')})\n`);
      return STATUS_EXIT.unknown;
    }
    process.stdout.write(options.json ? `${JSON.stringify({ state: 'running', ...status })}\n` : table(status));
    return STATUS_EXIT.running;
  } catch (error) {
    say(`running (pid ${instance.status.pid}), but its control socket did not answer: ${(error as Error).message}`);
    return STATUS_EXIT.unknown;
  }
}
