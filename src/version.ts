/** This program's version, from the package.json it was installed with (an in-place upgrade reads the new one's). */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
