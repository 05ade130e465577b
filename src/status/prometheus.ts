/**
 * The status model in the Prometheus text exposition format (version 0.0.4): one HELP and TYPE line per metric
 * family, then its samples, each with a pool label; the supervisor's own process metrics as Prometheus' process
 * collector names them. Served by the stats endpoint's GET /metrics and printed by `status --format prometheus`.
 */
import { EXIT_CAUSES } from './counters.js';
import type { InstanceStatus, PoolStatus } from './types.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge';
  readonly help: string;
  readonly samples: (pool: PoolStatus) => readonly (readonly [Labels, number])[];
}

const WORKER_STATES = ['idle', 'busy', 'listening', 'starting'] as const;

const POOL_FAMILIES: readonly Family[] = [
  {
    name: 'fcgi_spawn_workers',
    type: 'gauge',
    help: 'Worker processes by state: idle (in accept), busy (holding a connection), listening (an event loop), starting.',
    samples: (pool) => WORKER_STATES.map((state) => [{ state }, pool.workerCounts[state]] as const),
  },
  { name: 'fcgi_spawn_listen_queue', type: 'gauge', help: 'Connections waiting in the listen queue of the serving socket.', samples: (pool) => (pool.queue ? [[{}, pool.queue.length]] : []) },
  { name: 'fcgi_spawn_listen_queue_max', type: 'gauge', help: 'The longest listen queue seen since the supervisor started (sampled when status is read).', samples: (pool) => [[{}, pool.queueMax]] },
  { name: 'fcgi_spawn_listen_backlog', type: 'gauge', help: "The listen queue's limit the kernel applies (the backlog capped by net.core.somaxconn, or a worker's own listen()).", samples: (pool) => [[{}, pool.effectiveBacklog ?? pool.backlog]] },
  { name: 'fcgi_spawn_max_workers_reached_total', type: 'counter', help: 'Times every worker was busy with connections waiting.', samples: (pool) => [[{}, pool.counters.maxWorkersReached]] },
  { name: 'fcgi_spawn_spawns_total', type: 'counter', help: 'Worker processes started.', samples: (pool) => [[{}, pool.counters.spawns]] },
  {
    name: 'fcgi_spawn_worker_exits_total',
    type: 'counter',
    help: 'Worker processes that ended, by cause: clean (status 0), crash (other status), signal, request-timeout, recycled, retired (stopped by the supervisor).',
    samples: (pool) => EXIT_CAUSES.map((cause) => [{ cause }, pool.counters.exits[cause]] as const),
  },
  { name: 'fcgi_spawn_failed_starts_total', type: 'counter', help: 'Workers that failed to start (spawn failed, exited or stopped before ready).', samples: (pool) => [[{}, pool.counters.failedStarts]] },
  { name: 'fcgi_spawn_request_timeouts_total', type: 'counter', help: 'Workers stopped for a request past request-timeout.', samples: (pool) => [[{}, pool.counters.requestTimeouts]] },
  {
    name: 'fcgi_spawn_reloads_total',
    type: 'counter',
    help: 'Reloads of the pool by result: ok (the new generation took over) or rolled_back (the old one kept serving).',
    samples: (pool) => [
      [{ result: 'ok' }, pool.counters.reloads.ok],
      [{ result: 'rolled_back' }, pool.counters.reloads.rolledBack],
    ],
  },
  {
    name: 'fcgi_spawn_worker_rss_bytes',
    type: 'gauge',
    help: 'Resident memory of each worker process (its group leader).',
    samples: (pool) => pool.workers.filter((w) => w.rssKiB !== null).map((w) => [{ pid: String(w.pid) }, (w.rssKiB as number) * 1024] as const),
  },
  { name: 'fcgi_spawn_log_lines_dropped_total', type: 'counter', help: "Worker output lines dropped because the pool's worker log could not be written.", samples: (pool) => [[{}, pool.counters.logLinesDropped]] },
];

/** Label values escape backslash, double quote and newline; HELP text backslash and newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([key, text]) => `${key}="${escapeLabel(text)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`;
}

function header(name: string, type: string, help: string): string[] {
  return [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`];
}

function processLines(status: InstanceStatus): string[] {
  const p = status.process;
  const families: [string, 'counter' | 'gauge', string, number | null][] = [
    ['process_cpu_seconds_total', 'counter', 'Total user and system CPU time of the supervisor in seconds.', p.cpuSeconds],
    ['process_resident_memory_bytes', 'gauge', 'Resident memory size of the supervisor in bytes.', p.residentMemoryBytes],
    ['process_virtual_memory_bytes', 'gauge', 'Virtual memory size of the supervisor in bytes.', p.virtualMemoryBytes],
    ['process_start_time_seconds', 'gauge', 'Start time of the supervisor since the Unix epoch in seconds.', p.startTimeSeconds],
    ['process_open_fds', 'gauge', 'Open file descriptors of the supervisor.', p.openFds],
    ['process_max_fds', 'gauge', 'The most file descriptors the supervisor may open.', p.maxFds],
  ];
  return families.flatMap(([name, type, help, value]) => (value === null ? [] : [...header(name, type, help), sample(name, {}, value)]));
}

export function prometheusText(status: InstanceStatus): string {
  const lines: string[] = [];
  for (const family of POOL_FAMILIES) {
    lines.push(...header(family.name, family.type, family.help));
    for (const pool of status.pools) {
      for (const [labels, value] of family.samples(pool)) lines.push(sample(family.name, { pool: pool.name, ...labels }, value));
    }
  }
  lines.push(...header('fcgi_spawn_up', 'gauge', 'The supervisor answers (1 while it runs).'), sample('fcgi_spawn_up', {}, 1));
  lines.push(...processLines(status));
  return `${lines.join('\n')}\n`;
}
