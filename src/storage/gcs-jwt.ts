// Self-signed JWTs of a GCS service account key: a bearer token made locally, without a token exchange.
import { createSign } from 'node:crypto';

/** How long a token is valid (the most Google accepts), and how long before its end a new one is made. */
const LIFETIME_S = 3600;
const RENEW_BEFORE_S = 300;

/** What signs: the key file's client_email, private_key and private_key_id. */
export interface ServiceAccountKey {
  readonly email: string;
  readonly privateKey: string;
  readonly keyId: string | undefined;
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/**
 * Returns the Authorization header for `key` and `scope`: a JWT signed with RS256 whose claims name the scope, as
 * Google's own client libraries make for service accounts (self-signed JWT with scopes). Made again shortly before
 * it expires. archive-push, one process per WAL segment, so makes no request to an OAuth endpoint and does not
 * load google-auth-library.
 */
export function selfSignedAuthorization(key: ServiceAccountKey, scope: string): () => Record<string, string> {
  let header: Record<string, string> | undefined;
  let renewAt = 0;
  return () => {
    const now = Math.floor(Date.now() / 1000);
    if (header === undefined || now >= renewAt) {
      const head = { alg: 'RS256', typ: 'JWT', ...(key.keyId === undefined ? {} : { kid: key.keyId }) };
      const claims = { iss: key.email, sub: key.email, scope, iat: now, exp: now + LIFETIME_S };
      const unsigned = `${base64url(JSON.stringify(head))}.${base64url(JSON.stringify(claims))}`;
      const signature = createSign('RSA-SHA256').update(unsigned).sign(key.privateKey);
      header = { Authorization: `Bearer ${unsigned}.${base64url(signature)}` };
      renewAt = now + LIFETIME_S - RENEW_BEFORE_S;
    }
    return header;
  };
}
