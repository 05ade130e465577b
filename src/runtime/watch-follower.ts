/**
 * Watching what the configuration names (watch.ts), following it through reloads. chokidar is loaded
 * only once something is watched. What the watcher sees becomes an event for the supervisor: a change of
 * the configuration file an `update`, a change of a pool's `watch` paths or `touch-reload` file a reload
 * of that pool, a path that cannot be watched a warning for the log.
 */
import type { Configuration } from '../config/types.js';
import type { SupervisorEvent } from '../core/supervisor-events.js';
import { describeError } from '../errors.js';
import { watchesAnything } from '../watch/plan.js';
import type { Watching } from '../watch.js';

export class WatchFollower {
  private watching: Promise<Watching> | undefined;
  private closed = false;

  constructor(private readonly enqueue: (event: SupervisorEvent) => void) {}

  /** Watch what this configuration names: start watching, or move the watches to it. */
  async follow(configuration: Configuration): Promise<void> {
    if (this.closed) return;
    try {
      if (this.watching) return await (await this.watching).update(configuration);
      if (!watchesAnything(configuration)) return;
      this.watching = import('../watch.js').then(({ startWatching }) =>
        startWatching(configuration, {
          onConfigChanged: (path) => this.enqueue({ type: 'update', cause: `${path} changed` }),
          onPoolChanged: (pool, path) => this.enqueue({ type: 'reload', pool, cause: `${path} changed` }),
          onWarning: (message) => this.enqueue({ type: 'warning', message }),
        }),
      );
      await this.watching;
    } catch (error) {
      this.enqueue({ type: 'warning', message: `unable to watch: ${describeError(error)}` });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const watching = this.watching;
    this.watching = undefined;
    if (watching) await (await watching).close();
  }
}
