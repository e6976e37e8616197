// The pgstash version, read once from package.json (the single place it is written).
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function pgstashVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
