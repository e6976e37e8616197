// Concurrent archive-push of one WAL file name (two clusters on one stanza): at most one content is ever stored
// under a name, the other push fails with 45 every time, and a claim left by a killed push lets no other in.
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStanzaSetup, type StanzaSetup } from '../harness/stanza.js';
import { switchWal, waitArchived } from '../harness/wal.js';
import { mkdirForPostgres } from '../harness/postgres-user.js';

const ROUNDS = 20;

describe('concurrent archive-push of one WAL file name', () => {
  let setup: StanzaSetup;
  /** A real segment of the cluster: its header names the stanza's cluster, so archive-push takes it. */
  let segment: Buffer;
  /** Where the pushed copies are written: one directory per content, as two clusters' pg_wal would be. */
  let walDirs: { a: string; b: string };

  beforeAll(async () => {
    setup = await createStanzaSetup({ compressType: 'zst', walSegmentSizeMb: 1 });
    await setup.cluster.start();
    await setup.pgstashOk(['stanza-create']);
    await setup.cluster.psql('create table t as select generate_series(1, 1000) id');
    const archived = await switchWal(setup);
    await waitArchived(setup, archived);
    segment = await readFile(join(setup.cluster.dataDir, 'pg_wal', archived));
    walDirs = { a: join(setup.dir, 'wal-a'), b: join(setup.dir, 'wal-b') };
    for (const dir of Object.values(walDirs)) await mkdirForPostgres(dir);
  });

  afterAll(async () => {
    await setup?.destroy();
  });

  /** A segment name no one has archived: timeline 1, log `log` (the cluster is far from it), segment `round`. */
  const nameOf = (round: number, log = 1): string =>
    `00000001${log.toString(16).toUpperCase().padStart(8, '0')}${round.toString(16).toUpperCase().padStart(8, '0')}`;

  /** Writes `content` as WAL file `name` into `dir` and resolves to its path. */
  async function walFile(dir: string, name: string, content: Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    await chmod(path, 0o644);
    return path;
  }

  /** The two contents: the real segment, and the same with its last byte changed (another cluster's history). */
  function contents(): { a: Buffer; b: Buffer } {
    const b = Buffer.from(segment);
    b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff;
    return { a: segment, b };
  }

  const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

  /** archive-push of each path, all started at once; resolves to their exit codes and stderr, in order. */
  async function pushAtOnce(paths: readonly string[]): Promise<{ code: number | null; stderr: string }[]> {
    const runs = paths.map((path) => setup.spawn(['archive-push', path]));
    return Promise.all(runs.map((run) => run.done));
  }

  /** Every file in the archive directory of `name` that concerns it (hidden pending files included). */
  async function entriesOf(name: string): Promise<string[]> {
    const dir = join(setup.repoPath, 'archive', setup.stanza, '15-1', name.slice(0, 16));
    return (await readdir(dir)).filter((entry) => entry.includes(name));
  }

  /** Names of the stored copies of `name` (claims and pending files aside). */
  async function storedCopies(name: string): Promise<string[]> {
    return (await entriesOf(name))
      .filter((entry) => new RegExp(`^${name}-[0-9a-f]{64}\\.zst$`).test(entry))
      .sort();
  }

  /** archive-get of `name`: must succeed, and resolves to what it wrote. */
  async function fetched(name: string): Promise<Buffer> {
    const destination = join(walDirs.a, `fetched-${name}`);
    await setup.pgstashOk(['archive-get', name, destination]);
    return readFile(destination);
  }

  it(`different contents, ${ROUNDS} rounds: exactly one push stores its content, the other fails with 45`, async () => {
    const { a, b } = contents();
    for (let round = 1; round <= ROUNDS; round++) {
      const name = nameOf(round);
      const results = await pushAtOnce([
        await walFile(walDirs.a, name, a),
        await walFile(walDirs.b, name, b),
      ]);
      const codes = results.map((result) => result.code);
      expect([...codes].sort(), `round ${round}: ${results.map((r) => r.stderr).join('\n')}`).toEqual([
        0, 45,
      ]);
      const loser = results.find((result) => result.code === 45);
      expect(loser?.stderr).toMatch(
        new RegExp(
          `\\[045\\]: WAL file '${name}' already exists in the repo1 archive with a different checksum`,
        ),
      );
      const winner = codes[0] === 0 ? a : b;
      expect(await storedCopies(name)).toEqual([`${name}-${sha256(winner)}.zst`]);
      // Nothing else: the loser's data, written before its claim failed, is gone.
      expect((await entriesOf(name)).sort()).toEqual([`${name}-${sha256(winner)}.zst`, `${name}.claim`]);
      expect((await fetched(name)).equals(winner)).toBe(true);
    }
    // info reads the same archive: the newest segment is the last round's, and the claims are not segments.
    const info = await setup.pgstashOk(['info']);
    expect(info.stdout).toMatch(
      new RegExp(`wal archive min/max \\(15-1\\): [0-9A-F]{24}/${nameOf(ROUNDS)}\n`),
    );
  });

  it('the same content twice at once: both succeed, one copy is stored', async () => {
    const { a } = contents();
    for (let round = 101; round <= 105; round++) {
      const name = nameOf(round);
      const results = await pushAtOnce([
        await walFile(walDirs.a, name, a),
        await walFile(walDirs.b, name, a),
      ]);
      expect(
        results.map((result) => result.code),
        results.map((r) => r.stderr).join('\n'),
      ).toEqual([0, 0]);
      expect(await storedCopies(name)).toEqual([`${name}-${sha256(a)}.zst`]);
      expect((await fetched(name)).equals(a)).toBe(true);
    }
  });

  it('a claim left by a killed push: another content fails with 45, the same content completes it', async () => {
    const { a, b } = contents();
    const name = nameOf(1, 2);
    // What a push killed between its claim and its data leaves: the claim, for content a, and no data.
    const dir = await mkdirForPostgres(
      join(setup.repoPath, 'archive', setup.stanza, '15-1', name.slice(0, 16)),
    );
    await writeFile(join(dir, `${name}.claim`), `${JSON.stringify({ walFile: name, sha256: sha256(a) })}\n`);
    const [other] = await pushAtOnce([await walFile(walDirs.b, name, b)]);
    expect(other?.code).toBe(45);
    expect(other?.stderr).toContain(`claimed for ${sha256(a)}, whose push has not finished`);
    expect(other?.stderr).toContain(`${name}.claim`);
    expect(await storedCopies(name)).toEqual([]);
    // PostgreSQL retrying the killed push: the same content finds its own claim and stores the data.
    const [retry] = await pushAtOnce([await walFile(walDirs.a, name, a)]);
    expect(retry?.code, retry?.stderr).toBe(0);
    expect(await storedCopies(name)).toEqual([`${name}-${sha256(a)}.zst`]);
    expect((await fetched(name)).equals(a)).toBe(true);
  });
});
