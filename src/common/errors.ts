// Typed errors whose codes are the process exit codes (pgBackRest's numbers where one exists).

/** The one table of error kinds and their exit codes; docs/errors.md is generated from it. */
export const ERROR_CODES = {
  assert: { code: 25, description: 'an internal assertion failed (a bug: please report it)' },
  checksum: { code: 26, description: 'a checksum or size did not match what was recorded' },
  config: { code: 27, description: 'the configuration file is invalid or unreadable' },
  fileInvalid: { code: 28, description: 'a file has invalid content' },
  format: { code: 29, description: 'a repository file has an unexpected format' },
  commandRequired: { code: 30, description: 'no command was given' },
  optionInvalid: { code: 31, description: 'an unknown option, or an option not valid for this command' },
  optionInvalidValue: { code: 32, description: 'an option has an invalid value' },
  optionRequired: { code: 37, description: 'a required option is missing' },
  pgRunning: { code: 38, description: 'PostgreSQL is running where it must be stopped' },
  pathNotEmpty: { code: 40, description: 'a directory that must be empty is not' },
  fileOpen: { code: 41, description: 'a file could not be opened' },
  fileRead: { code: 42, description: 'a file could not be read' },
  paramRequired: { code: 43, description: 'a required command parameter is missing' },
  archiveMismatch: { code: 44, description: 'WAL or cluster does not match the stanza' },
  archiveDuplicate: {
    code: 45,
    description:
      'a WAL file is already archived with different content, or archived twice with different contents',
  },
  versionNotSupported: { code: 46, description: 'the PostgreSQL version is not supported' },
  pathCreate: { code: 47, description: 'a directory could not be created' },
  commandInvalid: { code: 48, description: 'an unknown command' },
  lockAcquire: { code: 50, description: 'another pgstash process holds the lock' },
  backupMismatch: { code: 51, description: 'a backup does not match the stanza' },
  fileMissing: { code: 55, description: 'a required file is missing' },
  dbConnect: { code: 56, description: 'could not connect to PostgreSQL' },
  dbQuery: { code: 57, description: 'a query to PostgreSQL failed' },
  dbMismatch: { code: 58, description: 'the database does not match the stanza or the data directory' },
  term: { code: 63, description: 'the command was terminated by a signal' },
  fileWrite: { code: 64, description: 'a file could not be written' },
  featureNotSupported: { code: 67, description: 'the feature is not supported' },
  archiveCommandInvalid: { code: 68, description: 'archive_command does not call pgstash' },
  linkDestination: { code: 70, description: 'a link destination is invalid' },
  pathMissing: { code: 73, description: 'a required directory is missing' },
  backupSetInvalid: { code: 75, description: 'the requested backup set does not exist or cannot be used' },
  tablespaceMap: { code: 76, description: 'an invalid tablespace map' },
  archiveTimeout: { code: 82, description: 'WAL did not reach the archive in time' },
  archiveDisabled: { code: 87, description: 'archiving is disabled on the server' },
  clock: {
    code: 106,
    description: 'a new backup label is not later than the latest: time zone change or clock skew',
  },
  fileExists: { code: 93, description: 'a file exists where none is expected' },
  crypto: { code: 95, description: 'decryption failed: wrong passphrase, or corrupt data' },
  paramInvalid: { code: 96, description: 'an invalid parameter' },
  service: { code: 101, description: 'a storage service failed' },
  repoInvalid: { code: 103, description: 'no valid repository was found' },
  access: { code: 105, description: 'access denied' },
  drillStart: { code: 111, description: 'drill: the restored server could not start' },
  drillRecovery: {
    code: 112,
    description:
      'drill: the restored server did not recover to its target and promote (missing WAL, timeout)',
  },
  drillCheck: {
    code: 113,
    description: 'drill: a check on the restored server failed (pg_amcheck, drill-query)',
  },
  verifyFailed: {
    code: 114,
    description: 'verify found a damaged or missing repository file, or WAL a backup needs missing',
  },
  runtime: { code: 122, description: 'an unexpected runtime error' },
  unhandled: { code: 124, description: 'an unhandled error (a bug: please report it)' },
} as const;

export type ErrorKind = keyof typeof ERROR_CODES;

/**
 * A pgstash error: what failed, the value in quotes, and optionally what to do next.
 * `kind` selects the exit code; a user error never prints a stack trace.
 */
export class PgStashError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  /** The failure may pass on its own (a storage service throttling or down): trying again later may work. */
  readonly temporary: boolean;

  constructor(
    kind: ErrorKind,
    message: string,
    options?: { hint?: string; cause?: unknown; temporary?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgStashError';
    this.kind = kind;
    this.hint = options?.hint;
    this.temporary = options?.temporary ?? false;
  }

  get code(): number {
    return ERROR_CODES[this.kind].code;
  }
}

/** Shorthand constructor: `fail('fileMissing', "unable to open '/x'")`. */
export function fail(kind: ErrorKind, message: string, options?: { hint?: string; cause?: unknown }): never {
  throw new PgStashError(kind, message, options);
}

export function isPgStashError(error: unknown, kind?: ErrorKind): error is PgStashError {
  return error instanceof PgStashError && (kind === undefined || error.kind === kind);
}

/** The message of any thrown value, for wrapping system errors in a PgStashError. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The errno code of a Node system error (`ENOENT`, ...), or undefined. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A system error as a PgStashError of `kind`: "<message>: <reason>". A PgStashError that a deeper call already
 * raised passes through unchanged, so an error is wrapped once.
 */
export function wrapError(kind: ErrorKind, message: string, error: unknown): PgStashError {
  if (error instanceof PgStashError) return error;
  return new PgStashError(kind, `${message}: ${reasonOf(error)}`, { cause: error });
}

/** The libuv description of a system error ('permission denied'), or the whole message for other errors. */
export function reasonOf(error: unknown): string {
  const message = messageOf(error);
  return /^E[A-Z0-9]+: ([^,]+)/.exec(message)?.[1] ?? message;
}
