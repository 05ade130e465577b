/**
 * TEMPORARY (until the pool runtime lands): the flat shape the one-pool runtime (runtime/serve.ts,
 * worker-launcher.ts, worker-command.ts) and log/setup.ts still take. It is a PoolConfig and the SupervisorConfig
 * side by side, built from a one-pool Configuration by the adapter in commands/start.ts; `name` is the
 * instance's. Nothing is parsed here any more: options.ts, schema.ts and load.ts do that.
 */
import type { PoolConfig, SupervisorConfig } from './types.js';

export type { WorkerIdentity } from './types.js';

export type StartConfig = Omit<PoolConfig, 'name'> & SupervisorConfig;
