/**
 * `fcgi-spawn status [--json | --format prometheus]`: the status model as the daemon builds it (it holds the
 * sockets and the counters), with LSB exit codes so init scripts can use them.
 */
import type { InstanceSelector } from '../control/locate.js';
import type { InstanceStatus } from '../status/types.js';
import { CliError } from '../errors.js';
import { locate } from './instance-selector.js';
import { printError, printOut } from './print.js';

/** LSB: 0 running, 1 dead but the pidfile exists, 3 not running, 4 unknown (usage errors, a refused run directory). */
export const STATUS_EXIT = { running: 0, deadWithPidfile: 1, notRunning: 3, unknown: 4 } as const;

const CONTROL_TIMEOUT_MS = 5_000;

/** Only the named pool, the instance's own fields kept (the top-level ones then describe that pool). */
function onlyPool(status: InstanceStatus, name: string): InstanceStatus | undefined {
  const pool = status.pools.find((p) => p.name === name);
  if (!pool) return undefined;
  const { name: _pool, ...fields } = pool;
  return { ...status, ...fields, pools: [pool] };
}

export const STATUS_FORMATS = ['text', 'json', 'prometheus'] as const;
export type StatusFormat = (typeof STATUS_FORMATS)[number];

/** --json is --format json; a format that is not one of ours is a usage error. */
function formatOf(options: { readonly json?: boolean; readonly format?: string }): StatusFormat {
  if (options.format === undefined) return options.json ? 'json' : 'text';
  if (!(STATUS_FORMATS as readonly string[]).includes(options.format)) {
    throw new CliError(`invalid --format '${options.format}': expected ${STATUS_FORMATS.join(', ')}`, STATUS_EXIT.unknown);
  }
  if (options.json && options.format !== 'json') throw new CliError(`--json and --format ${options.format} contradict each other: give one`, STATUS_EXIT.unknown);
  return options.format as StatusFormat;
}

/** The daemon's status, as a control request (`top` reads it once a second). */
export async function fetchStatus(control: string): Promise<InstanceStatus> {
  // The client (node:net) only for a running instance: a stopped one answers from the run directory alone.
  const { sendControl } = await import('../control/client.js');
  const response = await sendControl(control, { command: 'status' }, CONTROL_TIMEOUT_MS);
  if (!response.ok || !response.status) throw new Error(response.message);
  return response.status;
}

async function render(status: InstanceStatus, format: StatusFormat): Promise<string> {
  if (format === 'json') return `${JSON.stringify({ state: 'running', ...status })}\n`;
  if (format === 'prometheus') return (await import('../status/prometheus.js')).prometheusText(status);
  return (await import('../status/text.js')).statusText(status);
}

export async function runStatus(selector: InstanceSelector, options: { readonly json?: boolean; readonly format?: string; readonly pool?: string }): Promise<number> {
  const format = formatOf(options);
  const json = format === 'json';
  const instance = locate(selector, { usage: STATUS_EXIT.unknown, refused: STATUS_EXIT.unknown });
  const say = (state: string, extra: Record<string, unknown> = {}): void => {
    // Prometheus text on stdout is for a scraper: what a person should read goes to stderr then.
    const print = format === 'prometheus' ? printError : printOut;
    print(json ? `${JSON.stringify({ name: instance.name, state, ...extra })}\n` : `${instance.name}: ${state}\n`);
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
    const full = await fetchStatus(instance.paths.control);
    const status = options.pool !== undefined ? onlyPool(full, options.pool) : full;
    if (!status) {
      printError(`fcgi-spawn: ${instance.name} has no pool named '${options.pool}' (it has ${full.pools.map((p) => p.name).join(', ')})\n`);
      return STATUS_EXIT.unknown;
    }
    printOut(await render(status, format));
    return STATUS_EXIT.running;
  } catch (error) {
    say(`running (pid ${instance.status.pid}), but its control socket did not answer: ${(error as Error).message}`);
    return STATUS_EXIT.unknown;
  }
}
