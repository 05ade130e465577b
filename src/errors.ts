/**
 * An error meant for the person at the terminal: one line, and the exit code it ends the command
 * with. Each command documents its codes; within a table a code never changes meaning.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `start` exit codes (README, `fcgi-spawn start --help`). */
export const START_EXIT = {
  ready: 0,
  runtimeFailure: 1,
  usage: 2,
  cannotBind: 3,
  permissionDenied: 4,
  alreadyRunning: 5,
} as const;

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
