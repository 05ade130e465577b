/** A ConfigError as the terminal sees it: one line per problem, and the exit code of its kind. */
import type { ConfigError } from '../config/problems.js';
import { CliError, START_EXIT } from '../errors.js';

/** `start`'s codes: 2 for a bad or missing value, file or program; 4 for an unsafe file, root needed, not executable. */
export function configFailure(error: ConfigError, exitCode = error.kind === 'permission' ? START_EXIT.permissionDenied : START_EXIT.usage): CliError {
  // cli.ts prefixes the first line; every other problem gets the same prefix, so each line reads alone.
  return new CliError(error.message.split('\n').join('\nfcgi-spawn: '), exitCode);
}
