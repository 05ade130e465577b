/**
 * What a supervisor killed by SIGKILL leaves holding its port besides its recorded workers: helpers
 * that left their worker's process group (setsid) keep the listening socket, and the next start of
 * the name would fail with EADDRINUSE. They are found by the socket inodes the record names.
 */
import { currentBootId } from '../os/boot-id.js';
import { readStat } from '../os/proc.js';
import { commandName, listeningSocketInodes, socketHolders } from '../os/process-tree.js';
import { identityOf, type InstanceRecord, type ProcessIdentity } from './record.js';

export interface SocketOrphan {
  readonly identity: ProcessIdentity;
  readonly name: string;
}

/**
 * Holders of the record's sockets outside the recorded workers' process groups (the groups are
 * stopped as such). Inodes are numbers of one boot: trusted only from a record of this boot, while
 * they still name a listening socket, and a holder only if it started after the recorded supervisor.
 */
export function socketOrphans(record: InstanceRecord, workerGroups: readonly number[]): SocketOrphan[] {
  if (!record.sockets?.length || record.supervisor.bootId !== currentBootId()) return [];
  const listening = listeningSocketInodes();
  const inodes = new Set(record.sockets.filter((inode) => listening.has(inode)));
  const orphans: SocketOrphan[] = [];
  for (const holder of socketHolders(inodes, { except: process.pid })) {
    const stat = readStat(holder.pid);
    if (!stat || workerGroups.includes(stat.pgrp) || stat.startTime < record.supervisor.startTime) continue;
    const identity = identityOf(holder.pid);
    if (identity) orphans.push({ identity, name: commandName(holder.pid) });
  }
  return orphans;
}
