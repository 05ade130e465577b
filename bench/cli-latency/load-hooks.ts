/** Module hooks registered by load-recorder.ts: log each ES module (and builtin) URL as it loads. */
import { appendFileSync } from 'node:fs';

let log: string | undefined;

export function initialize(data: { log?: string } | undefined): void {
  log = data?.log;
}

type NextLoad = (url: string, context: unknown) => Promise<unknown>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<unknown> {
  if (log) appendFileSync(log, `esm ${url}\n`);
  return nextLoad(url, context);
}
