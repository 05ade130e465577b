/**
 * A config file says what runs as whom (a JS one runs code itself), so only its owner may be able to change it:
 * the file, and every directory above it, must be owned by root or the invoking user and not writable by group or
 * others. A sticky directory (/tmp: mode 1777) is the exception, as sshd's and sudo's checks allow: there only the
 * owner of an entry can rename or remove it, so the entry below it is safe when root or the invoking user owns it.
 * The real path is checked (a symlink's target is what is read).
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

function mode(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
}

function writers(stats: Stats): string {
  const group = (stats.mode & 0o020) !== 0;
  const others = (stats.mode & 0o002) !== 0;
  return group && others ? 'group and others' : group ? 'its group' : 'others';
}

/** Why `path` cannot be trusted, or undefined when it can. `path` must exist (realpath). */
export function distrust(path: string, euid: number): string | undefined {
  const real = realpathSync(path);
  const trusted = (stats: Stats): boolean => stats.uid === 0 || stats.uid === euid;
  const owners = euid === 0 ? 'root' : `root or uid ${euid}`;
  const stats = statSync(real);
  if (!trusted(stats)) return `refusing ${real}: owned by uid ${stats.uid}, not by ${owners}`;
  if ((stats.mode & 0o022) !== 0) return `refusing ${real}: writable by ${writers(stats)} (mode ${mode(stats)}); chmod go-w ${real}`;
  let child = { path: real, stats };
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const dirStats = statSync(dir);
    if (!trusted(dirStats)) return `refusing ${real}: its directory ${dir} is owned by uid ${dirStats.uid}, not by ${owners}`;
    const sticky = (dirStats.mode & 0o1000) !== 0;
    if ((dirStats.mode & 0o022) !== 0 && !(sticky && trusted(child.stats))) {
      return `refusing ${real}: its directory ${dir} is writable by ${writers(dirStats)} (mode ${mode(dirStats)}), who could replace ${child.path}`;
    }
    if (dir === dirname(dir)) return undefined;
    child = { path: dir, stats: dirStats };
  }
}
