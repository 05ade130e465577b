/** The control socket's protocol: one JSON request line, one JSON response line, then close. */
import type { InstanceStatus } from '../status/types.js';

export type ControlRequest =
  | { readonly command: 'status' }
  | { readonly command: 'reload'; readonly pool?: string }
  | { readonly command: 'update' }
  | { readonly command: 'scale'; readonly workers: number; readonly pool?: string }
  | { readonly command: 'stop'; readonly graceful: boolean }
  | { readonly command: 'reopen-logs' }
  /** Replace the supervisor's program in place; `id` names the upgrade, so the client can follow it in `status`. */
  | { readonly command: 'upgrade'; readonly id?: string };

export type ControlResponse =
  | { readonly ok: true; readonly message: string; readonly status?: InstanceStatus; readonly upgrade?: string }
  /** refusal 'check': the new program of an upgrade failed its checks (nothing was changed). */
  | { readonly ok: false; readonly message: string; readonly refusal?: 'check' };

export type { InstanceStatus, PoolStatus, WorkerStatus } from '../status/types.js';
