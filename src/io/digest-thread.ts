// A large file's SHA-256 on a thread of its own, fed through a ring of shared memory: the thread that reads,
// decodes and writes the file no longer spends a third of its time hashing it.
//
// Why: a backup or restore gives each large file to one worker thread, and that file is the critical path (the
// pgbench table is 640 of 770 MB). Profiled on a backup with process-max 2, the table's worker spent 0.48 of its
// 1.26 s in SHA-256, and a restore's 0.39 of 1.03 s (docs/architecture.md, "Parallel copy"). SHA-256 cannot be
// split, but it can run beside the rest. The chunks are copied into the ring (a memmove of warm memory, a tenth of
// the hashing) rather than shared, because the chunk loop refills its buffers as soon as it is through with them.
import { Worker } from 'node:worker_threads';
import { PgStashError } from '../common/errors.js';
import { ContentDigest, type FileDigest } from './stage.js';

/** Files of this size or more are hashed on a digest thread: below it, starting and feeding one costs more. */
export const OFF_THREAD_DIGEST_BYTES = 64 * 1024 * 1024;

/** Slots of the ring, each holding up to SLOT_BYTES of a chunk: 8 MiB per digest thread. */
const SLOTS = 8;
const SLOT_BYTES = 1024 * 1024;
// The control words at the head of the shared memory (Int32Array indexes).
/** Slots written by the producer (a count; the slot is count % SLOTS). */
const WRITTEN = 0;
/** Slots hashed by the digest thread. */
const READ = 1;
/** OPEN while chunks may come, then CLOSED (take the digest) or ABANDONED (stop, no digest). */
const STATE = 2;
/** Bumped by the producer after each change of WRITTEN or STATE: what the digest thread sleeps on. */
const SIGNAL = 3;
const LENGTHS = 4;
const CONTROL_BYTES = (LENGTHS + SLOTS) * 4;
const OPEN = 0;
const CLOSED = 1;
const ABANDONED = 2;
/** How long the producer waits for a free slot before it declares the digest thread gone. */
const STALL_MS = 60_000;

/**
 * The digest thread's code, run with `eval` (CommonJS, built-ins only): it needs nothing of pgstash, and as a
 * string it runs alike from the sources, the compiled files and the bundle. For each 'start' message it hashes
 * the ring until the producer closes it, then answers with the digest (or with nothing, when abandoned).
 */
const DIGEST_THREAD_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { shared, slots, slotBytes, controlBytes } = workerData;
const control = new Int32Array(shared, 0, ${LENGTHS} + slots);
const ring = Buffer.from(shared, controlBytes, slots * slotBytes);
parentPort.on('message', () => {
  const hash = createHash('sha256');
  let read = 0;
  let size = 0;
  for (;;) {
    const seen = Atomics.load(control, ${SIGNAL});
    if (read !== Atomics.load(control, ${WRITTEN})) {
      const slot = read % slots;
      const length = control[${LENGTHS} + slot];
      hash.update(ring.subarray(slot * slotBytes, slot * slotBytes + length));
      size += length;
      read++;
      Atomics.store(control, ${READ}, read);
      Atomics.notify(control, ${READ});
      continue;
    }
    const state = Atomics.load(control, ${STATE});
    if (state === ${CLOSED}) return parentPort.postMessage({ sha256: hash.digest('hex'), size });
    if (state === ${ABANDONED}) return parentPort.postMessage({});
    // Wakes when the producer bumps SIGNAL after this snapshot was taken, or at once if it did already.
    Atomics.wait(control, ${SIGNAL}, seen, 1000);
  }
});
`;

interface DigestReply {
  readonly sha256?: string;
  readonly size?: number;
}

/** One digest thread and its ring, reused by the digests of one thread (a worker's files, one after another). */
class DigestThread {
  readonly #worker: Worker;
  readonly control: Int32Array;
  readonly ring: Buffer;
  #replies: ((reply: DigestReply) => void)[] = [];
  #failure: Error | undefined;

  constructor() {
    const shared = new SharedArrayBuffer(CONTROL_BYTES + SLOTS * SLOT_BYTES);
    this.control = new Int32Array(shared, 0, LENGTHS + SLOTS);
    this.ring = Buffer.from(shared, CONTROL_BYTES, SLOTS * SLOT_BYTES);
    this.#worker = new Worker(DIGEST_THREAD_CODE, {
      eval: true,
      workerData: { shared, slots: SLOTS, slotBytes: SLOT_BYTES, controlBytes: CONTROL_BYTES },
    });
    this.#worker.on('message', (reply: DigestReply) => this.#replies.shift()?.(reply));
    const stopped = (error: Error): void => {
      this.#failure ??= error;
      // A digest waiting for this thread's answer would wait forever.
      for (const settle of this.#replies.splice(0)) settle({});
    };
    this.#worker.on('error', stopped);
    this.#worker.on('exit', (code) => stopped(new Error(`digest thread exited (code ${code})`)));
    this.#worker.unref();
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Starts hashing a new file: the ring is empty and the thread idle (it answered the last job). */
  start(): Promise<DigestReply> {
    Atomics.store(this.control, WRITTEN, 0);
    Atomics.store(this.control, READ, 0);
    Atomics.store(this.control, STATE, OPEN);
    // Keeps the process alive while its answer is awaited; an idle thread does not.
    this.#worker.ref();
    const reply = new Promise<DigestReply>((resolve) => this.#replies.push(resolve));
    this.#worker.postMessage('start');
    return reply.finally(() => this.#worker.unref());
  }

  /** Tells the thread what changed (WRITTEN or STATE). */
  signal(): void {
    Atomics.add(this.control, SIGNAL, 1);
    Atomics.notify(this.control, SIGNAL);
  }
}

/** Digest threads of this thread not hashing a file now. */
const idle: DigestThread[] = [];

/**
 * The SHA-256 and size of a file's bytes, computed on a digest thread (see the file header). `update` copies the
 * chunk into the ring and returns; it blocks only while the ring is full (the thread is behind). `digest()`
 * resolves once the thread has hashed the last chunk. A digest not taken must be `abandon`ed: the thread is
 * freed for the next file.
 */
export class OffThreadDigest implements FileDigest {
  readonly #thread: DigestThread;
  readonly #reply: Promise<DigestReply>;
  #written = 0;
  #size = 0;
  #finished = false;

  constructor() {
    this.#thread = idle.pop() ?? new DigestThread();
    this.#reply = this.#thread.start();
    // The thread goes back to the idle list once it answered, whether the digest was taken or abandoned.
    void this.#reply.then(() => {
      if (this.#thread.failure === undefined) idle.push(this.#thread);
    });
  }

  update(chunk: Buffer): void {
    if (this.#finished) throw new PgStashError('assert', 'content digest: data after the digest was taken');
    const { control, ring } = this.#thread;
    for (let offset = 0; offset < chunk.length;) {
      this.#waitForSlot();
      const slot = this.#written % SLOTS;
      const length = Math.min(SLOT_BYTES, chunk.length - offset);
      chunk.copy(ring, slot * SLOT_BYTES, offset, offset + length);
      control[LENGTHS + slot] = length;
      offset += length;
      this.#written++;
      Atomics.store(control, WRITTEN, this.#written);
      this.#thread.signal();
    }
    this.#size += chunk.length;
  }

  get size(): number {
    return this.#size;
  }

  /** The hex SHA-256 of everything seen; after the last chunk. */
  async digest(): Promise<string> {
    this.#finish(CLOSED);
    const reply = await this.#reply;
    if (reply.sha256 === undefined || reply.size !== this.#size) {
      throw new PgStashError(
        'assert',
        `digest thread failed: ${this.#thread.failure?.message ?? 'no digest in its answer'}`,
      );
    }
    return reply.sha256;
  }

  /** Stops hashing (the file failed or was left unread); the digest is not taken. Safe to call again. */
  abandon(): void {
    this.#finish(ABANDONED);
  }

  #finish(state: typeof CLOSED | typeof ABANDONED): void {
    if (this.#finished) return;
    this.#finished = true;
    Atomics.store(this.#thread.control, STATE, state);
    this.#thread.signal();
  }

  /** Blocks until the ring has a free slot: the thread hashes while this one waits. */
  #waitForSlot(): void {
    const { control } = this.#thread;
    let stalledSince: number | undefined;
    for (;;) {
      const read = Atomics.load(control, READ);
      if (this.#written - read < SLOTS) return;
      if (this.#thread.failure !== undefined) throw this.#thread.failure;
      if (Atomics.wait(control, READ, read, 1000) === 'timed-out') {
        stalledSince ??= Date.now();
        if (Date.now() - stalledSince > STALL_MS) {
          throw new PgStashError('assert', `digest thread made no progress for ${STALL_MS / 1000} s`);
        }
      } else {
        stalledSince = undefined;
      }
    }
  }
}

/** The digest for a file of `size` bytes (when known): on a digest thread from OFF_THREAD_DIGEST_BYTES on. */
export function contentDigestFor(size: number | undefined): FileDigest {
  return size !== undefined && size >= OFF_THREAD_DIGEST_BYTES ? new OffThreadDigest() : new ContentDigest();
}
