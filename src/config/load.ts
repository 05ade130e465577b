/**
 * Loading a configuration: the config file (`--config FILE`, `FCGI_SPAWN_CONFIG`, or cosmiconfig's search for
 * `fcgi-spawn` in the working directory), its `include` directories, and the flags → a Configuration (build.ts),
 * or a ConfigError carrying every problem. The only cosmiconfig import.
 *
 * The daemon calls loadConfiguration again at every reload with the same inputs, so it reads everything afresh:
 * a new explorer per load with its caches off (cosmiconfig caches by default, and would return a file's first
 * contents for ever), JS files evaluated in a child process (no module cache: js-config.ts), every file checked
 * for ownership and mode (trust.ts), `chdir` and programs resolved again (resolve-pool.ts).
 *
 * cosmiconfig and the YAML parser (source-text.ts) are imported only when there is a file to read: they stay in the
 * daemon's heap for its life (measured: about 1.6 MB of used heap), and most pools are started from flags.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { cosmiconfig as Cosmiconfig, Loader } from 'cosmiconfig';
import { buildConfiguration, type BuildInputs, type LoadedFile, type Sources } from './build.js';
import { evaluateJsConfig } from './js-config.js';
import { ConfigError, type Locate, type ProblemKind } from './problems.js';
import type { SourceText } from './source-text.js';
import { distrust } from './trust.js';
import type { Configuration } from './types.js';

export interface LoadInputs extends BuildInputs {
  /** `--config FILE`; relative to `cwd`. Without it: `env.FCGI_SPAWN_CONFIG`, else the search. */
  readonly configPath?: string;
}

const MODULE = 'fcgi-spawn';
/** cosmiconfig's places, without TypeScript (it would be compiled and run in this process) and `.config/`. */
const SEARCH_PLACES = [
  'package.json',
  `.${MODULE}rc`,
  ...['json', 'yaml', 'yml', 'js', 'cjs', 'mjs'].map((ext) => `.${MODULE}rc.${ext}`),
  ...['yaml', 'yml', 'json', 'js', 'cjs', 'mjs'].map((ext) => `${MODULE}.config.${ext}`),
];
const INCLUDED = /\.(ya?ml|json)$/;

function problem(file: string, message: string, kind: ProblemKind = 'usage'): ConfigError {
  return new ConfigError([{ file, path: '', message, kind }]);
}

function checkTrust(file: string, euid: number): void {
  const reason = distrust(file, euid);
  if (reason !== undefined) throw problem(file, reason, 'permission');
}

/** Reading one load's files: the loaders keep each file's positions for the messages. */
class Reader {
  private readonly texts = new Map<string, SourceText>();
  readonly locate: Locate = (file, path, at) => this.texts.get(file)?.locate(path, at);

  constructor(private readonly inputs: LoadInputs) {}

  private keep(file: string, text: SourceText): unknown {
    this.texts.set(file, text);
    return text.value;
  }

  private readonly yaml: Loader = async (file, content) => {
    checkTrust(file, this.inputs.euid);
    const { readYaml } = await import('./source-text.js');
    return this.keep(file, readYaml(file, content));
  };

  private readonly json: Loader = async (file, content) => {
    const { readJson } = await import('./source-text.js');
    if (basename(file) === 'package.json') {
      // Any package.json in the directory is looked at; only one that configures us must pass the checks.
      const text = readJson(file, content, [MODULE]);
      if (text.value === null || typeof text.value !== 'object' || !(MODULE in text.value)) return text.value;
      checkTrust(file, this.inputs.euid);
      return this.keep(file, text);
    }
    checkTrust(file, this.inputs.euid);
    return this.keep(file, readJson(file, content));
  };

  private readonly js: Loader = async (file) => {
    checkTrust(file, this.inputs.euid);
    return evaluateJsConfig(file, this.inputs.env);
  };

  private readonly ts: Loader = async (file) => {
    throw problem(file, 'TypeScript config files are not supported: use .yaml, .json, .js, .mjs or .cjs');
  };

  /** A fresh explorer for every load: nothing cached between two loads. */
  async explorer(): Promise<ReturnType<typeof Cosmiconfig>> {
    const { cosmiconfig } = await import('cosmiconfig');
    const loaders = { '.yaml': this.yaml, '.yml': this.yaml, noExt: this.yaml, default: this.yaml, '.json': this.json, '.js': this.js, '.cjs': this.js, '.mjs': this.js, '.ts': this.ts };
    return cosmiconfig(MODULE, { cache: false, searchPlaces: SEARCH_PLACES, searchStrategy: 'none', loaders });
  }

  async load(file: string): Promise<LoadedFile> {
    let result;
    try {
      result = await (await this.explorer()).load(file);
    } catch (error) {
      throw readFailure(file, error);
    }
    // An empty file is never handed to a loader: check it here.
    checkTrust(file, this.inputs.euid);
    return { file, contents: result?.config ?? {} };
  }

  async search(): Promise<LoadedFile | undefined> {
    // The search looks only here (searchStrategy 'none'): where none of its places exists it finds nothing.
    if (!SEARCH_PLACES.some((place) => existsSync(join(this.inputs.cwd, place)))) return undefined;
    try {
      const result = await (await this.explorer()).search(this.inputs.cwd);
      return result ? { file: result.filepath, contents: result.config ?? {} } : undefined;
    } catch (error) {
      throw readFailure((error as { filepath?: string }).filepath ?? this.inputs.cwd, error);
    }
  }
}

function readFailure(file: string, error: unknown): ConfigError {
  if (error instanceof ConfigError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return problem(file, 'config file not found', 'not-found');
  if (code === 'EACCES' || code === 'EPERM') return problem(file, `unable to read the config file: ${code}`, 'permission');
  if (code === 'EISDIR') return problem(file, 'is a directory, not a config file');
  return problem(file, `unable to read the config file: ${(error as Error).message}`);
}

/**
 * cosmiconfig also reads a "meta config" of its own in the process's working directory, whatever it is told, and
 * imports `.config/config.js` there in this process. A JS file must never run inside the supervisor: refuse.
 */
function refuseMetaConfig(): void {
  for (const ext of ['js', 'cjs', 'mjs', 'ts']) {
    const file = join(process.cwd(), '.config', `config.${ext}`);
    if (existsSync(file)) throw problem(file, "cosmiconfig would run this meta-config file inside fcgi-spawn: move it, or start fcgi-spawn from another directory (--config FILE)", 'permission');
  }
}

function includeDirectories(main: LoadedFile): string[] {
  const contents = main.contents as { include?: unknown } | null;
  const include = contents?.include;
  const list = typeof include === 'string' ? [include] : Array.isArray(include) ? include.filter((dir): dir is string => typeof dir === 'string') : [];
  return list.map((dir) => resolve(dirname(main.file), dir));
}

async function readIncluded(reader: Reader, dirs: readonly string[], euid: number): Promise<LoadedFile[]> {
  const loaded: LoadedFile[] = [];
  for (const dir of dirs) {
    try {
      if (!statSync(dir).isDirectory()) throw problem(dir, 'include names a file, not a directory of pool files');
    } catch (error) {
      throw error instanceof ConfigError ? error : problem(dir, 'include directory not found', 'not-found');
    }
    checkTrust(dir, euid);
    const files = readdirSync(dir).filter((name) => INCLUDED.test(name)).sort();
    for (const name of files) loaded.push(await reader.load(join(dir, name)));
  }
  return loaded;
}

/** The files of this load, read now: the config file (if any) and its included pool files. */
export async function readSources(inputs: LoadInputs, { search = true } = {}): Promise<Sources> {
  const reader = new Reader(inputs);
  const configPath = inputs.configPath ?? (inputs.env.FCGI_SPAWN_CONFIG || undefined);
  if (configPath === undefined && !search) return { included: [], includeDirectories: [], locate: reader.locate };
  refuseMetaConfig();
  const main = configPath !== undefined ? await reader.load(resolve(inputs.cwd, configPath)) : await reader.search();
  if (main === undefined) return { included: [], includeDirectories: [], locate: reader.locate };
  const dirs = includeDirectories(main);
  return { main, included: await readIncluded(reader, dirs, inputs.euid), includeDirectories: dirs, locate: reader.locate };
}

/** The whole configuration, checked against the system as it is now. Throws ConfigError with every problem. */
export async function loadConfiguration(inputs: LoadInputs): Promise<Configuration> {
  return buildConfiguration(inputs, await readSources(inputs));
}

