/**
 * A watcher in a process of its own, for what a test cannot see from inside its own process: the
 * timers a quiet watcher leaves armed, the inotify limit of a user namespace, another user's rights.
 *
 *   node watch-child.js CONFIGURATION_JSON [--inotify-watches N]
 *
 * Prints one JSON line per report ({"ready"}, {"config"}, {"pool"}, {"warning"}); reads commands on
 * stdin: `resources` prints process.getActiveResourcesInfo(), `close` closes the watcher and lets the
 * process end by itself (nothing may keep it alive).
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Configuration } from '../../src/config/types.js';
import { startWatching } from '../../src/watch.js';

const [configuration, flag, value] = process.argv.slice(2);
if (configuration === undefined) throw new Error('usage: watch-child.js CONFIGURATION_JSON [--inotify-watches N]');
// In a user namespace of its own, root there may lower the namespace's inotify watch limit
// (user.max_inotify_watches), leaving the machine's fs.inotify.max_user_watches alone.
if (flag === '--inotify-watches' && value !== undefined) writeFileSync('/proc/sys/user/max_inotify_watches', value);

const print = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const watching = await startWatching(
  JSON.parse(configuration) as Configuration,
  {
    onConfigChanged: (path) => print({ config: path }),
    onPoolChanged: (pool, path) => print({ pool, path }),
    onWarning: (message) => print({ warning: message }),
  },
  { configDebounceMs: 150 },
);
print({ ready: true });
const input = createInterface({ input: process.stdin });
input.on('line', (command) => {
  if (command === 'resources') print({ resources: process.getActiveResourcesInfo() });
  if (command === 'close') {
    input.close();
    process.stdin.destroy();
    void watching.close().then(() => print({ closed: true }));
  }
});
