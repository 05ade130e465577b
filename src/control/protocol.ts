/** The control socket's protocol: one JSON request line, one JSON response line, then close. */
export type ControlRequest =
  | { readonly command: 'status' }
  | { readonly command: 'reload'; readonly pool?: string }
  | { readonly command: 'update' }
  | { readonly command: 'scale'; readonly workers: number; readonly pool?: string }
  | { readonly command: 'stop'; readonly graceful: boolean }
  | { readonly command: 'reopen-logs' };

export type ControlResponse =
  | { readonly ok: true; readonly message: string; readonly status?: InstanceStatus }
  | { readonly ok: false; readonly message: string };

export interface WorkerStatus {
  readonly pool: string;
  readonly pid: number;
  readonly slot: number;
  readonly generation: number;
  readonly state: string;
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly failures: number;
  readonly lastExit: { readonly code: number | null; readonly signal: string | null } | null;
  readonly rssKiB: number | null;
  readonly cpuMs: number | null;
  /** idle: blocked in accept(); busy: holds a connection; listening: in epoll_wait; unknown. */
  readonly activity: 'idle' | 'busy' | 'listening' | 'unknown';
}

export interface PoolStatus {
  readonly name: string;
  readonly address: string;
  readonly backlog: number;
  /** TCP accept-queue length (TCP_INFO, read by the daemon that holds the socket); null for Unix sockets. */
  readonly queue: { readonly length: number; readonly limit: number } | null;
  readonly phase: string;
  readonly desiredWorkers: number;
  readonly generation: number;
  readonly reloading: boolean;
  readonly blocking: boolean;
  readonly workers: readonly WorkerStatus[];
}

export interface InstanceStatus {
  readonly name: string;
  readonly pid: number;
  readonly uptimeMs: number;
  readonly phase: string;
  readonly configFile: string | null;
  /** The last configuration load failed (the running pools keep their settings). */
  readonly configError: string | null;
  readonly reloading: boolean;
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
