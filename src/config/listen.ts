/**
 * A pool's address as written in a file or after --listen: `127.0.0.1:9005`, `[::1]:9005`, or a Unix socket path
 * (anything with a `/`: `/run/app.sock`, `./app.sock`). And what a non-loopback bind means.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatAddress, type ListenAddress } from '../os/sockaddr.js';
import { LISTEN_EXPECTED } from './kinds.js';
import type { Configuration } from './types.js';
import { InvalidValueError, parsePort } from './values.js';

/** A Unix path is returned as written (relative ones are made absolute by whoever knows the base directory). */
export function parseListen(option: string, value: string): ListenAddress {
  const fail = (): never => {
    throw new InvalidValueError(option, value, LISTEN_EXPECTED);
  };
  const v6 = /^\[([^\]]+)\]:([^:]+)$/.exec(value);
  if (v6) {
    if (!isIPv6(v6[1] as string)) fail();
    return { kind: 'tcp', host: v6[1] as string, port: port(option, value, v6[2] as string) };
  }
  if (value.includes('/')) {
    if (value.includes('\0')) fail();
    return { kind: 'unix', path: value };
  }
  const v4 = /^([^:]+):([^:]+)$/.exec(value);
  if (!v4 || !isIPv4(v4[1] as string)) fail();
  return { kind: 'tcp', host: (v4 as RegExpExecArray)[1] as string, port: port(option, value, (v4 as RegExpExecArray)[2] as string) };
}

function port(option: string, value: string, text: string): number {
  try {
    return parsePort(text);
  } catch {
    throw new InvalidValueError(option, value, `${LISTEN_EXPECTED}, with a port from 1 to 65535`);
  }
}

/** `::ffff:127.0.0.1` is the IPv4 loopback as an IPv6 socket sees it. */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  const v4 = isIPv4(host) ? host : /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  if (v4 !== undefined) return v4.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/**
 * Pools reachable from other hosts without `allow-remote`. FastCGI has no authentication: whoever can connect
 * sends the parameters, and php-cgi takes PHP_VALUE/PHP_ADMIN_VALUE from them (auto_prepend_file=… runs their code).
 */
export function remoteWarnings(configuration: Configuration): string[] {
  return configuration.pools
    .filter((pool) => !pool.allowRemote && !isLoopback(pool.address))
    .map(
      (pool) =>
        `pool ${pool.name} listens on ${formatAddress(pool.address)}, reachable from other hosts: FastCGI has no authentication, ` +
        'and anyone who can connect can run code (PHP_VALUE injection); bind to 127.0.0.1 or a Unix socket, or firewall the port ' +
        'and pass --allow-remote',
    );
}
