/** Parsed values written back as a config file would write them (config print, config check, the docs, the schema). */
import { formatAddress, type ListenAddress } from '../os/sockaddr.js';
import { option, type OptionName } from './options.js';
import { formatRlimit, type Rlimit } from './rlimit.js';
import { formatSize } from './size.js';
import type { WorkerLogTarget } from './types.js';

/** A parsed value as a file writes it: 1500 ms → `1.5s`, 432 → `'0660'`, SIGTERM → `TERM`. */
export function fileValue(name: OptionName, value: unknown): unknown {
  switch (option(name).kind.type) {
    case 'duration':
      return (value as number) >= 1000 && (value as number) % 10 === 0 ? `${(value as number) / 1000}s` : `${value as number}ms`;
    case 'mode':
      return (value as number).toString(8).padStart(4, '0');
    case 'size':
      return formatSize(value as number);
    case 'signal':
      return (value as string).replace(/^SIG/, '');
    case 'rlimit':
      return formatRlimit(value as Rlimit, option(name).kind.unit ?? 'count');
    case 'listen':
      return formatAddress(value as ListenAddress);
    case 'worker-log': {
      const target = value as WorkerLogTarget;
      return target.kind === 'file' ? target.path : target.kind;
    }
    default:
      return value;
  }
}

