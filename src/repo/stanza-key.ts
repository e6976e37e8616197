// The stanza's random encryption key, stored wrapped by the repository passphrase (changing it rewrites no data).
import { isPgStashError, PgStashError } from '../common/errors.js';
import { generateKey, unwrapKey, wrapKey, type WrappedKey } from '../io/crypto/key.js';
import type { Driver } from '../storage/driver.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';

const KIND = 'stanza.key';

export async function stanzaKeyExists(driver: Driver, stanza: string): Promise<boolean> {
  const path = repoLayout.stanzaKey(stanza);
  if (driver.capabilities.path)
    return (await driver.info(path)) !== undefined || (await driver.info(`${path}.copy`)) !== undefined;
  // On an object store one listing answers for the key and its copy: one request where two HEADs were.
  const name = path.slice(path.lastIndexOf('/') + 1);
  for await (const entry of driver.list(path.slice(0, path.lastIndexOf('/')), { prefix: name })) {
    if (entry.type === 'file' && (entry.name === name || entry.name === `${name}.copy`)) return true;
  }
  return false;
}

/**
 * The unwrapped key, or undefined when the stanza has no key file. A passphrase that does not unwrap it: crypto (95)
 * naming the repository (`repo`, e.g. 'repo2'), the stanza and the passphrase option.
 */
export async function readStanzaKey(
  driver: Driver,
  stanza: string,
  passphrase: string,
  repo: string,
): Promise<Buffer | undefined> {
  const path = repoLayout.stanzaKey(stanza);
  const raw = await readInfoFile(driver, path, { kind: KIND });
  if (raw === undefined) return undefined;
  const option = `${repo}-cipher-pass`;
  try {
    return await unwrapKey(raw as WrappedKey, passphrase, { option });
  } catch (error) {
    if (!isPgStashError(error, 'crypto')) throw error;
    throw new PgStashError(
      'crypto',
      `${repo}: the passphrase in '${option}' does not unwrap the key of stanza '${stanza}' ` +
        `('${driver.location}/${path}')`,
      {
        hint: `set '${option}' to the passphrase stanza '${stanza}' was created with (or the key file was damaged)`,
        cause: error,
      },
    );
  }
}

/** Creates a new random key for the stanza, wrapped by `passphrase`. Refuses to replace an existing one. */
export async function createStanzaKey(driver: Driver, stanza: string, passphrase: string): Promise<Buffer> {
  if (await stanzaKeyExists(driver, stanza)) {
    throw new PgStashError(
      'fileExists',
      `stanza key '${driver.location}/${repoLayout.stanzaKey(stanza)}' exists`,
    );
  }
  const key = generateKey();
  const wrapped = await wrapKey(key, passphrase);
  await writeInfoFile(driver, repoLayout.stanzaKey(stanza), { kind: KIND, content: wrapped });
  return key;
}
