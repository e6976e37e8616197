// Messages between a WorkerPool and its worker threads, and how an error crosses the thread boundary.
import { ERROR_CODES, PgStashError, type ErrorKind } from '../../common/errors.js';

export interface JobRequest<Job> {
  readonly id: number;
  readonly job: Job;
}

/** A thrown value as structured-clone data: PgStashError keeps its kind and hint, a system error its errno code. */
export interface WireError {
  readonly message: string;
  readonly kind?: ErrorKind;
  readonly hint?: string;
  readonly code?: string;
  readonly stack?: string;
}

export type JobReply<Result> =
  | { readonly id: number; readonly ok: true; readonly result: Result }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

export function errorToWire(error: unknown): WireError {
  if (error instanceof PgStashError) {
    return {
      message: error.message,
      kind: error.kind,
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    };
  }
  return { message: String(error) };
}

/** The error a worker threw, rebuilt on this side of the boundary. */
export function errorFromWire(wire: WireError): Error {
  if (wire.kind !== undefined && wire.kind in ERROR_CODES) {
    return new PgStashError(
      wire.kind,
      wire.message,
      wire.hint === undefined ? undefined : { hint: wire.hint },
    );
  }
  const error = new Error(wire.message) as Error & { code?: string };
  if (wire.code !== undefined) error.code = wire.code;
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}
