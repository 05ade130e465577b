/**
 * The words of the log options (levels, formats): shared by config/, which parses them, and log/, which acts on
 * them. A leaf module, so that neither imports the other's code.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

export type SupervisorLogFormat = 'text' | 'json';
export const SUPERVISOR_LOG_FORMATS: readonly SupervisorLogFormat[] = ['text', 'json'];

export type WorkerLogFormat = 'text' | 'json' | 'raw';
export const WORKER_LOG_FORMATS: readonly WorkerLogFormat[] = ['text', 'json', 'raw'];
