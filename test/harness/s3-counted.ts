// A cluster archiving into an S3 repository on versitygw, with the requests counted apart by way: archive_command
// reaches the server through the "archiver" proxy (the config file's endpoint), the commands a test runs through
// the "counter" proxy (PGSTASH_REPO1_S3_ENDPOINT). Shared by the tests that count S3 requests.
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import type { PgstashResult } from './pgstash.js';
import { proxyOptionsFor, s3RepoLines, startS3Server, type S3TestServer } from './s3-server.js';
import { createStanzaSetup, type StanzaSetup, type StanzaSetupOptions } from './stanza.js';

/** Requests per kind, kinds not seen left out. */
export type RequestCounts = Record<string, number>;

export interface CountedS3Setup {
  readonly server: S3TestServer;
  readonly bucket: string;
  /** archive_command's way to the server (the config file's endpoint). */
  readonly archiver: FaultProxy;
  /** The way of the commands a test runs with `env` (or `counted`), counted apart from the archiver's. */
  readonly counter: FaultProxy;
  /** The cluster (started) and its config. */
  readonly setup: StanzaSetup;
  /** The environment that sends a command's requests through the counter. */
  readonly env: Readonly<Record<string, string>>;
  /** Runs pgstash through the counter, its counts reset first: the result and the requests by kind. */
  counted(args: readonly string[]): Promise<PgstashResult & { counts: RequestCounts }>;
  /** Stops the cluster, the proxies and the server, and removes what was made for them. */
  destroy(): Promise<void>;
}

/**
 * Starts versitygw, the two proxies and a cluster archiving into bucket `label`'s repository (with `stanza`'s
 * options; its `global` lines added to the repository's), and runs stanza-create unless `stanzaCreate` is false
 * (a test that counts stanza-create's own requests).
 */
export async function startCountedS3(
  label: string,
  options: { stanza?: StanzaSetupOptions; stanzaCreate?: boolean } = {},
): Promise<CountedS3Setup> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const server = await startS3Server('versitygw');
    stops.push(() => server.stop());
    const proxyOptions = await proxyOptionsFor(server);
    const archiver = await startFaultProxy(proxyOptions);
    stops.push(() => archiver.stop());
    const counter = await startFaultProxy(proxyOptions);
    stops.push(() => counter.stop());
    const bucket = await server.createBucket(label);
    const setup = await createStanzaSetup({
      ...options.stanza,
      global: { ...s3RepoLines(server, bucket, { endpoint: archiver.endpoint }), ...options.stanza?.global },
    });
    stops.push(() => setup.destroy());
    await setup.cluster.start();
    if (options.stanzaCreate ?? true) await setup.pgstashOk(['stanza-create']);
    const env = { PGSTASH_REPO1_S3_ENDPOINT: counter.endpoint };
    return {
      server,
      bucket,
      archiver,
      counter,
      setup,
      env,
      async counted(args) {
        counter.resetCounts();
        const result = await setup.pgstash(args, { env });
        return { ...result, counts: counter.counts() };
      },
      destroy: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
