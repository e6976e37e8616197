// The error of an unencrypted repository configuration meeting an encrypted stanza (crypto 95), wherever found.
import { PgStashError } from '../common/errors.js';

/** `repo` (e.g. 'repo1') has no cipher set, yet its stanza `stanza` is encrypted. */
export class EncryptedStanzaError extends PgStashError {
  constructor(repo: string, stanza: string, cause?: unknown) {
    super('crypto', `${repo} stanza '${stanza}' is encrypted`, {
      hint: `set ${repo}-cipher-type=aes-256-gcm and ${repo}-cipher-pass`,
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
