/** fcgi-spawn/worker for ESM: the CommonJS module itself (worker.cts), so `import` and `require` share one state. */
export { DEFAULT_IDLE_GRACE_MS, inheritedFd, listen, ready, READY_FD_VARIABLE } from './worker.cjs';
export type { Listenable, Listening, ListenOptions, RequestHandler } from './worker.cjs';
