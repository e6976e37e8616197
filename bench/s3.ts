// Case "s3": a full backup and a restore of one pgbench cluster by each tool into its own bucket of one local S3
// server (versitygw over TLS with the harness's certificate: pgBackRest speaks only HTTPS to S3), per compress type:
// wall time, CPU, peak RSS, requests by kind (from the server's access log, per bucket) and bytes stored.
//
// As in the backup case, archive_command points at the measured tool's repository during its backup (so the
// requests of a backup include the archive-push processes PostgreSQL starts meanwhile, for both tools alike), and
// each restore goes into a new empty directory. Runs alternate which tool goes first. Then archive-push and
// archive-get per segment (s3-archive.ts), on WAL of a cluster of their own.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { PgCluster } from '../test/harness/cluster.js';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { s3RepoLines, startS3Server, type S3TestServer } from '../test/harness/s3-server.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { setArchiveCommand, waitArchiveIdle } from '../test/harness/wal.js';
import { createPgbenchCluster, DISCARD_WAL } from './bench-cluster.js';
import { measureOk, type Measurement } from './measure.js';
import { bundleLines, type BenchCompress } from './settings.js';
import { measureS3Archive, type S3ArchiveResult } from './s3-archive.js';
import { logSize, requestsSince, type RequestCounts } from './s3-requests.js';
import { alternate, type Tool, type ToolName } from './tools.js';
import { WalSource } from './wal-source.js';

export interface S3Run {
  readonly backup: Measurement;
  readonly restore: Measurement;
  readonly requests: { readonly backup: RequestCounts; readonly restore: RequestCounts };
  /** Sum of the sizes of the objects under the repository's backup/ prefix after the backup. */
  readonly storedBytes: number;
}

export interface S3CaseResult {
  readonly compress: BenchCompress;
  readonly processMax: number;
  readonly runs: Record<ToolName, S3Run[]>;
}

export interface S3Results {
  readonly scale: number;
  readonly server: string;
  readonly cases: S3CaseResult[];
  /** archive-push and archive-get per segment, per compress type. */
  readonly archive: S3ArchiveResult[];
}

export interface S3Options {
  readonly tools: readonly [Tool, Tool];
  readonly scale: number;
  readonly compressTypes: readonly BenchCompress[];
  readonly processMax: number;
  readonly runs: number;
  /** WAL segments pushed and fetched per tool and compress type. */
  readonly segments: number;
  /** Both tools bundle small files (PGSTASH_BENCH_BUNDLE). */
  readonly bundle: boolean;
  readonly progress: (text: string) => void;
}

export async function runS3Case(options: S3Options): Promise<S3Results> {
  const scratch = await createTempDir({ label: 'bench-s3' });
  const accessLog = join(scratch, 'access.log');
  const cluster = await createPgbenchCluster(options.scale, (text) => options.progress(`s3: ${text}`));
  let server: S3TestServer | undefined;
  let source: WalSource | undefined;
  try {
    server = await startS3Server('versitygw', { accessLog });
    const cases: S3CaseResult[] = [];
    let order = 0;
    for (const compress of options.compressTypes) {
      const runs: Record<ToolName, S3Run[]> = { pgstash: [], pgbackrest: [] };
      for (let run = 0; run < options.runs; run++) {
        for (const tool of alternate(options.tools, order++)) {
          options.progress(`s3 ${compress} run ${String(run + 1)}/${String(options.runs)}: ${tool.label}`);
          runs[tool.name].push(
            await runOnce(tool, {
              cluster,
              server,
              scratch,
              accessLog,
              compress,
              processMax: options.processMax,
              bundle: options.bundle,
            }),
          );
        }
      }
      cases.push({ compress, processMax: options.processMax, runs });
    }
    const archive: S3ArchiveResult[] = [];
    source = await WalSource.create({ segments: options.segments, progress: options.progress });
    for (const compress of options.compressTypes) {
      archive.push(
        await measureS3Archive({
          tools: options.tools,
          server,
          source,
          compress,
          scratch,
          accessLog,
          progress: options.progress,
        }),
      );
    }
    return { scale: options.scale, server: 'versitygw v1.8.0 (TLS, keep-alive)', cases, archive };
  } finally {
    await source?.destroy();
    await server?.stop();
    await cluster.destroy();
    await removeTempDir(scratch);
  }
}

async function runOnce(
  tool: Tool,
  options: {
    cluster: PgCluster;
    server: S3TestServer;
    scratch: string;
    accessLog: string;
    compress: BenchCompress;
    processMax: number;
    bundle: boolean;
  },
): Promise<S3Run> {
  const { cluster, server, scratch, accessLog, compress, processMax } = options;
  const dir = await createTempDir({ label: `bench-s3-${tool.name}-${compress}` });
  try {
    const bucket = await server.createBucket(`bench-${tool.name}-${compress}`);
    const repo = await tool.prepare(dir, {
      cluster,
      compress,
      // PGSTASH_BENCH_BUNDLE=y: both tools bundle small files (repo1-bundle, an option of both).
      store: { ...s3RepoLines(server, bucket, { endpoint: 'localhost' }), ...bundleLines(options.bundle) },
    });
    await measureOk(repo.argv(['stanza-create']), { scratchDir: scratch });
    await cluster.psql('checkpoint');
    await setArchiveCommand({ cluster }, repo.archiveCommand);
    const beforeBackup = await logSize(accessLog);
    const backup = await measureOk(
      repo.argv(['backup', '--type=full', '--start-fast', `--process-max=${String(processMax)}`]),
      { scratchDir: scratch },
    );
    await setArchiveCommand({ cluster }, DISCARD_WAL);
    await waitArchiveIdle(cluster);
    const backupRequests = await requestsSince(accessLog, beforeBackup, bucket);
    const storedBytes = await objectBytes(server, bucket, 'pgstash/backup/');

    const restoreDir = await mkdirForPostgres(join(dir, 'restore'), 0o700);
    const beforeRestore = await logSize(accessLog);
    const restore = await measureOk(
      repo.argv(['restore', `--pg1-path=${restoreDir}`, `--process-max=${String(processMax)}`]),
      { scratchDir: scratch },
    );
    const restoreRequests = await requestsSince(accessLog, beforeRestore, bucket);
    if (!existsSync(join(restoreDir, 'PG_VERSION')))
      throw new Error(`${tool.label} restore from S3 into '${restoreDir}' left no PG_VERSION`);
    return {
      backup,
      restore,
      requests: { backup: backupRequests, restore: restoreRequests },
      storedBytes,
    };
  } finally {
    await removeTempDir(dir);
  }
}

/** Bytes of every object under `prefix` in `bucket`. */
async function objectBytes(server: S3TestServer, bucket: string, prefix: string): Promise<number> {
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await server.client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) bytes += object.Size ?? 0;
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return bytes;
}
