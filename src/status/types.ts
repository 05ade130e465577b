/**
 * The status model as data: what `status` (text, --json, --format prometheus), `top`, the control socket and the
 * stats HTTP endpoint all show. Built in the daemon (runtime/status.ts), which alone holds the sockets and the
 * counters; rendered anywhere (status/text.ts, status/prometheus.ts). Fields are only ever added: scripts read
 * `status --json`.
 */
import type { ExitCause } from './counters.js';

export type WorkerActivityName = 'idle' | 'busy' | 'listening' | 'unknown';

export interface WorkerStatus {
  readonly pool: string;
  readonly pid: number;
  readonly slot: number;
  readonly generation: number;
  readonly state: string;
  /** Wall-clock time (ISO 8601) since which the worker is in its state: ready since it was seen ready, else since it was spawned. */
  readonly since: string;
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly failures: number;
  readonly lastExit: { readonly code: number | null; readonly signal: string | null } | null;
  readonly rssKiB: number | null;
  readonly cpuMs: number | null;
  /** idle: blocked in accept(); busy: holds a connection; listening: in epoll_wait; unknown. */
  readonly activity: WorkerActivityName;
}

/** Workers by what they do: starting (not ready yet), then the one /proc classification (unknown counts as busy). */
export interface WorkerCounts {
  readonly starting: number;
  readonly idle: number;
  readonly busy: number;
  readonly listening: number;
}

export interface PoolCountersStatus {
  readonly spawns: number;
  readonly exits: Readonly<Record<ExitCause, number>>;
  readonly failedStarts: number;
  readonly reloads: { readonly ok: number; readonly rolledBack: number };
  /** Times every worker was busy with connections waiting (the process manager's; 0 where it does not count them). */
  readonly maxWorkersReached: number;
  readonly requestTimeouts: number;
  /** Worker output lines dropped because the pool's worker log could not be written (pools sharing a file report the file's count). */
  readonly logLinesDropped: number;
}

export interface PoolStatus {
  readonly name: string;
  readonly address: string;
  readonly backlog: number;
  /**
   * The serving socket's listen queue: connections waiting for a worker's accept() (TCP through TCP_INFO, Unix
   * through sock_diag; null when unreadable), and the backlog asked for.
   */
  readonly queue: { readonly length: number; readonly limit: number } | null;
  /**
   * The limit the kernel applies now: the backlog capped by net.core.somaxconn — or whatever a worker's own
   * listen() on the shared socket set (a Node worker's server.listen({ fd }) sets 511, measured). Null when unreadable.
   */
  readonly effectiveBacklog: number | null;
  /** The longest queue seen since the supervisor started (sampled whenever status or metrics are read). */
  readonly queueMax: number;
  /** The process manager: static (a fixed number of workers). */
  readonly pm: string;
  readonly phase: string;
  readonly desiredWorkers: number;
  readonly generation: number;
  readonly reloading: boolean;
  readonly blocking: boolean;
  readonly workerCounts: WorkerCounts;
  readonly counters: PoolCountersStatus;
  readonly workers: readonly WorkerStatus[];
}

/** The supervisor process itself, as Prometheus' process collector names it. */
export interface SupervisorProcess {
  readonly cpuSeconds: number;
  readonly residentMemoryBytes: number;
  readonly virtualMemoryBytes: number;
  readonly startTimeSeconds: number;
  readonly openFds: number;
  readonly maxFds: number | null;
}

export interface InstanceStatus {
  readonly name: string;
  readonly pid: number;
  readonly uptimeMs: number;
  readonly phase: string;
  readonly configFile: string | null;
  /** The supervisor program's version (package.json): after an in-place upgrade, the new one's. */
  readonly version: string;
  /** The last in-place upgrade (`fcgi-spawn upgrade`, SIGUSR2): null when this program was started, not upgraded to. */
  readonly upgrade: { readonly id: string; readonly state: 'in-progress' | 'done' | 'failed'; readonly from: string; readonly to: string; readonly at: string; readonly message: string } | null;
  /** The last configuration load failed (the running pools keep their settings). */
  readonly configError: string | null;
  readonly reloading: boolean;
  /** Where the stats HTTP server listens; null without `stats`. */
  readonly stats: string | null;
  readonly process: SupervisorProcess;
  readonly pools: readonly PoolStatus[];
  /** The first pool's, as a single pool's status always read (scripts written for one pool). */
  readonly address: string;
  readonly backlog: number;
  readonly queue: { readonly length: number; readonly limit: number } | null;
  readonly desiredWorkers: number;
  readonly generation: number;
  readonly blocking: boolean;
  /** Every pool's workers. */
  readonly workers: readonly WorkerStatus[];
}
