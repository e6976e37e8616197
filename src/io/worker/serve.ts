// The worker-thread side of a WorkerPool: answers each job message with its result or its error.
import { parentPort } from 'node:worker_threads';
import { errorToWire, type JobReply, type JobRequest } from './protocol.js';

/** Serves jobs with `handle`, one at a time as the pool sends them, until the pool stops this worker. */
export function serveJobs<Job, Result>(handle: (job: Job) => Promise<Result>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveJobs runs only in a worker thread');
  port.on('message', (request: JobRequest<Job>) => {
    handle(request.job).then(
      (result) => {
        const reply: JobReply<Result> = { id: request.id, ok: true, result };
        port.postMessage(reply);
      },
      (error: unknown) => {
        const reply: JobReply<Result> = { id: request.id, ok: false, error: errorToWire(error) };
        port.postMessage(reply);
      },
    );
  });
}
