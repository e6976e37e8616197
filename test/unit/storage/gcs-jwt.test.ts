// Self-signed JWTs of a GCS service account key: RS256 over the claims Google expects, renewed before expiry.
import { createVerify, generateKeyPairSync } from 'node:crypto';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { selfSignedAuthorization } from '../../../src/storage/gcs-jwt.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const SCOPE = 'https://www.googleapis.com/auth/devstorage.read_write';

function decode(authorization: string | undefined) {
  const token = (authorization ?? '').replace(/^Bearer /, '');
  const [head, claims, signature] = token.split('.');
  const verified = createVerify('RSA-SHA256')
    .update(`${head}.${claims}`)
    .verify(publicKey, Buffer.from(signature ?? '', 'base64url'));
  return {
    head: JSON.parse(Buffer.from(head ?? '', 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims ?? '', 'base64url').toString()) as Record<string, number | string>,
    verified,
  };
}

describe('selfSignedAuthorization', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('signs the service account, scope and an hour of validity with the key', () => {
    const sign = selfSignedAuthorization(
      { email: 'sa@p.iam.gserviceaccount.com', privateKey, keyId: 'k1' },
      SCOPE,
    );
    const { head, claims, verified } = decode(sign()['Authorization']);
    expect(verified).toBe(true);
    expect(head).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'k1' });
    expect(claims).toMatchObject({
      iss: 'sa@p.iam.gserviceaccount.com',
      sub: 'sa@p.iam.gserviceaccount.com',
      scope: SCOPE,
    });
    expect(Number(claims['exp']) - Number(claims['iat'])).toBe(3600);
  });

  it('reuses a token until five minutes before it expires, then makes a new one', () => {
    vi.useFakeTimers({ now: new Date('2026-12-06T12:00:00Z') });
    const sign = selfSignedAuthorization(
      { email: 'sa@p.iam.gserviceaccount.com', privateKey, keyId: undefined },
      SCOPE,
    );
    const first = sign()['Authorization'];
    vi.setSystemTime(new Date('2026-12-06T12:54:59Z'));
    expect(sign()['Authorization']).toBe(first);
    vi.setSystemTime(new Date('2026-12-06T12:55:00Z'));
    const second = sign()['Authorization'];
    expect(second).not.toBe(first);
    expect(decode(second).claims['iat']).toBe(Date.parse('2026-12-06T12:55:00Z') / 1000);
    expect(decode(second).head).toEqual({ alg: 'RS256', typ: 'JWT' });
  });
});
