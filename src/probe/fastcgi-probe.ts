/** `probe --protocol fastcgi`: one RESPONDER request, as nginx's fastcgi_params would send it. */
import { request } from '../fastcgi/client.js';
import { cgiStatusLine, cgiVariables, type ProbeRequest, type ProbeResponse } from './types.js';

/**
 * SCRIPT_FILENAME is the path as given: fcgiwrap and php-cgi need the script's absolute file name there, so
 * probing `/srv/www/x.php` names the file directly.
 */
function params(probe: ProbeRequest): Record<string, string> {
  return { ...cgiVariables(probe), SCRIPT_FILENAME: probe.path, SCRIPT_NAME: probe.path, CONTENT_LENGTH: '0', ...probe.params };
}

export async function send(probe: ProbeRequest): Promise<ProbeResponse> {
  const response = await request({ address: probe.address, params: params(probe), timeoutMs: probe.timeoutMs });
  return { statusLine: cgiStatusLine(response.status, response.statusText), status: response.status, headers: response.headers, body: response.body, stderr: response.stderr };
}
