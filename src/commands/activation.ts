/**
 * `start` under socket activation: which pool gets which socket systemd passed (os/activation.ts read and checked
 * them). A socket goes to the pool its name names (FileDescriptorName= is the pool's name), else to the pool
 * configured with its address; a pool no socket matches binds as usual; a socket that matches no pool is an error
 * at start (exit 2), since nothing would ever accept on it while systemd keeps starting us for its connections.
 */
import type { Configuration, PoolConfig } from '../config/types.js';
import { CliError, START_EXIT } from '../errors.js';
import { ActivationError, activatedFor, describeInherited, takeActivation, type InheritedSocket } from '../os/activation.js';
import { sameAddress } from '../os/adopted-sockets.js';
import { formatAddress } from '../os/sockaddr.js';

/** Pool name → the socket systemd passed for it. */
export type Adoption = ReadonlyMap<string, InheritedSocket>;

/** Matches every socket to one pool, by name first, then by address; throws a CliError (exit 2) naming the socket. */
export function matchSockets(pools: readonly PoolConfig[], sockets: readonly InheritedSocket[]): Map<string, InheritedSocket> {
  const adoption = new Map<string, InheritedSocket>();
  const claim = (pool: PoolConfig, socket: InheritedSocket): void => {
    const taken = adoption.get(pool.name);
    if (taken) throw new CliError(`socket activation: ${describeInherited(socket)} and ${describeInherited(taken)} both match pool ${pool.name}: expected one socket per pool`, START_EXIT.usage);
    adoption.set(pool.name, socket);
  };
  const byAddress: InheritedSocket[] = [];
  for (const socket of sockets) {
    const named = socket.name === undefined ? undefined : pools.find((pool) => pool.name === socket.name);
    if (named) claim(named, socket);
    else byAddress.push(socket);
  }
  for (const socket of byAddress) {
    const pool = pools.find((candidate) => !adoption.has(candidate.name) && sameAddress(candidate.address, socket.address));
    if (!pool) {
      const known = pools.map((p) => `${p.name} (${formatAddress(p.address)})`).join(', ');
      throw new CliError(
        `socket activation: ${describeInherited(socket)} matches no pool: name it after a pool (FileDescriptorName=) or listen where a pool is configured; pools: ${known}`,
        START_EXIT.usage,
      );
    }
    claim(pool, socket);
  }
  // A socket named for one pool while another is configured at its address: that other pool's bind would fail on
  // systemd's socket (address in use) after start-up had begun; say which two pools want it instead.
  for (const pool of pools) {
    if (adoption.has(pool.name)) continue;
    const taken = [...adoption].find(([, socket]) => sameAddress(socket.address, pool.address));
    if (taken) {
      throw new CliError(
        `socket activation: pool ${pool.name} listens at ${formatAddress(pool.address)}, where ${describeInherited(taken[1])} goes to pool ${taken[0]} (by its name): expected one pool per socket; change pool ${pool.name}'s listen or the socket's FileDescriptorName=`,
        START_EXIT.usage,
      );
    }
  }
  return adoption;
}

/** The configuration with every adopted pool's address as systemd bound it (a reload reads the file again: the same). */
export function withAdoptedAddresses(configuration: Configuration, adoption: Adoption): Configuration {
  if (adoption.size === 0) return configuration;
  const pools = configuration.pools.map((pool) => {
    const socket = adoption.get(pool.name);
    return socket && !sameAddress(pool.address, socket.address) ? { ...pool, address: socket.address } : pool;
  });
  return { ...configuration, pools };
}

/**
 * The sockets passed to this process, matched to the configuration's pools; an empty map when none were. A daemon
 * (start without -n) is refused: its launcher is the process the sockets were passed to, and the daemon it starts
 * would not be (LISTEN_PID), so systemd's sockets would be silently ignored and bound again.
 */
export function adoptSockets(configuration: Configuration, env: NodeJS.ProcessEnv, pid: number): Map<string, InheritedSocket> {
  if (configuration.supervisor.daemon && !configuration.supervisor.daemonized && activatedFor(env, pid)) {
    throw new CliError('socket activation (LISTEN_FDS) needs the supervisor in the foreground: add -n (systemd: Type=notify, as contrib/systemd/fcgi-spawn@.service)', START_EXIT.usage);
  }
  let sockets: InheritedSocket[] | undefined;
  try {
    sockets = takeActivation(env, pid);
  } catch (error) {
    if (error instanceof ActivationError) throw new CliError(`socket activation: ${error.message}`, START_EXIT.usage);
    throw error;
  }
  return sockets ? matchSockets(configuration.pools, sockets) : new Map();
}
