// Real WAL for the archive benchmark: a cluster runs pgbench, and finished 16 MiB segments are copied aside.
//
// Synthetic WAL (zeros, random bytes) compresses unlike the real thing; pgbench's TPC-B-like load with a
// checkpoint every few seconds yields the usual mix of full-page images and small heap/index records.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chown, copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PgCluster } from '../test/harness/cluster.js';
import { postgresIds } from '../test/harness/postgres-user.js';
import { createTempDir, removeTempDir } from '../test/harness/tmp.js';

/** pgbench scale of the WAL source: big enough that updates touch many pages, small enough to set up quickly. */
const SOURCE_SCALE = 10;
/** Give up when pgbench has not produced the segments in this long. */
const GENERATE_TIMEOUT_MS = 15 * 60_000;
const SEGMENT_NAME = /^[0-9A-F]{24}$/;

export interface WalSourceOptions {
  readonly segments: number;
  readonly progress: (text: string) => void;
}

/** A running cluster (both tools' stanzas are created against it) and copies of WAL segments it wrote. */
export class WalSource {
  readonly cluster: PgCluster;
  /** Directory of the copied segments, owned by postgres. */
  readonly dir: string;
  /** Segment names, in WAL order. */
  readonly segments: readonly string[];
  readonly #checksums: ReadonlyMap<string, string>;

  private constructor(init: {
    cluster: PgCluster;
    dir: string;
    segments: string[];
    checksums: Map<string, string>;
  }) {
    this.cluster = init.cluster;
    this.dir = init.dir;
    this.segments = init.segments;
    this.#checksums = init.checksums;
  }

  static async create(options: WalSourceOptions): Promise<WalSource> {
    const cluster = await PgCluster.create({
      walSegmentSizeMb: 16,
      settings: {
        archive_mode: 'off',
        // Keep every segment written during the run: none may be recycled before it is copied.
        wal_keep_size: `${String((options.segments + 8) * 16)}MB`,
        max_wal_size: '4GB',
        checkpoint_timeout: '1h',
      },
    });
    let dir: string | undefined;
    try {
      await cluster.start();
      options.progress(`WAL source: pgbench -i -s ${String(SOURCE_SCALE)}`);
      await cluster.runTool('pgbench', ['-i', '-q', '-s', String(SOURCE_SCALE)]);
      const first = await currentSegment(cluster);
      await produceSegments(cluster, first, options);
      await cluster.psql('select pg_switch_wal()');
      const current = await currentSegment(cluster);
      const done = (await readdir(join(cluster.dataDir, 'pg_wal')))
        .filter((name) => SEGMENT_NAME.test(name) && name > first && name < current)
        .sort()
        .slice(0, options.segments);
      if (done.length < options.segments) {
        throw new Error(
          `expected ${String(options.segments)} finished WAL segments, found ${String(done.length)}`,
        );
      }
      dir = await createTempDir({ label: 'bench-wal' });
      const checksums = new Map<string, string>();
      const { uid, gid } = postgresIds();
      for (const name of done) {
        const copy = join(dir, name);
        await copyFile(join(cluster.dataDir, 'pg_wal', name), copy);
        await chown(copy, uid, gid);
        checksums.set(name, await sha256File(copy));
      }
      options.progress(`WAL source: copied ${String(done.length)} segments (${done[0] ?? ''} ..)`);
      return new WalSource({ cluster, dir, segments: done, checksums });
    } catch (error) {
      await cluster.destroy();
      if (dir !== undefined) await removeTempDir(dir);
      throw error;
    }
  }

  path(segment: string): string {
    return join(this.dir, segment);
  }

  /** Throws unless `file` has the same content as the original copy of `segment`. */
  async verify(segment: string, file: string, who: string): Promise<void> {
    const actual = await sha256File(file);
    if (actual !== this.#checksums.get(segment)) {
      throw new Error(`${who} archive-get returned different content for '${segment}' in '${file}'`);
    }
  }

  async destroy(): Promise<void> {
    await this.cluster.destroy();
    await removeTempDir(this.dir);
  }
}

/** Runs short pgbench bursts, each after a checkpoint, until `segments` whole segments follow `first`. */
async function produceSegments(cluster: PgCluster, first: string, options: WalSourceOptions): Promise<void> {
  const deadline = Date.now() + GENERATE_TIMEOUT_MS;
  for (;;) {
    const current = await currentSegment(cluster);
    const produced = segmentNumber(current) - segmentNumber(first) - 1;
    if (produced >= options.segments) return;
    if (Date.now() > deadline) {
      throw new Error(
        `pgbench wrote only ${String(produced)} WAL segments in ${String(GENERATE_TIMEOUT_MS / 60_000)} min`,
      );
    }
    options.progress(
      `WAL source: ${String(Math.max(produced, 0))}/${String(options.segments)} segments, pgbench -T 5`,
    );
    await cluster.psql('checkpoint');
    await cluster.runTool('pgbench', ['-n', '-c', '4', '-j', '2', '-T', '5']);
  }
}

async function currentSegment(cluster: PgCluster): Promise<string> {
  return cluster.psql('select pg_walfile_name(pg_current_wal_lsn())');
}

/** The position of a 16 MiB segment in the WAL stream: 256 segments per "log" id. */
function segmentNumber(name: string): number {
  return parseInt(name.slice(8, 16), 16) * 256 + parseInt(name.slice(16, 24), 16);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
