// A fixed set of worker threads running one job module: jobs wait for an idle worker, results come back as promises.
//
// Why threads: a backup or restore spends its CPU in JavaScript and in synchronous native calls (SHA-256, page
// checksums, stream bookkeeping) that all run on one thread; process-max workers spread that over the cores.
import { Worker } from 'node:worker_threads';
import { PgStashError } from '../../common/errors.js';
import { errorFromWire, type JobReply, type JobRequest } from './protocol.js';

interface Queued<Job> {
  readonly job: Job;
  /** Only this worker may take the job (see `runOnEach`). */
  readonly slot: number | undefined;
  /** The job has its worker to itself (see `run`). */
  readonly exclusive: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Slot<Job> {
  readonly index: number;
  readonly worker: Worker;
  /** Jobs sent to this worker and not yet answered, by id. */
  readonly running: Map<number, Queued<Job>>;
}

/** A job running alone on its worker. */
function hasExclusive<Job>(slot: Slot<Job>): boolean {
  for (const queued of slot.running.values()) if (queued.exclusive) return true;
  return false;
}

export interface WorkerPoolOptions {
  /** Number of worker threads. */
  readonly size: number;
  /**
   * Jobs one worker runs at once (default 1). More than one keeps a worker busy while its other jobs wait for
   * the disk or for libuv's thread pool, which matters when jobs are many and small (a data directory's files).
   */
  readonly jobsPerWorker?: number;
  /** Given to every worker as `workerData` (structured clone). */
  readonly workerData: unknown;
  /** Aborting fails every queued and running job with the signal's reason and stops the workers at once. */
  readonly signal?: AbortSignal;
}

export class WorkerPool<Job, Result> {
  readonly #slots: Slot<Job>[] = [];
  readonly #queue: Queued<Job>[] = [];
  readonly #jobsPerWorker: number;
  #nextId = 0;
  /** Set once the pool cannot go on (a worker died, abort, close): every later run fails with it. */
  #failure: unknown;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => {
    this.#fail(this.#signal?.reason ?? new PgStashError('term', 'terminated'));
    void this.close();
  };

  constructor(script: URL, options: WorkerPoolOptions) {
    const size = Math.max(1, options.size);
    this.#jobsPerWorker = Math.max(1, options.jobsPerWorker ?? 1);
    for (let index = 0; index < size; index++) {
      const worker = new Worker(script, { workerData: options.workerData });
      const slot: Slot<Job> = { index, worker, running: new Map() };
      worker.on('message', (reply: JobReply<Result>) => this.#settle(slot, reply));
      worker.on('error', (error) => this.#fail(error));
      worker.on('exit', (code) => {
        if (this.#failure === undefined) {
          this.#fail(
            new PgStashError('assert', `worker thread ${index + 1} exited unexpectedly (code ${code})`),
          );
        }
      });
      this.#slots.push(slot);
    }
    this.#signal = options.signal;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (this.#signal?.aborted === true) this.#onAbort();
  }

  /** Number of worker threads. */
  get size(): number {
    return this.#slots.length;
  }

  /** Jobs that can run at once: workers × jobs per worker. */
  get capacity(): number {
    return this.#slots.length * this.#jobsPerWorker;
  }

  /**
   * How many jobs a caller keeps submitted so that no worker waits for its next one: what the workers run at
   * once, plus one queued per worker.
   */
  get submitAhead(): number {
    return this.capacity + this.#slots.length;
  }

  /**
   * Runs `job` on the next worker with room for it. An `exclusive` job waits for an idle worker and has it to
   * itself (a large file that keeps a thread busy alone); jobs queued after it wait until it has started, so a
   * stream of small jobs cannot keep every worker from ever being idle.
   */
  run(job: Job, options: { exclusive?: boolean } = {}): Promise<Result> {
    return this.#enqueue(job, undefined, options.exclusive ?? false);
  }

  /**
   * Runs `job` once on every worker (for state each one holds, such as files it wrote but has not synced), at
   * once, whatever else the worker runs or the queue holds.
   */
  runOnEach(job: Job): Promise<Result[]> {
    return Promise.all(this.#slots.map((slot) => this.#enqueue(job, slot.index, false)));
  }

  /** Stops every worker; jobs still queued or running fail. Safe to call more than once. */
  async close(): Promise<void> {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#fail(new PgStashError('assert', 'worker pool closed'));
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }

  #enqueue(job: Job, slot: number | undefined, exclusive: boolean): Promise<Result> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise<Result>((resolve, reject) => {
      this.#queue.push({ job, slot, exclusive, resolve: resolve as (value: unknown) => void, reject });
      this.#dispatch();
    });
  }

  /**
   * Sends queued jobs, in order, to workers with room: a pinned job to its worker, an exclusive one to an idle
   * worker, others to the least busy worker not running an exclusive job. Nothing after a waiting exclusive job
   * is sent (but pinned jobs).
   */
  #dispatch(): void {
    let exclusiveWaits = false;
    for (let position = 0; position < this.#queue.length;) {
      const queued = this.#queue[position] as Queued<Job>;
      const slot = this.#slotFor(queued, exclusiveWaits);
      if (slot === undefined) {
        if (queued.exclusive) exclusiveWaits = true;
        position++;
        continue;
      }
      this.#queue.splice(position, 1);
      const id = this.#nextId++;
      slot.running.set(id, queued);
      const request: JobRequest<Job> = { id, job: queued.job };
      slot.worker.postMessage(request);
    }
  }

  #slotFor(queued: Queued<Job>, exclusiveWaits: boolean): Slot<Job> | undefined {
    if (queued.slot !== undefined) {
      const pinned = this.#slots[queued.slot];
      // At once, beside the worker's other jobs: such a job (a flush) is short and must not wait behind a queue
      // of copies (a backup records its progress while it copies).
      return pinned;
    }
    if (exclusiveWaits) return undefined;
    if (queued.exclusive) return this.#slots.find((slot) => slot.running.size === 0);
    let best: Slot<Job> | undefined;
    for (const slot of this.#slots) {
      if (slot.running.size >= this.#jobsPerWorker || hasExclusive(slot)) continue;
      if (best === undefined || slot.running.size < best.running.size) best = slot;
    }
    return best;
  }

  #settle(slot: Slot<Job>, reply: JobReply<Result>): void {
    const running = slot.running.get(reply.id);
    if (running === undefined) return;
    slot.running.delete(reply.id);
    if (reply.ok) running.resolve(reply.result);
    else running.reject(errorFromWire(reply.error));
    if (this.#failure === undefined) this.#dispatch();
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    for (const slot of this.#slots) {
      for (const running of slot.running.values()) running.reject(error);
      slot.running.clear();
    }
    for (const queued of this.#queue.splice(0)) queued.reject(error);
  }
}
