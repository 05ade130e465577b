/**
 * A readiness watch on listening sockets (DESIGN.md, issue 8 "Noticing load"): a connection that stays in the
 * listen queue means every worker is busy. Each socket is in one epoll set with EPOLLONESHOT: armed, it reports
 * once, and is armed again only by the next watch() (the core re-arms after acting: level-triggered, a non-empty
 * queue would fire again at once). The set is waited on by a worker_thread of its own, started with the first
 * watch and stopped through an eventfd when nothing is watched, so a supervisor without dynamic or ondemand
 * pools has no thread at all, and an armed watch makes no wake-up until a connection waits.
 */
import { Worker } from 'node:worker_threads';
import { close, epollAdd, epollArmOnce, epollCreate, epollRemove, eventfdCreate, eventfdSignal } from '../os/libc.js';

interface Watched {
  readonly fd: number;
  readonly onWaiting: () => void;
}

class QueueWatch {
  private readonly epfd = epollCreate();
  private readonly stopFd = eventfdCreate();
  private readonly thread: Worker;
  private readonly byId = new Map<number, Watched>();
  private readonly idOf = new Map<string, number>();
  private nextId = 1;

  constructor(private readonly onEmpty: () => void) {
    epollAdd(this.epfd, this.stopFd, 0);
    this.thread = new Worker(new URL('./queue-watch-thread.js', import.meta.url), { workerData: { epfd: this.epfd } });
    // The supervisor's life is its own: the watch thread never keeps it alive.
    this.thread.unref();
    this.thread.on('message', (id: number) => this.byId.get(id)?.onWaiting());
    this.thread.on('exit', () => {
      close(this.stopFd);
      close(this.epfd);
    });
  }

  /** Arm (or re-arm) the watch of `key` on `fd`: onWaiting once, when a connection waits. */
  watch(key: string, fd: number, onWaiting: () => void): void {
    const known = this.idOf.get(key);
    if (known !== undefined && this.byId.get(known)?.fd === fd) {
      this.byId.set(known, { fd, onWaiting });
      epollArmOnce(this.epfd, fd, known, false);
      return;
    }
    if (known !== undefined) this.unwatch(key);
    const id = this.nextId++;
    this.idOf.set(key, id);
    this.byId.set(id, { fd, onWaiting });
    epollArmOnce(this.epfd, fd, id, true);
  }

  unwatch(key: string): void {
    const id = this.idOf.get(key);
    if (id === undefined) return;
    const watched = this.byId.get(id);
    if (watched) epollRemove(this.epfd, watched.fd);
    this.idOf.delete(key);
    this.byId.delete(id);
    if (this.idOf.size === 0) this.stop();
  }

  unwatchAll(prefix: string, except?: string): void {
    for (const key of [...this.idOf.keys()]) if (key.startsWith(prefix) && key !== except) this.unwatch(key);
  }

  private stop(): void {
    eventfdSignal(this.stopFd);
    this.onEmpty();
  }
}

let current: QueueWatch | undefined;

/** Arm the watch of one pool's serving socket (`pool` names the pool; a pool has one watched socket). */
export function watchQueue(pool: string, fd: number, onWaiting: () => void): void {
  current ??= new QueueWatch(() => {
    current = undefined;
  });
  const key = `${pool}\0${fd}`;
  current.watch(key, fd, onWaiting);
  // A reload moved the pool to a new socket: the old one is watched no more.
  current.unwatchAll(`${pool}\0`, key);
}

export function unwatchQueue(pool: string, fd?: number): void {
  if (fd === undefined) current?.unwatchAll(`${pool}\0`);
  else current?.unwatch(`${pool}\0${fd}`);
}
