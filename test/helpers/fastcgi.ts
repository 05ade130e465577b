/** FastCGI requests from tests, through the same code path as `fcgi-spawn probe`. */
import { runProbe } from '../../src/commands/probe.js';

export interface ProbeResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function probe(address: string, path = '/', params: Record<string, string> = {}, timeoutMs = 10_000): Promise<ProbeResult> {
  let out = '';
  let err = '';
  const code = await runProbe(address, path, {
    timeoutMs,
    params,
    print: (text) => (out += text),
    printError: (text) => (err += text),
  });
  return { code, out, err };
}

/** The pid a fixture or CGI script reports in its body (`pid=123` or `pid 123`). */
export function pidInBody(out: string): number | undefined {
  const match = /pid[= ](\d+)/.exec(out);
  return match ? Number(match[1]) : undefined;
}
