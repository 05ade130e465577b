/** Debian programs the tests drive; a test that lacks one says so and is skipped visibly. */
import { resolveProgram } from '../../src/os/executable.js';

const SEARCH = `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`;

export function findTool(name: string): string | undefined {
  const result = resolveProgram(name, process.cwd(), SEARCH);
  return result.found ? result.path : undefined;
}

/** `{ skip: reason }` for node:test when a tool is missing (CI installs them all). */
export function needs(...names: string[]): { skip?: string } {
  const missing = names.filter((name) => !findTool(name));
  return missing.length > 0 ? { skip: `needs ${missing.join(', ')} (apt-get install ${missing.join(' ')})` } : {};
}
