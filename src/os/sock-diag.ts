/**
 * The listen queue of a Unix socket, which neither TCP_INFO nor /proc tells (php-fpm's status page shows 0 for
 * Unix sockets): NETLINK_SOCK_DIAG with UDIAG_SHOW_RQLEN answers, for a listening Unix socket, the number of
 * connections waiting for accept() (rqueue) and its backlog limit (wqueue). See linux/unix_diag.h; the netlink
 * call itself is in os/libc.ts.
 */
import { netlinkExchange } from './libc.js';
import { AF_UNIX } from './address-families.js';

const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const NLMSG_HEADER = 16;
/** struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2]. */
const REQUEST_SIZE = NLMSG_HEADER + 24;
/** struct unix_diag_msg: family, type, state, pad, ino, cookie[2]. */
const REPLY_HEADER = NLMSG_HEADER + 16;
const UDIAG_SHOW_RQLEN = 0x10;
const UNIX_DIAG_RQLEN = 4;
/** A cookie of ~0 asks the kernel not to check it: the socket is looked up by inode alone. */
const NO_COOKIE = 0xffffffff;

export interface QueueLength {
  readonly length: number;
  readonly limit: number;
}

const UDIAG_SHOW_PEER = 0x04;
const UNIX_DIAG_PEER = 2;

function request(inode: number, show = UDIAG_SHOW_RQLEN): Buffer {
  const message = Buffer.alloc(REQUEST_SIZE);
  message.writeUInt32LE(REQUEST_SIZE, 0);
  message.writeUInt16LE(SOCK_DIAG_BY_FAMILY, 4);
  message.writeUInt16LE(NLM_F_REQUEST, 6);
  message.writeUInt32LE(1, 8);
  message.writeUInt8(AF_UNIX, NLMSG_HEADER);
  message.writeUInt32LE(0xffffffff, NLMSG_HEADER + 4);
  message.writeUInt32LE(inode, NLMSG_HEADER + 8);
  message.writeUInt32LE(show, NLMSG_HEADER + 12);
  message.writeUInt32LE(NO_COOKIE, NLMSG_HEADER + 16);
  message.writeUInt32LE(NO_COOKIE, NLMSG_HEADER + 20);
  return message;
}

/** The RQLEN attribute of a reply about `inode`; undefined on an error reply or without the attribute. */
export function parseReply(reply: Buffer, inode: number): QueueLength | undefined {
  if (reply.length < REPLY_HEADER || reply.readUInt16LE(4) === NLMSG_ERROR) return undefined;
  const end = Math.min(reply.readUInt32LE(0), reply.length);
  if (reply.readUInt32LE(NLMSG_HEADER + 4) !== inode) return undefined;
  for (let at = REPLY_HEADER; at + 4 <= end; ) {
    const length = reply.readUInt16LE(at);
    if (length < 4) return undefined;
    if (reply.readUInt16LE(at + 2) === UNIX_DIAG_RQLEN && length >= 12) {
      return { length: reply.readUInt32LE(at + 4), limit: reply.readUInt32LE(at + 8) };
    }
    at += (length + 3) & ~3;
  }
  return undefined;
}

/** Connections waiting on the listening Unix socket with this inode, and its backlog; undefined where sock_diag cannot tell. */
export function unixListenQueue(inode: number): QueueLength | undefined {
  try {
    return parseReply(netlinkExchange(NETLINK_SOCK_DIAG, request(inode), 8192), inode);
  } catch {
    // No unix_diag in this kernel (ENOENT), or netlink refused: unknown.
    return undefined;
  }
}

/**
 * The inode of the other end of a connected Unix socket (a socketpair: libuv makes a child's stdio 'pipe' one), so
 * that our end of a worker's stdout can be told from /proc (an in-place upgrade hands it over); undefined when
 * sock_diag cannot tell.
 */
export function unixPeerInode(inode: number): number | undefined {
  try {
    const reply = netlinkExchange(NETLINK_SOCK_DIAG, request(inode, UDIAG_SHOW_PEER), 8192);
    if (reply.length < REPLY_HEADER || reply.readUInt16LE(4) === NLMSG_ERROR || reply.readUInt32LE(NLMSG_HEADER + 4) !== inode) return undefined;
    const end = Math.min(reply.readUInt32LE(0), reply.length);
    for (let at = REPLY_HEADER; at + 4 <= end; ) {
      const length = reply.readUInt16LE(at);
      if (length < 4) return undefined;
      if (reply.readUInt16LE(at + 2) === UNIX_DIAG_PEER && length >= 8) return reply.readUInt32LE(at + 4);
      at += (length + 3) & ~3;
    }
    return undefined;
  } catch {
    return undefined;
  }
}
