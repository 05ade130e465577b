/**
 * Watching files for the supervisor: `watch-config` (the config file and its includes), each pool's
 * `watch` paths and its `touch-reload` file. The only chokidar import; the supervisor imports this
 * module dynamically, only when something is watched (watchesAnything in watch/plan.ts), so a
 * supervisor that watches nothing never loads chokidar or picomatch.
 *
 * Callbacks only report: once per debounced burst, naming the FIRST path of the burst (the change
 * that started it); the supervisor turns them into events. chokidar runs on inotify (fs.watch), never
 * polling (`usePolling: false`; chokidar lets CHOKIDAR_USEPOLLING override that, so it is removed from
 * the environment with a warning): a quiet watcher arms no timer and wakes for nothing. Problems (a missing path, an unreadable one, the inotify limits) are onWarning
 * messages; nothing here throws at the supervisor or leaves an 'error' event unhandled.
 *
 * What is watched follows the names (watch/plan.ts): after any change of a watched name the plan is
 * rebuilt, and only the watchers whose plan changed are replaced, the new one started and ready before
 * the old one is closed, so no event is lost in between (the overlap can only add an event to a burst).
 */
import { FSWatcher, type ChokidarOptions } from 'chokidar';
import { dirname } from 'node:path';
import type { Configuration } from './config/types.js';
import { describeError } from './errors.js';
import { Debouncer } from './watch/debounce.js';
import { ignorePredicate } from './watch/ignore.js';
import { buildPlan, type Anchor, type Owner, type Tree, type WatchPlan } from './watch/plan.js';
import { watchError, type WatchWarning } from './watch/warnings.js';

export { watchesAnything } from './watch/plan.js';
export { DEFAULT_WATCH_IGNORE } from './watch/ignore.js';

export interface WatchCallbacks {
  /** The config file or an included file changed (saved, replaced, removed, its symlink swapped). */
  onConfigChanged(path: string): void;
  /** Something under one of the pool's `watch` paths changed, or its `touch-reload` file was touched. */
  onPoolChanged(pool: string, path: string): void;
  /** A path that cannot be watched, and why; watching goes on for the rest. */
  onWarning(message: string): void;
}

export interface WatchOptions {
  /** Quiet time before a config change is reported (an editor's save is several events). */
  readonly configDebounceMs?: number;
}

/** The config file's debounce: pools have their own (`watch-debounce`). */
export const CONFIG_DEBOUNCE_MS = 500;

export interface Watching {
  /** After a reload: watch what `configuration` names and stop watching the rest; resolves once in place. */
  update(configuration: Configuration): Promise<void>;
  /** Stops every watcher and drops bursts under way; no callback after it resolves. */
  close(): Promise<void>;
}

export async function startWatching(configuration: Configuration, callbacks: WatchCallbacks, options: WatchOptions = {}): Promise<Watching> {
  if (process.env.CHOKIDAR_USEPOLLING !== undefined) {
    // chokidar reads it at every new watcher, over its options. Workers' environments are their own
    // (PoolConfig.env), so removing it from the supervisor's changes nothing for them.
    delete process.env.CHOKIDAR_USEPOLLING;
    callbacks.onWarning('watch: CHOKIDAR_USEPOLLING ignored: fcgi-spawn watches with inotify, never by polling');
  }
  const watching = new Watcher(configuration, callbacks, options.configDebounceMs ?? CONFIG_DEBOUNCE_MS);
  await watching.update(configuration);
  return watching;
}

type ChangeEvent = 'add' | 'addDir' | 'change' | 'unlink' | 'unlinkDir';

interface Running {
  /** Equal keys: the same watch; otherwise it is replaced. */
  readonly key: string;
  readonly watcher: FSWatcher;
}

const CONFIG = 'config';
const POOL = 'pool:';
const EMPTY_PLAN: WatchPlan = { anchors: new Map(), owners: new Map(), directoryOwners: new Map(), trees: new Map(), warnings: [] };
/** Never polling, whatever the environment says: polling wakes the process for every file, forever. */
const BASE: ChokidarOptions = { usePolling: false, ignoreInitial: true, persistent: true, atomic: true };

class Watcher implements Watching {
  private plan = EMPTY_PLAN;
  private readonly anchors = new Map<string, Running>();
  private readonly trees = new Map<string, Running>();
  private readonly debouncer: Debouncer;
  /** Warning keys already reported; a plan warning that went away may be reported again later. */
  private readonly warned = new Set<string>();
  private planWarnings = new Set<string>();
  private closed = false;
  private dirty = false;
  private syncing: Promise<void> | undefined;

  constructor(
    private configuration: Configuration,
    private readonly callbacks: WatchCallbacks,
    private readonly configDebounceMs: number,
  ) {
    this.debouncer = new Debouncer((key, path) => {
      const deliver = (): void => {
        if (this.closed) return;
        if (key === CONFIG) return callbacks.onConfigChanged(path);
        const pool = key.slice(POOL.length);
        // A burst of a pool that an update() removed in the meantime reports nothing.
        if (this.configuration.pools.some((candidate) => candidate.name === pool)) callbacks.onPoolChanged(pool, path);
      };
      // A report waits for the watches to follow the change that caused it (a swapped release, a
      // directory that appeared): what happens after the report is watched already.
      if (this.syncing === undefined) deliver();
      else void this.syncing.then(deliver);
    });
  }

  update(configuration: Configuration): Promise<void> {
    this.configuration = configuration;
    return this.sync();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.debouncer.cancelAll();
    await this.syncing;
    const running = [...this.anchors.values(), ...this.trees.values()];
    this.anchors.clear();
    this.trees.clear();
    await Promise.all(running.map(({ watcher }) => watcher.close()));
  }

  /** Rebuilds the plan and applies it; calls during a pass are coalesced into one more pass. */
  private sync(): Promise<void> {
    this.dirty = true;
    if (this.syncing === undefined) {
      this.syncing = (async () => {
        try {
          while (this.dirty && !this.closed) {
            this.dirty = false;
            await this.apply(await buildPlan(this.configuration));
          }
        } catch (error) {
          this.callbacks.onWarning(`watch: unable to update what is watched: ${describeError(error)}`);
        } finally {
          this.syncing = undefined;
        }
      })();
    }
    return this.syncing;
  }

  private async apply(plan: WatchPlan): Promise<void> {
    // Routing first: events from watchers about to be closed are judged by the new plan.
    this.plan = plan;
    for (const key of this.planWarnings) if (!plan.warnings.some((warning) => warning.key === key)) this.warned.delete(key);
    this.planWarnings = new Set(plan.warnings.map((warning) => warning.key));
    this.report(plan.warnings);
    await Promise.all([
      this.reconcile(this.anchors, plan.anchors, anchorKey, (anchor) => this.anchorWatcher(anchor)),
      this.reconcile(this.trees, plan.trees, (tree) => tree.key, (tree) => this.treeWatcher(tree)),
    ]);
  }

  private async reconcile<T>(running: Map<string, Running>, wanted: ReadonlyMap<string, T>, keyOf: (spec: T) => string, start: (spec: T) => Promise<FSWatcher>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [id, { watcher }] of running) {
      if (wanted.has(id)) continue;
      running.delete(id);
      closing.push(watcher.close());
    }
    const starting = [...wanted].map(async ([id, spec]) => {
      const key = keyOf(spec);
      if (running.get(id)?.key === key) return;
      const watcher = await start(spec);
      if (this.closed) return watcher.close();
      const old = running.get(id);
      running.set(id, { key, watcher });
      await old?.watcher.close();
    });
    await Promise.all([...closing, ...starting]);
  }

  /** A directory at depth 0, for some names: events on those names, whatever happened to their inodes. */
  private anchorWatcher(anchor: Anchor): Promise<FSWatcher> {
    const { directory, names } = anchor;
    const admitted = (path: string): boolean => path === directory || (dirname(path) === directory && (names === 'all' || names.has(path.slice(directory.length + 1))));
    // followSymlinks false: a symlink among the names is watched as a link, so retargeting it
    // (ln -sfn) is a 'change' of the name; its target is anchored on its own (plan.ts).
    const watcher = new FSWatcher({ ...BASE, depth: 0, followSymlinks: false, ignored: (path) => !admitted(path) });
    return this.started(watcher, [directory], anchor.purpose, (event, path) => this.nameChanged(event, path));
  }

  private treeWatcher(tree: Tree): Promise<FSWatcher> {
    const ignored = ignorePredicate({ roots: tree.roots, patterns: tree.patterns, files: tree.files });
    const watcher = new FSWatcher({ ...BASE, followSymlinks: true, ignored });
    return this.started(watcher, tree.roots, `watch of pool ${tree.pool}`, (_event, path) => this.poolChanged(tree.pool, path));
  }

  /** Wires a watcher and resolves once its first scan is done; events before that are its scan. */
  private started(watcher: FSWatcher, paths: readonly string[], purpose: string, onEvent: (event: ChangeEvent, path: string) => void): Promise<FSWatcher> {
    let ready = false;
    watcher.on('all', (event, path) => {
      if (ready && !this.closed && isChange(event)) onEvent(event, path);
    });
    watcher.on('error', (error) => this.report([watchError(error, purpose, paths[0] ?? '')]));
    return new Promise((resolve) => {
      watcher.once('ready', () => {
        ready = true;
        resolve(watcher);
      });
      watcher.add([...paths]);
    });
  }

  private nameChanged(event: ChangeEvent, path: string): void {
    const owners: readonly Owner[] = [...(this.plan.owners.get(path) ?? []), ...(this.plan.directoryOwners.get(dirname(path)) ?? [])];
    if (owners.length === 0) return;
    for (const owner of owners) {
      if (owner.kind === 'config') this.debouncer.event(CONFIG, path, this.configDebounceMs);
      // touch-reload: a touch or a create, as uWSGI; removing the file reloads nothing.
      else if (!owner.touch || event === 'add' || event === 'change') this.poolChanged(owner.pool, path);
    }
    // The name may now be another file, a new symlink target, a new release directory: follow it.
    void this.sync();
  }

  private poolChanged(name: string, path: string): void {
    const pool = this.configuration.pools.find((candidate) => candidate.name === name);
    if (pool !== undefined) this.debouncer.event(`${POOL}${name}`, path, pool.watchDebounceMs);
  }

  private report(warnings: readonly WatchWarning[]): void {
    for (const warning of warnings) {
      if (this.closed || this.warned.has(warning.key)) continue;
      this.warned.add(warning.key);
      this.callbacks.onWarning(warning.message);
    }
  }
}

function anchorKey(anchor: Anchor): string {
  return anchor.names === 'all' ? '*' : JSON.stringify([...anchor.names].sort());
}

function isChange(event: string): event is ChangeEvent {
  return event === 'add' || event === 'addDir' || event === 'change' || event === 'unlink' || event === 'unlinkDir';
}
