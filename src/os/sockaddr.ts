/**
 * Listen addresses as users type them, and as the kernel wants them (struct sockaddr_*).
 */
import { createRequire } from 'node:module';
import { AF_INET, AF_INET6, AF_UNIX } from './address-families.js';

export interface TcpAddress {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
}

export interface UnixAddress {
  readonly kind: 'unix';
  readonly path: string;
}

export type ListenAddress = TcpAddress | UnixAddress;

/** The longest path sockaddr_un holds (108 bytes with the terminating NUL). */
export const UNIX_PATH_MAX = 107;

/**
 * A host with a ':' is bracketed: of IPv4 literals, IPv6 literals and host names only IPv6 has one. Not
 * net.isIPv6: `status -p`/`stop -p` format the address they look for, and loading node:net costs them ~14 ms
 * (measured, bench:cli) when the instance is stopped and nothing is connected to.
 */
export function formatAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

// node:net when an address is validated (start, config), not when one is formatted (above).
const load = createRequire(import.meta.url);

export function tcpFamily(host: string): 4 | 6 {
  const { isIPv4, isIPv6 } = load('node:net') as typeof import('node:net');
  if (isIPv4(host)) return 4;
  if (isIPv6(host)) return 6;
  throw new Error(`invalid address '${host}': expected an IPv4 or IPv6 literal (e.g. 127.0.0.1 or ::1)`);
}

function ipv4Bytes(host: string): number[] {
  return host.split('.').map((part) => Number(part));
}

function ipv6Bytes(host: string): number[] {
  let text = host;
  const lastColon = text.lastIndexOf(':');
  const lastGroup = text.slice(lastColon + 1);
  if (lastGroup.includes('.')) {
    // An IPv4 tail (::ffff:127.0.0.1) is two 16-bit groups written the other way.
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Bytes(lastGroup);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string | undefined): number[] =>
    part ? part.split(':').filter((group) => group !== '').map((group) => parseInt(group, 16)) : [];
  const halves = text.split('::');
  const head = parse(halves[0]);
  const rest = halves.length > 1 ? parse(halves[1]) : [];
  const zeros = new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0);
  const groups = halves.length > 1 ? [...head, ...zeros, ...rest] : head;
  return groups.slice(0, 8).flatMap((group) => [group >> 8, group & 0xff]);
}

export function encodeSockaddr(address: ListenAddress): Buffer {
  if (address.kind === 'unix') {
    const path = Buffer.from(address.path);
    if (path.length > UNIX_PATH_MAX) {
      throw new Error(`socket path '${address.path}' is ${path.length} bytes long: at most ${UNIX_PATH_MAX} fit in sockaddr_un`);
    }
    const buffer = Buffer.alloc(2 + path.length + 1);
    buffer.writeUInt16LE(AF_UNIX, 0);
    path.copy(buffer, 2);
    return buffer;
  }
  if (tcpFamily(address.host) === 4) {
    const buffer = Buffer.alloc(16);
    buffer.writeUInt16LE(AF_INET, 0);
    buffer.writeUInt16BE(address.port, 2);
    Buffer.from(ipv4Bytes(address.host)).copy(buffer, 4);
    return buffer;
  }
  const buffer = Buffer.alloc(28);
  buffer.writeUInt16LE(AF_INET6, 0);
  buffer.writeUInt16BE(address.port, 2);
  Buffer.from(ipv6Bytes(address.host)).copy(buffer, 8);
  return buffer;
}

/** The port a bound TCP socket got (sockaddr_in and sockaddr_in6 keep it at the same offset). */
export function decodePort(sockaddr: Buffer): number {
  return sockaddr.readUInt16BE(2);
}
