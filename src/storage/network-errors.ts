// Network and TLS failures as Node reports them, shared by the object-store drivers' error translation.

/** Network failures: the request may not have reached the service, or its answer did not reach us. */
export const NETWORK: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** TLS verification failures: permanent (the certificate will not change on a retry). */
export const TLS = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)|ERR_TLS/;
