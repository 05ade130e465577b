/**
 * `fcgi-spawn config check | schema | print`: what a configuration resolves to, the JSON Schema editors use, and
 * the file that means the same as a command line.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Flags } from '../config/flags.js';
import { remoteWarnings } from '../config/listen.js';
import { buildConfiguration } from '../config/build.js';
import { readSources } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import { describeConfiguration, flagsAsYaml } from '../config/render.js';
import { configJsonSchema } from '../config/schema.js';
import { CliError } from '../errors.js';
import { configFailure } from './config-error.js';

/** `config` exit codes: 0 valid, 2 invalid (whatever the problem: the file is what needs fixing). */
export const CONFIG_EXIT = { ok: 0, invalid: 2 } as const;

/** The package's schema.json (written at build: npm run build). */
export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schema.json');

function context(): { cwd: string; env: NodeJS.ProcessEnv; euid: number } {
  return { cwd: process.cwd(), env: process.env, euid: process.geteuid?.() ?? -1 };
}

export async function runConfigCheck(configPath: string | undefined): Promise<number> {
  const inputs = { flags: {}, command: [], ...(configPath !== undefined ? { configPath } : {}), ...context() };
  try {
    const sources = await readSources(inputs);
    if (sources.main === undefined) {
      throw new CliError('no config file: pass --config FILE (or set FCGI_SPAWN_CONFIG), or put .fcgi-spawnrc.yaml or fcgi-spawn.config.yaml here', CONFIG_EXIT.invalid);
    }
    const configuration = buildConfiguration(inputs, sources);
    process.stdout.write(describeConfiguration(configuration, inputs.env));
    for (const warning of remoteWarnings(configuration)) process.stderr.write(`fcgi-spawn: warning: ${warning}\n`);
    return CONFIG_EXIT.ok;
  } catch (error) {
    throw error instanceof ConfigError ? configFailure(error, CONFIG_EXIT.invalid) : error;
  }
}

export async function runConfigSchema(): Promise<number> {
  process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return CONFIG_EXIT.ok;
}

export async function runConfigPrint(flags: Flags, command: readonly string[]): Promise<number> {
  try {
    process.stdout.write(flagsAsYaml(flags, command, process.cwd(), `# yaml-language-server: $schema=${SCHEMA_FILE}\n`));
    return CONFIG_EXIT.ok;
  } catch (error) {
    throw error instanceof ConfigError ? configFailure(error, CONFIG_EXIT.invalid) : error;
  }
}
