/**
 * The sockets systemd passed us (socket activation), held open for the supervisor's whole life.
 *
 * systemd keeps its own copy of each socket, so one a pool no longer uses goes on queueing connections whether we
 * close ours or not; but a pool added later on that address (a removed pool re-added by `update`) could not bind
 * it again: the port is held without SO_REUSEPORT, or the path names a live socket. So the table keeps every fd,
 * lends a pool a ListenSocket on it (ListenSocket.adopt: closing that never closes the fd), and lends the same fd
 * again once the pool that had it closed it. The fds are closed only by closeAll(), when the supervisor exits.
 */
import { isIPv6 } from 'node:net';
import { resolve } from 'node:path';
import type { InheritedSocket } from './activation.js';
import * as libc from './libc.js';
import { ListenSocket } from './listen-socket.js';
import type { ListenAddress } from './sockaddr.js';

function canonicalHost(host: string): string {
  return isIPv6(host) ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

/** The same address as a pool would configure it (IPv6 in any spelling, a Unix path relative or not). */
export function sameAddress(a: ListenAddress, b: ListenAddress): boolean {
  if (a.kind === 'unix') return b.kind === 'unix' && resolve(a.path) === resolve(b.path);
  return b.kind === 'tcp' && a.port === b.port && canonicalHost(a.host) === canonicalHost(b.host);
}

interface Entry {
  readonly inherited: InheritedSocket;
  /** The pool start-up matched it to (by FileDescriptorName= or address). */
  readonly pool: string;
  /** The ListenSocket lent out last; free again once it is closed. */
  lent?: ListenSocket;
}

export interface Lent {
  readonly socket: ListenSocket;
  readonly inherited: InheritedSocket;
}

export class AdoptedSockets {
  private readonly entries: Entry[];
  private closed = false;

  /** `assignment`: pool name → the socket start-up matched to it. */
  constructor(assignment: ReadonlyMap<string, InheritedSocket>) {
    this.entries = [...assignment].map(([pool, inherited]) => ({ pool, inherited }));
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * A ListenSocket on the adopted socket for this pool: the one matched to its name at start-up, else a free one at
   * its address; undefined when none is (the pool binds as usual), or while another pool holds it.
   */
  lend(pool: { readonly name: string; readonly address: ListenAddress }): Lent | undefined {
    if (this.closed) return undefined;
    const entry = this.entries.find((e) => e.pool === pool.name) ?? this.entries.find((e) => sameAddress(e.inherited.address, pool.address));
    if (!entry || (entry.lent && !entry.lent.isClosed)) return undefined;
    entry.lent = ListenSocket.adopt(entry.inherited.fd, entry.inherited.address, { reusePort: entry.inherited.reusePort });
    return { socket: entry.lent, inherited: entry.inherited };
  }

  /** The supervisor exits: our copies go (systemd keeps its own). */
  closeAll(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.entries) {
      entry.lent?.close();
      libc.close(entry.inherited.fd);
    }
  }
}
