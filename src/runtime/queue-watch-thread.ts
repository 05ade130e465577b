/**
 * The queue watch's thread: blocks in epoll_wait on the set runtime/queue-watch.ts arms, and posts each id
 * reported. A thread of its own because a blocking epoll_wait would hold one of libuv's 4 pool threads for good
 * (koffi's async calls run there), stalling every file write. id 0 is the eventfd: the watch is over.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { epollWait } from '../os/libc.js';

const { epfd } = workerData as { epfd: number };
for (;;) {
  const ids = epollWait(epfd);
  if (ids.includes(0)) break;
  for (const id of ids) parentPort?.postMessage(id);
}
