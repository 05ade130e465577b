/** A real lighttpd (Debian's) in front of a pool: a minimal server config that includes the site's. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findTool } from './tools.js';
import { startWebServer, type RunningWebServer } from './web-server.js';

export interface LighttpdSite {
  /** What the server config includes (a contrib template, rendered). */
  readonly include: string;
  readonly documentRoot: string;
}

export function startLighttpd(site: LighttpdSite): Promise<RunningWebServer> {
  const lighttpd = findTool('lighttpd');
  if (!lighttpd) throw new Error('lighttpd is not installed');
  return startWebServer({
    name: 'lighttpd',
    errorLog: 'error.log',
    prepare: (dir, port) => {
      writeFileSync(join(dir, 'site.conf'), site.include);
      const config = [
        `server.document-root = "${site.documentRoot}"`,
        'server.bind = "127.0.0.1"',
        `server.port = ${port}`,
        `server.errorlog = "${dir}/error.log"`,
        'index-file.names = ( "index.php" )',
        `include "${dir}/site.conf"`,
      ].join('\n');
      writeFileSync(join(dir, 'lighttpd.conf'), `${config}\n`);
      // -D: in the foreground, a child of the test.
      return [lighttpd, '-D', '-f', join(dir, 'lighttpd.conf')];
    },
  });
}
