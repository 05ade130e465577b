/**
 * The listening sockets of one pool, one per generation, on the same address (DESIGN.md "Reload
 * without drops"). TCP: each new socket joins the first one's SO_REUSEPORT group, and a classic BPF
 * program `ret #index` decides which member gets new connections; indices follow join order and
 * change when a member leaves (the last one moves into the hole), so the program is recomputed after
 * every join and leave. Unix: a new socket is bound in a private directory beside the public path
 * (socket-place.ts: no predictable temporary path anyone else could reach) and renamed over the
 * public path when it should get new connections.
 *
 * A socket systemd passed us (socket activation, ListenSocket.adopt) stays systemd's: it is never shut down,
 * renamed or unlinked, and it stays in its reuseport group after its generation retires (systemd holds it), so it
 * keeps its index there and we keep its fd until the pool is released. TCP: a new generation joins its group only
 * if systemd set SO_REUSEPORT (ReusePort=yes); otherwise the reload is refused. Generations then take turns between
 * a socket of ours (index 1) and systemd's (index 0), so that the group never holds three members and a leaving
 * one never moves the one steered to (open()). Unix: a rename would leave
 * systemd's socket, which the next start of the service adopts, at a path no client reaches; so every generation
 * shares it, and the core retires old workers one by one instead of steering (core/drain.ts).
 */
import { ListenSocket, type UnixOptions } from './listen-socket.js';
import { steerReusePortGroup } from './libc.js';

export class PoolSockets {
  private readonly sockets = new Map<number, ListenSocket>();
  /** TCP reuseport group members in kernel index order. */
  private readonly members: ListenSocket[] = [];
  private target: ListenSocket | undefined;
  private blocking = true;
  /** systemd's socket, when the pool adopted one: kept open until release(), whatever generation retires. */
  private readonly adopted: ListenSocket | undefined;

  constructor(
    first: ListenSocket,
    private backlog: number,
    private unixOptions: Omit<UnixOptions, 'backlog' | 'staged'>,
    firstGeneration = 1,
  ) {
    this.sockets.set(firstGeneration, first);
    if (first.address.kind === 'tcp') this.members.push(first);
    this.target = first;
    this.adopted = first.adopted ? first : undefined;
  }

  /** The generation accepts on the same socket as another one (systemd's Unix socket). */
  shares(generation: number): boolean {
    const socket = this.sockets.get(generation);
    return socket !== undefined && [...this.sockets].some(([other, s]) => other !== generation && s === socket);
  }

  /** What the next generation's socket gets (a reloaded configuration). */
  configure(backlog: number, unixOptions: Omit<UnixOptions, 'backlog' | 'staged'>): void {
    this.backlog = backlog;
    this.unixOptions = unixOptions;
  }

  get(generation: number): ListenSocket | undefined {
    return this.sockets.get(generation);
  }

  all(): ListenSocket[] {
    return [...new Set(this.sockets.values())];
  }

  /** A new generation's socket; new connections keep going where they went until steerTo(). */
  open(generation: number): ListenSocket {
    const first = this.sockets.values().next().value as ListenSocket | undefined;
    if (!first) throw new Error('no socket to join');
    const address = first.address;
    let socket: ListenSocket;
    if (this.adopted?.address.kind === 'unix') {
      socket = this.adopted;
    } else if (address.kind === 'tcp') {
      if (this.adopted && !this.adopted.adopted?.reusePort) {
        throw new Error(`the socket systemd passed for ${this.adopted.name} has no SO_REUSEPORT, so a new generation cannot listen beside it: set ReusePort=yes in its .socket unit (then restart the socket unit), or restart the service instead of reloading`);
      }
      if (this.adopted && ![...this.sockets.values()].includes(this.adopted)) {
        // systemd's socket never leaves its group, at index 0, so a generation on a socket of ours sits at index 1.
        // Were the next one to join at 2, the old one's leaving would move it to 1 while the program still says 2:
        // the kernel then picks by hash, and systemd's socket, with nobody accepting on it, keeps what it gets
        // (measured: 3 of 790 requests hung over 3 reloads). So generations take turns: the next one accepts on
        // systemd's socket (index 0), and the one at index 1 leaves from the end of the group, moving nothing.
        socket = this.adopted;
        socket.setBlocking(this.blocking);
        this.sockets.set(generation, socket);
        return socket;
      }
      socket = ListenSocket.openTcp(address, { backlog: this.backlog, joinGroup: true, beforeListen: () => this.applySteering() });
      this.members.push(socket);
      this.applySteering();
    } else {
      socket = ListenSocket.openUnix(address, { ...this.unixOptions, backlog: this.backlog, staged: true });
    }
    socket.setBlocking(this.blocking);
    this.sockets.set(generation, socket);
    return socket;
  }

  /** New connections go to this generation's socket from now on. */
  steerTo(generation: number): void {
    const socket = this.sockets.get(generation);
    if (!socket) return;
    this.target = socket;
    // systemd's Unix path stays systemd's socket's (a shared generation has nothing to steer).
    if (socket.address.kind === 'unix') {
      if (!socket.adopted) socket.renameOverPublicPath();
    } else this.applySteering();
  }

  /** TCP only, on an empty queue: wakes accept() with EINVAL and leaves the group. */
  shutdown(generation: number): void {
    const socket = this.sockets.get(generation);
    if (!socket || socket.address.kind !== 'tcp' || socket.adopted) return;
    socket.shutdownListener();
    this.leave(socket);
  }

  close(generation: number): void {
    const socket = this.sockets.get(generation);
    if (!socket) return;
    this.sockets.delete(generation);
    // systemd's socket stays open (and in its group) until release; a shared one until its last generation goes.
    if (socket === this.adopted || [...this.sockets.values()].includes(socket)) return;
    this.leave(socket);
    socket.close();
    if (this.target === socket) this.target = this.members[0] ?? [...this.sockets.values()][0];
    this.applySteering();
  }

  closeAll(): void {
    for (const generation of [...this.sockets.keys()]) this.close(generation);
    if (!this.adopted || this.adopted.isClosed) return;
    // Only systemd's socket is left in its group: steer there (index 0), so that a program left attached to the
    // group (it outlives us) never points past its members, then let go of our copy.
    this.target = this.adopted;
    this.guardedSteering();
    this.adopted.close();
  }

  private guardedSteering(): void {
    try {
      this.applySteering();
    } catch {
      // The group's program cannot be set: the kernel then picks by hash among what is left (systemd's socket).
    }
  }

  /**
   * Graceful stop of a Unix pool: new connect()s fail from now on; queued ones stay. False when the path is
   * systemd's socket's, which stays: new connections keep queueing there.
   */
  unlinkPublicPath(): boolean {
    for (const socket of this.sockets.values()) socket.unlinkPath();
    return !this.adopted;
  }

  setBlocking(blocking: boolean): void {
    this.blocking = blocking;
    for (const socket of this.sockets.values()) if (!socket.isClosed) socket.setBlocking(blocking);
  }

  private leave(socket: ListenSocket): void {
    const index = this.members.indexOf(socket);
    if (index === -1) return;
    const last = this.members.pop() as ListenSocket;
    if (last !== socket) this.members[index] = last;
    this.applySteering();
  }

  private applySteering(): void {
    const index = this.target ? this.members.indexOf(this.target) : -1;
    const member = this.members[0];
    if (index === -1 || !member) return;
    steerReusePortGroup(member.fd, index, member.name);
  }
}
