/** A real Apache httpd (Debian's apache2) in front of a pool: a minimal server config that includes the site's. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from './tools.js';
import { startWebServer, type RunningWebServer } from './web-server.js';

export interface ApacheSite {
  /** What the server config includes (a contrib template, rendered), for this port. */
  readonly include: (port: number, dir: string) => string;
  /** Served at / (index.php is the directory index). */
  readonly documentRoot: string;
}

const MODULES = ['mpm_event', 'authz_core', 'dir', 'mime', 'proxy', 'proxy_fcgi'];

export function startApache(site: ApacheSite): Promise<RunningWebServer> {
  const apache = findTool('apache2');
  if (!apache) throw new Error('apache2 is not installed');
  return startWebServer({
    name: 'apache',
    errorLog: 'error.log',
    worldReadable: true,
    prepare: (dir, port) => {
      writeFileSync(join(dir, 'site.conf'), site.include(port, dir));
      // As root, Apache's children run as User (www-data); the master keeps root, as on a real host.
      const config = [
        `ServerRoot ${dir}`,
        'ServerName localhost',
        `Listen 127.0.0.1:${port}`,
        `PidFile ${dir}/httpd.pid`,
        `DefaultRuntimeDir ${dir}`,
        `Mutex file:${dir} default`,
        `ErrorLog ${dir}/error.log`,
        'LogLevel warn',
        ...MODULES.map((name) => `LoadModule ${name}_module /usr/lib/apache2/modules/mod_${name}.so`),
        'User www-data',
        'Group www-data',
        'TypesConfig /etc/mime.types',
        `DocumentRoot ${site.documentRoot}`,
        `<Directory ${site.documentRoot}>`,
        '  Require all granted',
        '</Directory>',
        'DirectoryIndex index.php',
        `Include ${dir}/site.conf`,
      ].join('\n');
      writeFileSync(join(dir, 'httpd.conf'), `${config}\n`);
      return [apache, '-f', join(dir, 'httpd.conf'), '-DFOREGROUND'];
    },
  });
}
