// What every command receives from the CLI: the resolved configuration, where to print, and a cancel signal.
import type { LoadedConfig } from '../config/load.js';

export interface CommandContext {
  readonly config: LoadedConfig;
  /** Writes command output (not log lines) to standard output. */
  readonly out: (text: string) => void;
  /** Aborted on SIGTERM/SIGINT for commands that clean up after themselves (backup, restore). */
  readonly signal: AbortSignal;
  /** How to run this same pgstash again (node binary and script), for restore_command. */
  readonly executable: readonly string[];
}

/** A command resolves to its exit code (0 on success); failures throw PgStashError. */
export type Command = (context: CommandContext) => Promise<number>;

/** Throws term (63) once the command has been asked to stop, so the caller's cleanup runs. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}
