/** The control socket's protocol: one JSON request line, one JSON response line, then close. */
import type { InstanceStatus } from '../status/types.js';

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

export type { InstanceStatus, PoolStatus, WorkerStatus } from '../status/types.js';
