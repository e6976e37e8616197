// The stanza's random encryption key, stored wrapped by the repository passphrase (changing it rewrites no data).
import { PgStashError } from '../common/errors.js';
import { generateKey, unwrapKey, wrapKey, type WrappedKey } from '../io/crypto/key.js';
import type { Driver } from '../storage/driver.js';
import { readInfoFile, writeInfoFile } from './info-file.js';
import { repoLayout } from './layout.js';

const KIND = 'stanza.key';

export async function stanzaKeyExists(driver: Driver, stanza: string): Promise<boolean> {
  const path = repoLayout.stanzaKey(stanza);
  return (await driver.info(path)) !== undefined || (await driver.info(`${path}.copy`)) !== undefined;
}

/** The unwrapped key, or undefined when the stanza has no key file. Wrong passphrase: crypto (95). */
export async function readStanzaKey(
  driver: Driver,
  stanza: string,
  passphrase: string,
): Promise<Buffer | undefined> {
  const raw = await readInfoFile(driver, repoLayout.stanzaKey(stanza), { kind: KIND });
  if (raw === undefined) return undefined;
  return unwrapKey(raw as WrappedKey, passphrase);
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
