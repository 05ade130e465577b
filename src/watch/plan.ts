/**
 * What to watch for a configuration, as the file system stands now. Built at start, at every update()
 * and after any change to a watched name (a save by rename, a symlink swapped), so that what is watched
 * follows what the names point to. Two kinds of watch:
 *   - an anchor: a directory watched at depth 0 for some of its entries by name (or all of them). Every
 *     configured path is anchored in its parent directory, so a save by rename (vim, `sed -i`, a temp
 *     file renamed over), a delete and re-create, or `ln -sfn` over the name is an event of the parent,
 *     whatever happened to the old inode. A symlinked file is also anchored at its target, so an edit at
 *     the target (through any path) is seen too.
 *   - a tree: a pool's directories, recursively, with its ignore patterns, at their real paths. Keyed by
 *     what the roots are (real path, device, inode): when a `current` symlink is swapped the key changes
 *     and the tree is rebuilt on the new target; its changes are reported at their real paths.
 */
import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Configuration, PoolConfig } from '../config/types.js';
import { missingPath, watchError, type WatchWarning } from './warnings.js';

/** Who is told about a change: the configuration, or a pool (`touch`: only a touch or a create counts). */
export type Owner = { readonly kind: 'config' } | { readonly kind: 'pool'; readonly pool: string; readonly touch: boolean };

export interface Anchor {
  readonly directory: string;
  /** The entries watched, by name; 'all' for an include directory. */
  readonly names: ReadonlySet<string> | 'all';
  /** For warnings: what this directory is watched for. */
  readonly purpose: string;
}

export interface Tree {
  readonly pool: string;
  readonly roots: readonly string[];
  readonly patterns: readonly string[];
  /** Log files never to react to (their writes would reload the pool, whose reload writes a log line…). */
  readonly files: readonly string[];
  /** Equal keys: the same tree; a changed key rebuilds it. */
  readonly key: string;
}

export interface WatchPlan {
  readonly anchors: ReadonlyMap<string, Anchor>;
  /** Owners of an anchored name, by its path under the anchor's (real) directory. */
  readonly owners: ReadonlyMap<string, readonly Owner[]>;
  /** Owners of every entry of an 'all' anchor, by directory. */
  readonly directoryOwners: ReadonlyMap<string, readonly Owner[]>;
  readonly trees: ReadonlyMap<string, Tree>;
  readonly warnings: readonly WatchWarning[];
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else if (!list.some((item) => JSON.stringify(item) === JSON.stringify(value))) list.push(value);
}

interface NameUse {
  readonly owner: Owner;
  readonly purpose: string;
  /** touch-reload: a missing file is normal (it is created by the first touch). */
  readonly missingIsNormal?: boolean;
  /** An include directory: its entries count as the configuration. */
  readonly entries?: boolean;
  /** A pool's watch path: a directory is watched recursively. */
  readonly treeOf?: PoolConfig;
}

class PlanBuilder {
  private readonly anchorNames = new Map<string, { names: Set<string> | 'all'; purposes: Set<string> }>();
  private readonly owners = new Map<string, Owner[]>();
  private readonly directoryOwners = new Map<string, Owner[]>();
  private readonly roots = new Map<string, { pool: PoolConfig; roots: string[]; identities: string[] }>();
  private readonly warnings: WatchWarning[] = [];

  constructor(private readonly logFiles: readonly string[]) {}

  async name(path: string, use: NameUse): Promise<void> {
    const absolute = resolve(path);
    const directory = dirname(absolute);
    let realDirectory: string;
    try {
      realDirectory = await realpath(directory);
    } catch (error) {
      const code = errnoOf(error);
      this.warnings.push(code === 'ENOENT' || code === 'ENOTDIR' ? missingPath(absolute, use.purpose, directory, false) : watchError(error, use.purpose, directory));
      return;
    }
    const named = join(realDirectory, basename(absolute));
    this.anchor(realDirectory, basename(absolute), use);
    let stats;
    try {
      stats = await stat(absolute);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') this.warnings.push(watchError(error, use.purpose, absolute));
      else if (!use.missingIsNormal) this.warnings.push(missingPath(absolute, use.purpose, directory, true));
      return;
    }
    const directoryMode = stats.isDirectory();
    try {
      await access(absolute, directoryMode ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (error) {
      this.warnings.push(watchError(error, use.purpose, absolute));
      return;
    }
    const real = await realpath(absolute).catch(() => named);
    // A symlinked file is edited where it points: anchor the target's name too (a swap of the link
    // itself is the anchor above). A symlinked directory's content is the tree's business.
    if (real !== named && !directoryMode) this.anchor(dirname(real), basename(real), use);
    if (directoryMode && use.entries) this.anchor(real, undefined, use);
    // A tree is watched at its real path: chokidar shares one fs.watch per path string among its
    // watchers, so a tree rebuilt at `current` would join the old handle, still on the old release.
    if (directoryMode && use.treeOf) this.tree(use.treeOf, real, `${stats.dev}:${stats.ino}`);
  }

  /** Anchors `name` in `directory`, or every entry of it when name is undefined. */
  private anchor(directory: string, name: string | undefined, use: NameUse): void {
    let anchor = this.anchorNames.get(directory);
    if (anchor === undefined) {
      anchor = { names: new Set(), purposes: new Set() };
      this.anchorNames.set(directory, anchor);
    }
    anchor.purposes.add(use.purpose);
    if (name === undefined) {
      anchor.names = 'all';
      push(this.directoryOwners, directory, use.owner);
    } else {
      if (anchor.names !== 'all') anchor.names.add(name);
      push(this.owners, join(directory, name), use.owner);
    }
  }

  private tree(pool: PoolConfig, root: string, identity: string): void {
    let tree = this.roots.get(pool.name);
    if (tree === undefined) {
      tree = { pool, roots: [], identities: [] };
      this.roots.set(pool.name, tree);
    }
    if (tree.roots.includes(root)) return;
    tree.roots.push(root);
    tree.identities.push(identity);
  }

  finish(): WatchPlan {
    const anchors = new Map<string, Anchor>();
    for (const [directory, { names, purposes }] of this.anchorNames) {
      anchors.set(directory, { directory, names, purpose: [...purposes].join(', ') });
    }
    const trees = new Map<string, Tree>();
    for (const [name, { pool, roots, identities }] of this.roots) {
      const patterns = pool.watchIgnore;
      const key = JSON.stringify({ roots, identities, patterns, files: this.logFiles });
      trees.set(name, { pool: name, roots, patterns, files: this.logFiles, key });
    }
    return { anchors, owners: this.owners, directoryOwners: this.directoryOwners, trees, warnings: this.warnings };
  }
}

/** Every log file of the instance: the supervisor's and each pool's worker log. */
function logFilesOf(configuration: Configuration): string[] {
  const files = configuration.pools.flatMap((pool) => (pool.workerLog?.kind === 'file' ? [resolve(pool.workerLog.path)] : []));
  if (configuration.supervisor.logFile !== undefined) files.push(resolve(configuration.supervisor.logFile));
  return [...new Set(files)];
}

export async function buildPlan(configuration: Configuration): Promise<WatchPlan> {
  const builder = new PlanBuilder(logFilesOf(configuration));
  if (configuration.supervisor.watchConfig) {
    for (const file of configuration.supervisor.sourceFiles) {
      await builder.name(file, { owner: { kind: 'config' }, purpose: 'watch-config', entries: true });
    }
  }
  for (const pool of configuration.pools) {
    const owner: Owner = { kind: 'pool', pool: pool.name, touch: false };
    for (const path of pool.watch) await builder.name(path, { owner, purpose: `watch of pool ${pool.name}`, treeOf: pool });
    if (pool.touchReload !== undefined) {
      const touch: Owner = { kind: 'pool', pool: pool.name, touch: true };
      await builder.name(pool.touchReload, { owner: touch, purpose: `touch-reload of pool ${pool.name}`, missingIsNormal: true });
    }
  }
  return builder.finish();
}

/** True when a configuration names anything to watch: the supervisor imports watch.ts only then. */
export function watchesAnything(configuration: Configuration): boolean {
  return configuration.supervisor.watchConfig || configuration.pools.some((pool) => pool.watch.length > 0 || pool.touchReload !== undefined);
}
