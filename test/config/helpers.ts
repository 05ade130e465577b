/** Scratch directories of real config files, and loadConfiguration as start calls it. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadConfiguration } from '../../src/config/load.js';
import { ConfigError, type ConfigProblem } from '../../src/config/problems.js';
import type { Configuration } from '../../src/config/types.js';
import { FIXTURES } from '../helpers/supervisor.js';

export const RESPONDER = join(FIXTURES, 'fcgi-responder.mjs');
/** A worker command that resolves on any machine: node and a fixture. */
export const COMMAND = [process.execPath, RESPONDER];
export const EUID = process.geteuid?.() ?? -1;

/** A fresh directory (0700, under the sticky /tmp: trusted), removed after the test. */
export function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'fcgi-spawn-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a file (and its directories), owner-writable only unless `mode` says otherwise. */
export function write(path: string, text: string, mode = 0o644): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

export interface Load {
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly command?: readonly string[];
  readonly configPath?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export function load(options: Load = {}): Promise<Configuration> {
  return loadConfiguration({
    flags: options.flags ?? {},
    command: options.command ?? [],
    ...(options.configPath !== undefined ? { configPath: options.configPath } : {}),
    cwd: options.cwd ?? tmpdir(),
    env: options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    euid: EUID,
  });
}

/** The problems of a load that must fail. */
export async function problemsOf(options: Load): Promise<readonly ConfigProblem[]> {
  try {
    await load(options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the load succeeded');
}

/** `command:` as a YAML flow list. */
export function yamlCommand(command: readonly string[] = COMMAND): string {
  return `[${command.map((arg) => JSON.stringify(arg)).join(', ')}]`;
}
