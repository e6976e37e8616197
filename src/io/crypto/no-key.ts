// A read without a key that meets an encrypted file (magic PGSTENC1): refused, never taken for plain content.
import { PgStashError } from '../../common/errors.js';
import { isEncrypted, MAGIC } from './format.js';

/**
 * Crypto (95): the file at `where` is encrypted and the read has no key. The repository turns it into its
 * stanza's error (repo/encrypted-stanza.ts): this is how an unencrypted configuration finds an encrypted stanza
 * from what it reads anyway, without asking the store whether the stanza has a key.
 */
export class EncryptedWithoutKeyError extends PgStashError {
  constructor(where: string) {
    super('crypto', `'${where}' is encrypted: no key is set`);
  }
}

/** Throws EncryptedWithoutKeyError when `head` (a stored file's first bytes) starts like an encrypted file. */
export function refuseEncrypted(head: Buffer, where: string): void {
  if (isEncrypted(head)) throw new EncryptedWithoutKeyError(where);
}

/** `stored` as it is, once its first bytes are known not to start an encrypted file. */
export async function* refusingEncrypted(
  stored: AsyncIterable<Buffer> | Iterable<Buffer>,
  where: string,
): AsyncGenerator<Buffer> {
  // The first bytes until the magic can be told from them; undefined once they were.
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const piece of stored) {
    if (head === undefined) {
      yield piece;
      continue;
    }
    // Pieces may be shorter than the magic: gather them until it can be told.
    head = head.length === 0 ? piece : Buffer.concat([head, piece]);
    if (head.length < MAGIC.length) continue;
    refuseEncrypted(head, where);
    const checked = head;
    head = undefined;
    yield checked;
  }
  if (head !== undefined && head.length > 0) yield head;
}
