// The options every object-store repository reads alike: required values, and the service's host:port.
import { fail } from '../common/errors.js';

/** An option the table defaults or requires for the repository's type; missing only if a caller bypassed it. */
export function required<T>(value: T | undefined, option: string): T {
  if (value === undefined) fail('optionRequired', `${option} option required`);
  return value;
}

/**
 * host:port of a service from an endpoint option (a host name or IP address, with ':port' when not
 * repoN-storage-port); anything else (a scheme, a path) fails naming the option.
 */
export function endpointHostPort(host: string, port: number, option: string): string {
  if (!/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(host)) {
    fail('optionInvalidValue', `'${host}' is not valid for '${option}' option`, {
      hint: 'give the host name (and :port if not repo-storage-port) without https:// or a path',
    });
  }
  return /:[0-9]+$/.test(host) && !host.endsWith(']') ? host : `${host}:${port}`;
}
