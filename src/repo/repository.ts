// One configured repository (repoN) for one stanza: the only way into it. It owns the key, the info files and file
// transfer through the chunk loop; its backups (BackupStore) and its WAL archive (WalArchive) are parts of it.
// Commands use these and never the driver or a repository path (layout.ts) themselves.
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isPgStashError, PgStashError } from '../common/errors.js';
import type { RepoOptions } from '../config/load.js';
import { chunksOf } from '../io/chunker.js';
import { compressTypeOfName, type CompressSettings, type CompressType } from '../io/compress.js';
import { copy } from '../io/copy.js';
import { decodeStored } from '../io/decode.js';
import { encodeStored } from '../io/encode.js';
import { ByteCount, ContentDigest, type ChunkStage } from '../io/stage.js';
import type { Driver } from '../storage/driver.js';
import { openStorage } from '../storage/index.js';
import { listingsOnce } from '../storage/listings-once.js';
import { trackTempFile } from '../storage/temp-files.js';
import { readArchiveInfo, writeArchiveInfo, type ArchiveInfo } from './archive-info.js';
import { readBackupInfo, writeBackupInfo, type BackupInfo } from './backup-info.js';
import { BackupStore } from './backup-store.js';
import { repoLayout } from './layout.js';
import { createStanzaKey, readStanzaKey, stanzaKeyExists } from './stanza-key.js';
import { EncryptedStanzaError } from './encrypted-stanza.js';
import { EncryptedWithoutKeyError } from '../io/crypto/no-key.js';
import { DrillHistory } from './drill-history.js';
import { WalArchive } from './wal-archive.js';

export type { CompressSettings } from '../io/compress.js';

/** What a copy into the repository measured: the original's size and SHA-256, and the stored size. */
export interface StoredFile {
  readonly size: number;
  readonly sha256: string;
  readonly repoSize: number;
}

/** What a read must yield: the original's SHA-256 and, when known, its size. */
export interface ReadExpectation {
  readonly sha256: string;
  readonly size?: number;
  /** The size as stored, when known (a backup manifest's stored size): a small file is read whole (driver.read). */
  readonly storedSize?: number;
  /**
   * Whether the stored file is encrypted with the stanza key, when the caller knows (a backup manifest records it
   * per file); by default, when the repository is.
   */
  readonly encrypted?: boolean;
  /** Frames decoded ahead of the reader (default COMPRESS_CONCURRENCY). */
  readonly framesAhead?: number;
  /**
   * true for a reader that is one of many open at once (a block-stored file's parts): its stored bytes are read in
   * small pieces when the decoder asks for them, not streamed ahead, so that its memory stays at a few frames.
   */
  readonly onDemand?: boolean;
  /**
   * false: the caller checks each piece it uses (restore --delta, a block-stored file's blocks against its map) and
   * stops reading where it likes, so the whole file's SHA-256, which it would never reach, is not computed.
   */
  readonly checkWhole?: boolean;
  /**
   * A member of a bundle (a tar archive, repo/bundle-tar.ts): its stored bytes are the `storedSize` bytes from
   * this offset of the object, compressed as `compressType` (the object's name does not say), and errors name the
   * member as well as the object.
   */
  readonly member?: { readonly offset: number; readonly compressType: CompressType; readonly name: string };
  /** DecodeOptions.skipFrame: frames the caller will not read, not decoded. Requires checkWhole false. */
  readonly skipFrame?: (index: number) => number | undefined;
  /** Given the stored bytes (before decryption and decompression) as they are read: verify hashes them. */
  readonly onStored?: (piece: Buffer) => void;
  /**
   * Original bytes per frame when the writer recorded it (a block-stored file's part: BlockPart.frameSize), every
   * frame but the last that size: lz4 frames then decode into exactly their length (DecodeOptions.frameLength).
   */
  readonly frameSize?: number;
}

/** Stored files up to this size are read in one piece, not streamed. */
const READ_WHOLE_BYTES = 256 * 1024;
/**
 * Piece size of a file read on demand (ReadExpectation.onDemand): what such a reader holds besides a frame.
 * A block-stored file's parts are read so, all at once, in 64 KiB frames (a few KiB compressed): measured on the
 * last of a chain of 30 (pgbench scale 50, lz4, process-max 2), restore peaked at 255-269 MiB with 128 KiB
 * pieces, 225-230 MiB with 32 KiB.
 */
const ON_DEMAND_BYTES = 32 * 1024;
/**
 * The same on an object store, where each piece is a ranged GET: 32 KiB pieces would make a 64 MiB part 2,048
 * requests. 1 MiB keeps a part at a request per 1 MiB stored, for about 1 MiB more per part open.
 */
const ON_DEMAND_REMOTE_BYTES = 1024 * 1024;

export class Repository {
  readonly options: RepoOptions;
  /** The storage: for src/repo/ only (commands go through this class, `backups` and `wal`). */
  readonly driver: Driver;
  readonly stanza: string;
  /** The stanza's backups: their lifecycle, manifests and files. */
  readonly backups: BackupStore;
  /** The stanza's WAL archive. */
  readonly wal: WalArchive;
  /** The stanza's drill history (command/drill/, shown by info). */
  readonly drills: DrillHistory;
  readonly #blocking: boolean;
  #key: Promise<Buffer | undefined> | undefined;

  private constructor(options: RepoOptions, driver: Driver, stanza: string, blocking: boolean) {
    this.options = options;
    this.driver = driver;
    this.stanza = stanza;
    this.#blocking = blocking;
    this.backups = new BackupStore(this);
    this.wal = new WalArchive(this);
    this.drills = new DrillHistory(this);
  }

  /**
   * `blocking`: file I/O with blocking calls (storage/file-io.ts), only for a thread with nothing else to do.
   * `listingsOnce`: each directory listed once (storage/listings-once.ts), for a report that only reads (info).
   */
  static async open(
    options: RepoOptions,
    stanza: string,
    io: { blocking?: boolean; listingsOnce?: boolean } = {},
  ): Promise<Repository> {
    const blocking = io.blocking ?? false;
    const driver = await openStorage(options, { blocking });
    return new Repository(
      options,
      io.listingsOnce === true ? listingsOnce(driver) : driver,
      stanza,
      blocking,
    );
  }

  /**
   * The repository as a file-copying worker thread uses it: with the key its main thread already unwrapped
   * (undefined for an unencrypted repository) and blocking file I/O.
   */
  static async openInWorker(
    options: RepoOptions,
    stanza: string,
    key: Buffer | undefined,
  ): Promise<Repository> {
    const repo = await Repository.open(options, stanza, { blocking: true });
    repo.#key = Promise.resolve(key);
    return repo;
  }

  /** 'repo1', 'repo2', ... as in option names and messages. */
  get name(): string {
    return `repo${this.options.index}`;
  }

  /** Where the repository is, for messages: a path or a URL. */
  get location(): string {
    return this.driver.location;
  }

  /** An object store (S3, Azure, GCS): no directories, and each read or write a request, a round trip. */
  get objectStore(): boolean {
    return !this.driver.capabilities.path;
  }

  /** Files a restore worker reads at once from this repository's store (Capabilities.readsInFlight). */
  get readsInFlight(): number {
    return this.driver.capabilities.readsInFlight ?? 2;
  }

  get encrypted(): boolean {
    return this.options.cipherType !== 'none';
  }

  /** The stanza's data key (undefined for an unencrypted repository), loaded once. */
  key(): Promise<Buffer | undefined> {
    this.#key ??= this.#loadKey();
    return this.#key;
  }

  async #loadKey(): Promise<Buffer | undefined> {
    // No request here for an unencrypted repository: an encrypted stanza is found by the first read that meets its
    // bytes (an info file starts with the magic PGSTENC1: info-file.ts, io/crypto/no-key.ts), which every command but
    // two makes before it writes or restores anything: archive-push, archive-get (async too) and check read
    // archive.info first; backup, restore, drill, expire, annotate and info read backup.info (or archive.info) first.
    // stanza-create and verify ask the store instead (refuseEncryptedStanza): see there.
    if (!this.encrypted) return undefined;
    const passphrase = this.options.cipherPass;
    if (passphrase === undefined || passphrase === '') {
      throw new PgStashError('optionRequired', `${this.name}-cipher-pass option required`, {
        hint: `${this.name}-cipher-type is '${this.options.cipherType}': set the passphrase in the config file or PGSTASH_REPO${this.options.index}_CIPHER_PASS`,
      });
    }
    return readStanzaKey(this.driver, this.stanza, passphrase, this.name);
  }

  /**
   * Crypto (95) when this repository is unencrypted and its stanza has a key (one listing on an object store, two
   * HEADs on posix). Only for a command that could write into an encrypted stanza, or report it as damaged, without
   * first reading a file of it (see #loadKey).
   */
  async refuseEncryptedStanza(): Promise<void> {
    if (!this.encrypted && (await stanzaKeyExists(this.driver, this.stanza)))
      throw new EncryptedStanzaError(this.name, this.stanza);
  }

  /** `read`, with a file met encrypted without a key reported as this repository's encrypted stanza (95). */
  async refusingEncryptedStanza<T>(read: Promise<T>): Promise<T> {
    try {
      return await read;
    } catch (error) {
      throw this.#stanzaErrorOf(error);
    }
  }

  #stanzaErrorOf(error: unknown): unknown {
    return error instanceof EncryptedWithoutKeyError
      ? new EncryptedStanzaError(this.name, this.stanza, error)
      : error;
  }

  /** The key, which must exist once the stanza does (archive.info is readable only with it). */
  async requireKey(): Promise<Buffer | undefined> {
    const key = await this.key();
    if (this.encrypted && key === undefined) {
      throw new PgStashError('fileMissing', `${this.name} has no key for stanza '${this.stanza}'`, {
        hint: `run 'pgstash --stanza=${this.stanza} stanza-create' first`,
      });
    }
    return key;
  }

  async archiveInfo(): Promise<ArchiveInfo | undefined> {
    return this.refusingEncryptedStanza(readArchiveInfo(this.driver, this.stanza, await this.requireKey()));
  }

  /** archive.info, which must exist: a missing stanza is error 55 with a hint to run stanza-create. */
  async requireArchiveInfo(): Promise<ArchiveInfo> {
    const info = await this.archiveInfo();
    if (info === undefined) {
      throw new PgStashError(
        'fileMissing',
        `${this.name}: stanza '${this.stanza}' does not exist (no archive.info in '${this.driver.location}')`,
        {
          hint: `run 'pgstash --stanza=${this.stanza} stanza-create' first, or check ${this.name}-path`,
        },
      );
    }
    return info;
  }

  async backupInfo(): Promise<BackupInfo | undefined> {
    return this.refusingEncryptedStanza(readBackupInfo(this.driver, this.stanza, await this.requireKey()));
  }

  async writeArchiveInfo(info: ArchiveInfo): Promise<void> {
    await writeArchiveInfo(this.driver, this.stanza, info, await this.requireKey());
  }

  async writeBackupInfo(info: BackupInfo): Promise<void> {
    await writeBackupInfo(this.driver, this.stanza, info, await this.requireKey());
  }

  /** Whether anything of the stanza is here (its archive or backup directory), even without info files. */
  async stanzaExists(): Promise<boolean> {
    return (
      (await this.hasPath(repoLayout.archiveStanza(this.stanza))) ||
      (await this.hasPath(repoLayout.backupStanza(this.stanza)))
    );
  }

  /**
   * A directory exists (posix), or a prefix holds at least one object (object stores, where `info` is for files
   * and a "directory" exists only through what is below it). For src/repo/.
   */
  async hasPath(path: string): Promise<boolean> {
    if (this.driver.capabilities.path) return (await this.driver.info(path)) !== undefined;
    for await (const _entry of this.driver.list(path)) return true;
    return false;
  }

  /**
   * Creates the stanza's key (encrypted repositories, stanza-create), wrapped by the configured passphrase, and
   * uses it from now on. Refuses to replace an existing one.
   */
  async createKey(): Promise<Buffer> {
    const key = await createStanzaKey(this.driver, this.stanza, this.options.cipherPass ?? '');
    this.#key = Promise.resolve(key);
    return key;
  }

  /** Creates the stanza's directories (a no-op on object stores), before its first info files. */
  async createStanzaPaths(): Promise<void> {
    await this.driver.makePath?.(repoLayout.archiveStanza(this.stanza));
  }

  /** Makes every earlier write of this handle made with `sync: false` durable. */
  async flush(): Promise<void> {
    await this.driver.flush();
  }

  /**
   * Stores a file given as chunks of exactly CHUNK_SIZE bytes (the last may be shorter; none for an empty file)
   * at `path`, through the chunk loop (io/encode.ts): each chunk is hashed and counted, passed to `stages` (a
   * backup's page checksums), compressed on libuv's pool (a few at a time, written in order) and encrypted. Every
   * repository file is written this way. The file becomes visible only once complete; a failure leaves nothing
   * at `path`. `release` gets each chunk back once nothing reads it any more (after its compression; never
   * without compression, where the chunk itself is written), for the reader to fill again.
   */
  async putChunks(
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    path: string,
    compress: CompressSettings,
    options: {
      sync?: boolean;
      release?: (chunk: Buffer) => void;
      stages?: readonly ChunkStage[];
      /** EncodeOptions.frameSize. */
      frameSize?: number;
    } = {},
  ): Promise<StoredFile> {
    const { pieces, measured } = await this.#encode(chunks, compress, options);
    await copy(pieces, await this.driver.openWrite(path, { sync: options.sync ?? true }));
    return measured();
  }

  /**
   * A small file's stored form in memory, through the same chunk loop as putChunks (a bundle member, which its
   * tar header must size before it is written: repo/bundle-tar.ts). The caller bounds the input.
   */
  async encodeInMemory(
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    compress: CompressSettings,
    options: { stages?: readonly ChunkStage[] } = {},
  ): Promise<{ readonly stored: Buffer[]; readonly file: StoredFile }> {
    const { pieces, measured } = await this.#encode(chunks, compress, options);
    const stored: Buffer[] = [];
    for await (const piece of pieces) stored.push(piece);
    return { stored, file: measured() };
  }

  async #encode(
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    compress: CompressSettings,
    options: { release?: (chunk: Buffer) => void; stages?: readonly ChunkStage[]; frameSize?: number },
  ): Promise<{ pieces: AsyncGenerator<Buffer>; measured: () => StoredFile }> {
    const key = await this.requireKey();
    const original = new ContentDigest();
    const stored = new ByteCount();
    const pieces = encodeStored(chunks, {
      compress,
      key,
      original: [original, ...(options.stages ?? [])],
      stored: [stored],
      release: options.release,
      frameSize: options.frameSize,
    });
    return {
      pieces,
      measured: () => ({ size: original.size, sha256: original.digest(), repoSize: stored.size }),
    };
  }

  /** putChunks of a small file held in memory (backup_label, tablespace_map). */
  putBuffer(
    data: Buffer,
    path: string,
    compress: CompressSettings,
    options: { sync?: boolean } = {},
  ): Promise<StoredFile> {
    return this.putChunks(chunksOf(data), path, compress, options);
  }

  /**
   * The original bytes of the file at `path`, in order, or undefined when the file does not exist: decrypted and
   * decompressed (type from the extension) a few chunks ahead of the caller. Once the last chunk is out, the
   * original's SHA-256 and size are checked against `expect`, and iteration fails when
   * they do not match: use the data only after the loop completes. Data that fails to decompress or to match is a
   * checksum error (26) naming the file; data that fails authentication is a crypto error (95).
   */
  async getChunks(path: string, expect: ReadExpectation): Promise<AsyncGenerator<Buffer> | undefined> {
    const key = await this.#keyFor(path, expect);
    const { storedSize, member } = expect;
    if (member !== undefined) return this.#getMember(path, key, expect, member);
    if (storedSize !== undefined && storedSize <= READ_WHOLE_BYTES) {
      // One byte more than expected shows a file that grew: never read more than the expected size into memory.
      const whole = await this.driver.read(path, { limit: storedSize + 1 });
      if (whole === undefined) return undefined;
      if (whole.length > storedSize)
        throw this.#corrupt(path, `larger than the ${storedSize} bytes recorded`);
      return this.#verified([whole], path, key, expect);
    }
    if (expect.onDemand === true && this.driver.capabilities.path) {
      // One of many readers open at once: small reads, a piece ahead at most. The file stays open: opening it for
      // each piece cost an open, fstat and close per 32 KiB (about 2,000 on the last of a chain of 30).
      const source = await this.driver.openRead(path, { readSize: ON_DEMAND_BYTES });
      return source === undefined ? undefined : this.#verified(source, path, key, expect);
    }
    if (expect.onDemand === true) {
      // The same on an object store: each piece a ranged GET when asked, no stream buffering ahead.
      const first = await this.driver.read(path, { limit: ON_DEMAND_REMOTE_BYTES });
      if (first === undefined) return undefined;
      return this.#verified(this.#onDemand(path, first, ON_DEMAND_REMOTE_BYTES), path, key, expect);
    }
    const source = await this.driver.openRead(path);
    if (source === undefined) return undefined;
    return this.#verified(source, path, key, expect);
  }

  /**
   * A bundle member's original bytes from its stored bytes, which the caller reads (`stored`: exactly the member's
   * stored bytes, streamed from one read of several members: BackupStore.readBundle), checked as getChunks checks
   * them.
   */
  decodeMember(
    stored: AsyncGenerator<Buffer>,
    path: string,
    expect: ReadExpectation,
  ): Promise<AsyncGenerator<Buffer>> {
    const { member } = expect;
    if (member === undefined) throw new PgStashError('assert', `'${path}': not a bundle member`);
    return this.#keyFor(path, expect).then((key) =>
      this.#verified(stored, `${path}' member '${member.name}`, key, expect, member.compressType),
    );
  }

  /** A bundle member: the byte range the manifest records, one ranged read (whole when small, else streamed). */
  async #getMember(
    path: string,
    key: Buffer | undefined,
    expect: ReadExpectation,
    member: NonNullable<ReadExpectation['member']>,
  ): Promise<AsyncGenerator<Buffer> | undefined> {
    const storedSize = expect.storedSize;
    if (storedSize === undefined)
      throw new PgStashError('assert', `bundle member '${member.name}' has no size`);
    const where = `${path}' member '${member.name}`;
    const range = { offset: member.offset, limit: storedSize };
    if (storedSize <= READ_WHOLE_BYTES) {
      const whole = await this.driver.read(path, range);
      if (whole === undefined) return undefined;
      if (whole.length < storedSize)
        throw this.#corrupt(where, `${whole.length} bytes where ${storedSize} are recorded`);
      return this.#verified([whole], where, key, expect, member.compressType);
    }
    const source = await this.driver.openRead(path, range);
    if (source === undefined) return undefined;
    return this.#verified(source, where, key, expect, member.compressType);
  }

  /** The key to decrypt `path` with, as `expect` says it is stored; crypto (95) when it is encrypted and none is. */
  async #keyFor(path: string, expect: ReadExpectation): Promise<Buffer | undefined> {
    const key = expect.encrypted === false ? undefined : await this.requireKey();
    if (expect.encrypted === true && key === undefined) {
      throw new PgStashError(
        'crypto',
        `'${this.driver.location}/${path}' is encrypted: ${this.name} has no key`,
        {
          hint: `set ${this.name}-cipher-type=aes-256-gcm and ${this.name}-cipher-pass`,
        },
      );
    }
    return key;
  }

  /** `path` from its start, `first` being its first `pieceBytes`, each further piece read when asked for. */
  async *#onDemand(path: string, first: Buffer, pieceBytes: number): AsyncGenerator<Buffer> {
    let piece = first;
    for (let offset = 0; ;) {
      if (piece.length > 0) yield piece;
      if (piece.length < pieceBytes) return;
      offset += piece.length;
      piece = (await this.driver.read(path, { offset, limit: pieceBytes })) ?? Buffer.alloc(0);
    }
  }

  async *#verified(
    source: Readable | readonly Buffer[] | AsyncGenerator<Buffer>,
    path: string,
    key: Buffer | undefined,
    expect: ReadExpectation,
    compressType: CompressType = compressTypeOfName(path),
  ): AsyncGenerator<Buffer> {
    const digest = new ContentDigest();
    const checkWhole = expect.checkWhole ?? true;
    if (checkWhole && expect.skipFrame !== undefined)
      throw new PgStashError('assert', `'${path}': frames skipped, yet its whole SHA-256 checked`);
    // A thread that blocks on its I/O copies many files: lz4 stays on it (see io/frame/lz4-decode.ts).
    const { onStored } = expect;
    const decoded = decodeStored(onStored === undefined ? source : tapped(source, onStored), {
      compressType,
      key,
      lz4OnPool: !this.#blocking,
      framesAhead: expect.framesAhead,
      skipFrame: expect.skipFrame,
      frameLength: frameLengthsOf(expect),
    });
    try {
      for await (const chunk of decoded) {
        if (checkWhole) digest.update(chunk);
        yield chunk;
      }
    } catch (error) {
      if (error instanceof EncryptedWithoutKeyError) throw this.#stanzaErrorOf(error);
      if (isPgStashError(error, 'format')) {
        throw this.#corrupt(path, error.message, error);
      }
      // Which file failed to authenticate: the decryptor does not know its name.
      if (isPgStashError(error, 'crypto') && !error.message.includes(path)) {
        throw new PgStashError('crypto', `'${this.driver.location}/${path}': ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      if ('destroy' in source) source.destroy();
    }
    if (!checkWhole) return;
    const { size } = digest;
    const sha256 = digest.digest();
    if (sha256 !== expect.sha256 || (expect.size !== undefined && size !== expect.size)) {
      throw this.#corrupt(path, `checksum mismatch (expected ${expect.sha256}, got ${sha256}, size ${size})`);
    }
  }

  /**
   * putChunks into `dir` under a name that depends on what the chunks hold (`nameOf` the stored file's size and
   * SHA-256), known only once they are all read: written under a hidden pending name that no lookup matches
   * (`.<label>.<random>.pending`), then moved into place. Only where the driver moves atomically. A failure
   * removes the pending file, and so does a signal between the write and the move (storage/temp-files.ts).
   * `claim`, when given, runs between the write and the move and may refuse the content by throwing (archive-push
   * claims the WAL file name for the content's checksum there, repo/archive-claim.ts).
   */
  async putNamedByContent(
    chunks: AsyncIterable<Buffer>,
    target: {
      dir: string;
      label: string;
      nameOf: (stored: StoredFile) => string;
      claim?: (stored: StoredFile) => Promise<void>;
    },
    compress: CompressSettings,
    options: { release?: (chunk: Buffer) => void } = {},
  ): Promise<StoredFile> {
    const move = this.driver.capabilities.atomicMove ? this.driver.move?.bind(this.driver) : undefined;
    if (move === undefined)
      throw new PgStashError('assert', `${this.driver.location} cannot move files atomically`);
    const pending = `${target.dir}/.${target.label}.${randomBytes(6).toString('hex')}.pending`;
    const local = this.driver.localPath?.(pending);
    const untrack = local === undefined ? undefined : trackTempFile(local);
    try {
      const stored = await this.putChunks(chunks, pending, compress, options);
      await target.claim?.(stored);
      await move(pending, `${target.dir}/${target.nameOf(stored)}`);
      return stored;
    } catch (error) {
      await this.driver.remove(pending).catch(() => undefined);
      throw error;
    } finally {
      untrack?.();
    }
  }

  /** The checksum error (26) for a stored file whose content is not what was recorded. */
  #corrupt(path: string, reason: string, cause?: unknown): PgStashError {
    return new PgStashError('checksum', `'${this.driver.location}/${path}' is corrupt: ${reason}`, { cause });
  }
}

/** Names of the stanzas present in a repository (under its archive or backup directory), sorted. */
export async function listStanzas(options: RepoOptions): Promise<string[]> {
  const driver = await openStorage(options);
  const names = new Set<string>();
  for (const root of [repoLayout.archiveRoot(), repoLayout.backupRoot()]) {
    for await (const entry of driver.list(root)) if (entry.type === 'path') names.add(entry.name);
  }
  return [...names].sort();
}

/** A repository that could not even be opened (a posix path that cannot be looked at): its error stands in for it. */
export interface UnopenedRepository {
  readonly name: string;
  readonly error: PgStashError;
}

/**
 * Opens each repository on its own, in index order: one that fails to open is its error in its place, so the WAL
 * commands still store in or read from the others (archive-push, archive-get).
 */
export async function openEachRepository(
  repos: readonly RepoOptions[],
  stanza: string,
): Promise<(Repository | UnopenedRepository)[]> {
  return Promise.all(
    repos.map((options) =>
      Repository.open(options, stanza).catch((error: unknown): UnopenedRepository => {
        if (!isPgStashError(error)) throw error;
        return { name: `repo${options.index}`, error };
      }),
    ),
  );
}

/** `opened` when it is repository `options` (open already: its key is not looked up again), else that one opened. */
export function openReusing(options: RepoOptions, stanza: string, opened?: Repository): Promise<Repository> {
  return opened?.options.index === options.index ? Promise.resolve(opened) : Repository.open(options, stanza);
}

/** Opens every configured repository for the stanza, in index order; `opened` stands for its own (openReusing). */
export async function openRepositories(
  repos: readonly RepoOptions[],
  stanza: string,
  opened?: Repository,
): Promise<Repository[]> {
  return Promise.all(repos.map((options) => openReusing(options, stanza, opened)));
}

/** `source`'s pieces, each shown to `onStored` on its way. */
async function* tapped(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  onStored: (piece: Buffer) => void,
): AsyncGenerator<Buffer> {
  for await (const piece of source) {
    onStored(piece);
    yield piece;
  }
}

/** Each frame's original length from ReadExpectation.frameSize and size, when both are known. */
function frameLengthsOf(expect: ReadExpectation): ((index: number) => number | undefined) | undefined {
  const { frameSize, size } = expect;
  if (frameSize === undefined || size === undefined || frameSize <= 0) return undefined;
  return (index) => {
    const left = size - index * frameSize;
    // Past the end: no length known (the data is longer than recorded, and fails its checks elsewhere).
    return left > 0 ? Math.min(frameSize, left) : undefined;
  };
}
