// The S3 case's archive part: archive-push and archive-get of real 16 MiB WAL segments, one process per segment as
// PostgreSQL runs them, each tool into its own bucket of the same server: wall time and requests per segment.
//
// As in the archive case (archive.ts), segment i runs tool A then tool B and segment i+1 B then A, so machine noise
// falls on both alike; every fetched segment is compared with the original.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirForPostgres } from '../test/harness/postgres-user.js';
import { s3RepoLines, type S3TestServer } from '../test/harness/s3-server.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';
import { measureOk, type Measurement } from './measure.js';
import { logSize, requestsSince, settledLogSize, type RequestCounts } from './s3-requests.js';
import type { BenchCompress } from './settings.js';
import { alternate, type Tool, type ToolName, type ToolRepo } from './tools.js';
import type { WalSource } from './wal-source.js';

export interface S3ArchiveTool {
  readonly push: Measurement[];
  readonly get: Measurement[];
  /** Requests of all pushes, and of all gets, by kind (the server's access log for the tool's bucket). */
  readonly requests: { readonly push: RequestCounts; readonly get: RequestCounts };
}

export interface S3ArchiveResult {
  readonly compress: BenchCompress;
  readonly segments: number;
  readonly tools: Record<ToolName, S3ArchiveTool>;
}

export async function measureS3Archive(options: {
  tools: readonly [Tool, Tool];
  server: S3TestServer;
  source: WalSource;
  compress: BenchCompress;
  scratch: string;
  accessLog: string;
  progress: (text: string) => void;
}): Promise<S3ArchiveResult> {
  const { tools, server, source, compress, scratch, accessLog } = options;
  const dirs: string[] = [];
  try {
    const repos: ToolRepo[] = [];
    const buckets = new Map<ToolName, string>();
    for (const tool of tools) {
      const dir = await createTempDir({ label: `bench-s3-archive-${tool.name}-${compress}` });
      dirs.push(dir);
      const bucket = await server.createBucket(`bench-wal-${tool.name}-${compress}`);
      buckets.set(tool.name, bucket);
      const repo = await tool.prepare(dir, {
        cluster: source.cluster,
        compress,
        store: s3RepoLines(server, bucket, { endpoint: 'localhost' }),
      });
      await measureOk(repo.argv(['stanza-create']), { scratchDir: scratch });
      repos.push(repo);
    }
    const pair = repos as [ToolRepo, ToolRepo];
    const push: Record<ToolName, Measurement[]> = { pgstash: [], pgbackrest: [] };
    const get: Record<ToolName, Measurement[]> = { pgstash: [], pgbackrest: [] };

    options.progress(`s3 archive ${compress}: archive-push of ${String(source.segments.length)} segments`);
    const beforePush = await logSize(accessLog);
    for (const [index, segment] of source.segments.entries()) {
      for (const repo of alternate(pair, index)) {
        push[repo.tool.name].push(
          await measureOk(repo.argv(['archive-push', source.path(segment)]), { scratchDir: scratch }),
        );
      }
    }
    const afterPush = await settledLogSize(accessLog);
    options.progress(`s3 archive ${compress}: archive-get of ${String(source.segments.length)} segments`);
    const getDir = await mkdirForPostgres(join(dirs[0] ?? scratch, 'get'));
    for (const [index, segment] of source.segments.entries()) {
      for (const repo of alternate(pair, index)) {
        const destination = join(getDir, `${repo.tool.name}-${segment}`);
        get[repo.tool.name].push(
          await measureOk(repo.argv(['archive-get', segment, destination]), { scratchDir: scratch }),
        );
        await source.verify(segment, destination, repo.tool.label);
        await rm(destination);
      }
    }
    const byTool = async (name: ToolName): Promise<S3ArchiveTool> => {
      const bucket = buckets.get(name) ?? '';
      return {
        push: push[name],
        get: get[name],
        requests: {
          push: await requestsSince(accessLog, beforePush, bucket, afterPush),
          get: await requestsSince(accessLog, afterPush, bucket),
        },
      };
    };
    return {
      compress,
      segments: source.segments.length,
      tools: { pgstash: await byTool('pgstash'), pgbackrest: await byTool('pgbackrest') },
    };
  } finally {
    for (const dir of dirs) await removeTempDir(dir);
  }
}
