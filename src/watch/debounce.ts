/**
 * One report per burst: a key (the configuration, a pool) fires once its events have been quiet for
 * its debounce, naming the first path of the burst (the one that started it). One one-shot timer per
 * key with events pending, restarted (refresh()) by each event; none at all when quiet, so an idle
 * watcher arms nothing.
 */
export class Debouncer {
  private readonly pending = new Map<string, { readonly timer: NodeJS.Timeout; readonly path: string }>();

  constructor(private readonly fire: (key: string, path: string) => void) {}

  /** An event for `key`: starts a burst naming `path`, or extends the burst under way. */
  event(key: string, path: string, quietMs: number): void {
    const burst = this.pending.get(key);
    if (burst !== undefined) {
      burst.timer.refresh();
      return;
    }
    const timer = setTimeout(() => {
      this.pending.delete(key);
      this.fire(key, path);
    }, quietMs);
    this.pending.set(key, { timer, path });
  }

  /** Forgets every burst under way (the watcher is closing). */
  cancelAll(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }
}
