// THE option and command table (data only): parsing, validation, help and docs/reference.md all derive from it.

/** Every command, in the order help and the docs list them. */
export const COMMAND_NAMES = [
  'annotate',
  'archive-get',
  'archive-push',
  'backup',
  'check',
  'drill',
  'expire',
  'help',
  'info',
  'restore',
  'stanza-create',
  'verify',
  'version',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface CommandArgDef {
  readonly name: string;
  readonly description: string;
  /** Optional arguments may be left off; required ones may not. */
  readonly optional?: boolean;
}

export interface CommandDef {
  readonly name: CommandName;
  /** One line, shown in `pgstash help` and the reference. */
  readonly summary: string;
  /** Positional arguments after the command name, in order. */
  readonly args: readonly CommandArgDef[];
  /** The command works on a repository: at least one repoN-path must be configured. */
  readonly repo: boolean;
  /** Configuration is read from the file and environment (help and version read only the command line). */
  readonly readsConfig: boolean;
  /** Listed, but not implemented yet: help and the reference say "not yet available", and running it answers 67. */
  readonly notYetAvailable?: boolean;
}

export const COMMANDS: readonly CommandDef[] = [
  {
    name: 'annotate',
    summary: 'Add, change or remove the annotations of a backup, or pin and unpin it.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'archive-get',
    summary: 'Get a WAL segment from the archive (for restore_command).',
    args: [
      { name: 'wal-segment', description: 'name of the WAL segment or history file to get (%f)' },
      { name: 'destination', description: 'where to write it (%p), relative to the data directory' },
    ],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'archive-push',
    summary: 'Push a WAL segment to the archive (for archive_command).',
    args: [{ name: 'wal-path', description: 'path of the WAL segment to push (%p)' }],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'backup',
    summary: 'Back up a database cluster.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'check',
    summary: 'Check the configuration: the repository is reachable and WAL archiving works.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'drill',
    summary:
      'Prove a backup restores: restore it into a scratch directory, recover, promote, run checks, remove it.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'expire',
    summary: 'Remove backups and WAL that the retention policy no longer keeps.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'help',
    summary: 'Show help for a command or an option.',
    args: [
      { name: 'command', description: 'command to show help for', optional: true },
      { name: 'option', description: 'option of that command to show help for', optional: true },
    ],
    repo: false,
    readsConfig: false,
  },
  {
    name: 'info',
    summary: 'Show the backups and archived WAL of one stanza, or of all stanzas.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'restore',
    summary: 'Restore a database cluster from a backup.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'stanza-create',
    summary: 'Create the repository files for a stanza.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'verify',
    summary:
      'Read every backup file and WAL segment back and check WAL continuity, without restoring: report, exit non-zero if anything is wrong.',
    args: [],
    repo: true,
    readsConfig: true,
  },
  {
    name: 'version',
    summary: 'Show the pgstash version.',
    args: [],
    repo: false,
    readsConfig: false,
  },
];

export type OptionType =
  'boolean' | 'string' | 'integer' | 'time' | 'size' | 'enum' | 'list' | 'hash' | 'path';

/**
 * Where an option may be set in the config file: `global` options in any section, `stanza` options only in
 * stanza sections (`[main]`, `[main:backup]`), `command-line` options only on the command line or in the environment.
 */
export type OptionSection = 'global' | 'stanza' | 'command-line';

/** Groups for help output and the reference. */
export type OptionCategory =
  'general' | 'log' | 'repository' | 'stanza' | 'archive' | 'backup' | 'restore' | 'info' | 'drill';

export const CATEGORY_TITLES: Readonly<Record<OptionCategory, string>> = {
  general: 'General Options',
  log: 'Log Options',
  repository: 'Repository Options',
  stanza: 'Stanza Options',
  archive: 'Archive Options',
  backup: 'Backup Options',
  restore: 'Restore Options',
  info: 'Info Options',
  drill: 'Drill Options',
};

/** Indexed option groups: an entry `repo-path` with `indexed: 'repo'` becomes repo1-path .. repo4-path. */
export const INDEX_GROUPS = {
  pg: { prefix: 'pg', max: 1 },
  repo: { prefix: 'repo', max: 4 },
} as const;
export type IndexGroup = keyof typeof INDEX_GROUPS;

/** A default as written in the table: strings are parsed like user input (`'1MiB'`), the rest used as is. */
export type DefaultValue = string | number | boolean;

export interface NumericRange {
  readonly min: number;
  readonly max: number;
}

export interface OptionDef {
  /** Name without index: `repo-path` stands for repo1-path .. repo4-path when `indexed` is set. */
  readonly name: string;
  readonly type: OptionType;
  readonly section: OptionSection;
  readonly category: OptionCategory;
  readonly indexed?: IndexGroup;
  /** Commands the option is valid for; elsewhere it is refused on the command line and ignored otherwise. */
  readonly commands: readonly CommandName[];
  /** Commands for which a value is required (when the option's `depend` is met). */
  readonly required?: readonly CommandName[];
  readonly default?: DefaultValue;
  /** Defaults that differ by command (override `default`). */
  readonly commandDefault?: Partial<Record<CommandName, DefaultValue>>;
  /** Allowed values of an enum. */
  readonly allowed?: readonly string[];
  /** Allowed values that differ by command (override `allowed`). */
  readonly commandAllowed?: Partial<Record<CommandName, readonly string[]>>;
  /** Inclusive range of an integer, time (seconds) or size (bytes). */
  readonly range?: NumericRange;
  /** Default and range chosen by the value of another option (of the same index), e.g. compress-level by type. */
  readonly byValueOf?: {
    readonly option: string;
    readonly default: Readonly<Record<string, number>>;
    readonly range: Readonly<Record<string, NumericRange>>;
  };
  /** The option only applies when another option (of the same index) has one of these values. */
  readonly depend?: { readonly option: string; readonly values: readonly string[] };
  /** Extra check on string values; `description` says what is expected. */
  readonly pattern?: { readonly regex: RegExp; readonly description: string };
  /** For hash options: each value must be an absolute path. */
  readonly hashValue?: 'path';
  /** Never logged, and refused on the command line (where any user could read it in the process list). */
  readonly secure?: boolean;
  /** One line. */
  readonly summary: string;
  /** Longer help, shown by `pgstash help <command> <option>` and in the reference. */
  readonly description?: string;
  /**
   * The commands on which the option has an effect today, when not all of `commands`: for the others it is accepted
   * and does nothing yet. Help and the reference say "not yet available" there, and setting it for such a command
   * warns (config/no-effect.ts). `[]`: no effect anywhere yet.
   */
  readonly effectiveFor?: readonly CommandName[];
  /** Allowed values that are listed but not yet available, by command (the command refuses them with 67). */
  readonly valuesNotYetAvailable?: Partial<Record<CommandName, readonly string[]>>;
}

const REPO_COMMANDS = [
  'annotate',
  'archive-get',
  'archive-push',
  'backup',
  'check',
  'expire',
  'info',
  'restore',
  'stanza-create',
  'drill',
  'verify',
] as const satisfies readonly CommandName[];
const ALL_COMMANDS = COMMAND_NAMES;
const PG_COMMANDS = [
  'archive-get',
  'archive-push',
  'backup',
  'check',
  'restore',
  'stanza-create',
  'drill',
] as const satisfies readonly CommandName[];
const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'detail', 'debug', 'trace'] as const;
const RESTORE_TARGET_TYPES = ['time', 'lsn', 'xid', 'name'] as const;

/**
 * The option table. An option another option depends on (`depend`, `byValueOf`) comes before it: values are
 * resolved in this order. Kept literal (`as const`): the types of option values derive from it (option-types.ts).
 */
/** How the calendar retention options (repo-retention-daily, -weekly, -monthly, -yearly) count and combine. */
const CALENDAR_RETENTION =
  'The current period counts, and so do periods without a backup. A full kept by any calendar rule, or by ' +
  'repo-retention-full, stays: the rules add up. In repo-retention-time-zone (UTC by default).';

const OPTION_TABLE = [
  // General
  {
    name: 'config',
    type: 'path',
    section: 'command-line',
    category: 'general',
    commands: ALL_COMMANDS,
    default: '/etc/pgstash/pgstash.conf',
    summary: 'Path of the configuration file.',
    description:
      'A missing file is fine when it is the default; a file given with --config or PGSTASH_CONFIG must exist.',
  },
  {
    name: 'stanza',
    type: 'string',
    section: 'command-line',
    category: 'general',
    commands: REPO_COMMANDS,
    required: [
      'annotate',
      'archive-get',
      'archive-push',
      'backup',
      'check',
      'expire',
      'restore',
      'stanza-create',
      'drill',
      'verify',
    ],
    pattern: {
      regex: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
      description: 'letters, digits, _, . and -, not starting with . or -',
    },
    summary: 'Name of the stanza: one PostgreSQL cluster and its backups.',
    description:
      'The stanza names the [<stanza>] section of the config file and the directories of the cluster in every ' +
      'repository. info without a stanza shows every stanza in the repository.',
  },
  {
    name: 'buffer-size',
    type: 'size',
    section: 'global',
    category: 'general',
    commands: REPO_COMMANDS,
    default: '1MiB',
    range: { min: 16 * 1024, max: 16 * 1024 * 1024 },
    summary: 'Size of the buffers used to copy files.',
    effectiveFor: [],
  },
  {
    name: 'compress-type',
    type: 'enum',
    section: 'global',
    category: 'general',
    commands: ['archive-push', 'backup'],
    allowed: ['none', 'gz', 'lz4', 'zst'],
    default: 'zst',
    summary: 'Compression of files stored in the repository.',
  },
  {
    name: 'compress-level',
    type: 'integer',
    section: 'global',
    category: 'general',
    commands: ['archive-push', 'backup'],
    byValueOf: {
      option: 'compress-type',
      default: { gz: 6, lz4: 1, zst: 3 },
      range: { gz: { min: 0, max: 9 }, lz4: { min: 0, max: 12 }, zst: { min: -7, max: 22 } },
    },
    summary: 'Compression level (the default depends on compress-type).',
    description: 'Defaults: gz 6, lz4 1, zst 3. Allowed: gz 0 to 9, lz4 0 to 12, zst -7 to 22.',
  },
  {
    name: 'lock-path',
    type: 'path',
    section: 'global',
    category: 'general',
    commands: REPO_COMMANDS,
    default: '/tmp/pgstash',
    summary: 'Directory for lock files.',
  },
  {
    name: 'process-max',
    type: 'integer',
    section: 'global',
    category: 'general',
    commands: ['archive-get', 'archive-push', 'backup', 'restore', 'drill', 'verify'],
    default: 1,
    range: { min: 1, max: 999 },
    summary: 'Maximum number of workers (threads) that copy and compress files in parallel.',
    description:
      'For archive-push and archive-get with archive-async=y: how many segments the background process pushes ' +
      'or fetches at once.',
  },
  // Log
  {
    name: 'log-level-console',
    type: 'enum',
    section: 'global',
    category: 'log',
    commands: ALL_COMMANDS,
    allowed: LOG_LEVELS,
    default: 'warn',
    summary: 'Level of log messages written to standard output.',
  },
  {
    name: 'log-level-file',
    type: 'enum',
    section: 'global',
    category: 'log',
    commands: ALL_COMMANDS,
    allowed: LOG_LEVELS,
    default: 'info',
    summary: 'Level of log messages written to the log file.',
  },
  {
    name: 'log-level-stderr',
    type: 'enum',
    section: 'global',
    category: 'log',
    commands: ALL_COMMANDS,
    allowed: LOG_LEVELS,
    default: 'off',
    summary: 'Level of log messages written to standard error.',
  },
  {
    name: 'log-path',
    type: 'path',
    section: 'global',
    category: 'log',
    commands: ALL_COMMANDS,
    default: '/var/log/pgstash',
    summary: 'Directory for log files.',
  },
  {
    name: 'progress-interval',
    type: 'time',
    section: 'global',
    category: 'log',
    commands: ['backup', 'restore', 'drill'],
    default: 10,
    range: { min: 1, max: 86400 },
    summary: 'Seconds between two progress lines in the log, and two progress records of a running backup.',
    description:
      'While backup and restore copy, an info-level line gives the percent of bytes done, the rate, the time left ' +
      'and the files done, at most once per interval (log-level-file, log-level-console). A backup also records ' +
      'these figures in its directory in the repository as often, which info shows. On a terminal (standard ' +
      'error) a live line shows them at once, every second; log-level-console=error or off hides it.',
  },
  // Repository
  {
    name: 'repo',
    type: 'integer',
    section: 'command-line',
    category: 'repository',
    commands: ['annotate', 'archive-get', 'backup', 'expire', 'info', 'restore', 'drill', 'verify'],
    range: { min: 1, max: INDEX_GROUPS.repo.max },
    summary: 'Use only this repository (its index) instead of all configured ones.',
  },
  {
    name: 'repo-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['posix', 's3', 'azure', 'gcs'],
    default: 'posix',
    summary: 'Type of storage of the repository.',
    description:
      'posix: a directory of a local or mounted filesystem. s3: a bucket of AWS S3 or of an S3-compatible ' +
      'store (repo-s3-* options); repo-path is then the prefix of the repository inside the bucket. azure: a ' +
      'container of Azure Blob Storage (repo-azure-* options); repo-path is the prefix inside the container. ' +
      'gcs: a Google Cloud Storage bucket (repo-gcs-* options), repo-path likewise the prefix inside it.',
  },
  {
    name: 'repo-path',
    type: 'path',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    summary: 'Path of the repository.',
    description:
      'A repository is configured when its path is set. Commands that use a repository need at least one.',
  },
  {
    name: 'repo-cipher-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['none', 'aes-256-gcm'],
    default: 'none',
    summary: 'Encryption of the repository.',
  },
  {
    name: 'repo-cipher-pass',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-cipher-type', values: ['aes-256-gcm'] },
    secure: true,
    summary: 'Passphrase of the repository encryption.',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment.',
  },
  {
    name: 'repo-s3-bucket',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3'] },
    summary: 'S3 bucket of the repository.',
  },
  {
    name: 'repo-s3-endpoint',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3'] },
    summary: "S3 endpoint: a host name, with ':port' if not repo-storage-port.",
    description: 'For AWS, s3.<region>.amazonaws.com. pgstash speaks only HTTPS to it.',
  },
  {
    name: 'repo-s3-region',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3'] },
    summary: 'S3 region of the bucket (as the service names it, e.g. us-east-1).',
  },
  {
    name: 'repo-s3-uri-style',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['host', 'path'],
    default: 'host',
    depend: { option: 'repo-type', values: ['s3'] },
    summary: 'How the bucket is addressed: in the host name (host) or in the path (path).',
    description:
      'host: https://<bucket>.<endpoint>/ (AWS, virtual-hosted style). path: https://<endpoint>/<bucket>/ (most ' +
      'S3-compatible stores, and endpoints given as an IP address).',
  },
  {
    name: 'repo-s3-key-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['shared', 'auto', 'web-id'],
    default: 'shared',
    depend: { option: 'repo-type', values: ['s3'] },
    summary: 'Where the S3 credentials come from.',
    description:
      'shared: repo-s3-key and repo-s3-key-secret (and repo-s3-token). auto: the AWS SDK credential chain ' +
      '(environment, shared config files, container role, instance metadata). web-id: a web identity token ' +
      '(Kubernetes IRSA: AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE in the environment).',
  },
  {
    name: 'repo-s3-key',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-s3-key-type', values: ['shared'] },
    secure: true,
    summary: 'S3 access key id.',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment. Never logged.',
  },
  {
    name: 'repo-s3-key-secret',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-s3-key-type', values: ['shared'] },
    secure: true,
    summary: 'S3 secret access key.',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment. Never logged.',
  },
  {
    name: 'repo-s3-token',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    depend: { option: 'repo-s3-key-type', values: ['shared'] },
    secure: true,
    summary: 'S3 session token (temporary credentials).',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment. Never logged.',
  },
  {
    name: 'repo-s3-kms-key-id',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3'] },
    summary: 'AWS KMS key that encrypts every object written (SSE-KMS).',
  },
  {
    name: 'repo-gcs-bucket',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['gcs'] },
    summary: 'GCS bucket of the repository.',
  },
  {
    name: 'repo-gcs-endpoint',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    default: 'storage.googleapis.com',
    depend: { option: 'repo-type', values: ['gcs'] },
    summary: "GCS endpoint: a host name (with ':port' if not repo-storage-port), or a URL.",
    description:
      'A host name is reached over HTTPS. A URL (https://host:port, or http://host:port for a local test ' +
      'server such as fake-gcs-server) is used as given.',
  },
  {
    name: 'repo-gcs-key-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['service', 'token', 'auto'],
    default: 'service',
    depend: { option: 'repo-type', values: ['gcs'] },
    summary: 'What repo-gcs-key is: a service account key file, an OAuth token, or none (auto).',
    description:
      'service: repo-gcs-key is the path of a service account JSON key file. token: repo-gcs-key is an OAuth ' +
      '2.0 access token. auto: the Google application default credentials (GOOGLE_APPLICATION_CREDENTIALS, ' +
      "gcloud's, or the instance's service account from the metadata server).",
  },
  {
    name: 'repo-gcs-key',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-gcs-key-type', values: ['service', 'token'] },
    secure: true,
    summary: 'GCS service account key file (key-type service) or OAuth token (key-type token).',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment. Never logged.',
  },
  {
    name: 'repo-azure-account',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['azure'] },
    summary: 'Azure storage account of the repository.',
  },
  {
    name: 'repo-azure-container',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['azure'] },
    summary: 'Azure Blob container of the repository.',
  },
  {
    name: 'repo-azure-endpoint',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    default: 'blob.core.windows.net',
    depend: { option: 'repo-type', values: ['azure'] },
    summary: "Azure Blob endpoint: a host name, with ':port' if not repo-storage-port.",
    description:
      'Another cloud (blob.core.usgovcloudapi.net, ...), a private endpoint or an emulator. pgstash speaks only ' +
      'HTTPS to it.',
  },
  {
    name: 'repo-azure-uri-style',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['host', 'path'],
    default: 'host',
    depend: { option: 'repo-type', values: ['azure'] },
    summary: 'How the account is addressed: in the host name (host) or in the path (path).',
    description:
      'host: https://<account>.<endpoint>/ (Azure). path: https://<endpoint>/<account>/ (emulators such as ' +
      'Azurite, and endpoints given as an IP address).',
  },
  {
    name: 'repo-azure-key-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    allowed: ['shared', 'sas', 'auto'],
    default: 'shared',
    depend: { option: 'repo-type', values: ['azure'] },
    summary: 'What repo-azure-key is.',
    description:
      "shared: the storage account's shared key (base64). sas: a shared access signature token (its query " +
      "string, with or without the leading '?'), which must allow read, add, create, write, delete and list on " +
      "the container. auto: the host's managed identity (as pgBackRest's auto: the instance metadata service, or " +
      'the IDENTITY_ENDPOINT of App Service and similar hosts; AZURE_CLIENT_ID picks a user-assigned identity), ' +
      'which needs a role allowing blob read, write and delete on the container (Storage Blob Data Contributor); ' +
      'no repo-azure-key.',
  },
  {
    name: 'repo-azure-key',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    required: REPO_COMMANDS,
    depend: { option: 'repo-azure-key-type', values: ['shared', 'sas'] },
    secure: true,
    summary: 'Azure shared key or shared access signature (see repo-azure-key-type).',
    description:
      'Not allowed on the command line: set it in the config file (readable only by its owner) or in the ' +
      'environment. Never logged.',
  },
  {
    name: 'repo-storage-port',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    default: 443,
    range: { min: 1, max: 65535 },
    depend: { option: 'repo-type', values: ['s3', 'azure', 'gcs'] },
    summary: 'Port of the storage service (object stores).',
  },
  {
    name: 'repo-storage-verify-tls',
    type: 'boolean',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    default: true,
    depend: { option: 'repo-type', values: ['s3', 'azure', 'gcs'] },
    summary: "Verify the storage service's TLS certificate (object stores).",
    description:
      'Turn off only for a test server: without verification anyone between pgstash and the service can read ' +
      'and change the repository.',
  },
  {
    name: 'repo-storage-ca-file',
    type: 'path',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3', 'azure', 'gcs'] },
    summary: "File of CA certificates (PEM) that the storage service's certificate is checked against.",
    description:
      "They replace the default trust (Node's bundled CAs); with repo-storage-ca-path, both are used.",
  },
  {
    name: 'repo-storage-ca-path',
    type: 'path',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    depend: { option: 'repo-type', values: ['s3', 'azure', 'gcs'] },
    summary:
      "Directory of CA certificates (PEM files) that the storage service's certificate is checked against.",
  },
  {
    name: 'repo-storage-upload-chunk-size',
    type: 'size',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: REPO_COMMANDS,
    default: '5MiB',
    range: { min: 5 * 1024 * 1024, max: 5 * 1024 * 1024 * 1024 },
    depend: { option: 'repo-type', values: ['s3', 'azure', 'gcs'] },
    summary:
      'Size of the parts of a multipart upload (S3), of the staged blocks (Azure) or of the chunks of a ' +
      'resumable upload (GCS) to an object store.',
    description:
      'A file larger than this is uploaded in parts of this size, up to 4 in flight at once: each file being ' +
      'written holds at most 5 parts in memory (the one filling and 4 uploading) plus the encrypted copies ' +
      'TLS makes of the parts being sent, 45 MiB at the default (measured). S3 allows parts of 5 MiB to 5 GiB ' +
      'and 10,000 parts per object, so this size also caps a file at 10,000 parts. Azure: blocks of this size ' +
      'staged, at most 4000 MiB each and 50,000 per blob. GCS: the chunks of a ' +
      'resumable upload (rounded down to a multiple of 256 KiB), one in flight while the next fills, so each ' +
      'file being written holds at most 2 chunks.',
  },
  {
    name: 'repo-retention-full',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Full backups to keep: a number, or days with repo-retention-full-type=time.',
    description:
      'expire (run after every backup too) removes older full backups with the backups that depend on them. ' +
      'Unset: nothing is expired, with a warning.',
  },
  {
    name: 'repo-retention-full-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    allowed: ['count', 'time'],
    default: 'count',
    summary: 'Whether repo-retention-full counts full backups (count) or days (time).',
    description:
      'time: full backups are kept so that the cluster can be recovered to any point of the last ' +
      'repo-retention-full days: the newest full that stopped before that window is kept too, older ones expire.',
  },
  {
    name: 'repo-retention-diff',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Differential backups to keep (full backups count as differential here, as in pgBackRest).',
    description: 'An expired differential takes the incremental backups that depend on it.',
  },
  {
    name: 'repo-retention-archive-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    allowed: ['full', 'diff', 'incr'],
    default: 'full',
    summary: 'Which backups repo-retention-archive counts: full; full and diff; or all.',
  },
  {
    name: 'repo-retention-archive',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Backups (of repo-retention-archive-type) whose WAL is kept for point-in-time recovery.',
    description:
      'Defaults to repo-retention-full (type full, count) or repo-retention-diff (type diff). WAL older than ' +
      'the oldest of these backups is removed, but for the WAL from start to stop of each older backup kept, ' +
      'which stays restorable to its end.',
  },
  {
    name: 'repo-retention-daily',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Keep the newest full backup of each of the last N days (calendar retention).',
    description: CALENDAR_RETENTION,
  },
  {
    name: 'repo-retention-weekly',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary:
      'Keep the newest full backup of each of the last N ISO weeks (Monday to Sunday) (calendar retention).',
    description: CALENDAR_RETENTION,
  },
  {
    name: 'repo-retention-monthly',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Keep the newest full backup of each of the last N months (calendar retention).',
    description: CALENDAR_RETENTION,
  },
  {
    name: 'repo-retention-yearly',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 1, max: 9999999 },
    summary: 'Keep the newest full backup of each of the last N years (calendar retention).',
    description: CALENDAR_RETENTION,
  },
  {
    name: 'repo-retention-time-zone',
    type: 'string',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    default: 'UTC',
    summary: "Time zone of the calendar retention's days, weeks, months and years (an IANA name).",
  },
  {
    name: 'repo-retention-history',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup', 'expire'],
    range: { min: 0, max: 9999999 },
    summary: 'Days of backup.history manifests to keep.',
    description:
      'Every backup writes a copy of its manifest to backup.history/<year>/ when it completes (compressed and ' +
      'encrypted as the backup). Unset, these copies are kept forever (pgBackRest: they serve to measure growth ' +
      'over time); set, expire removes those older than this many days, never those of backups still listed; 0 ' +
      'keeps only those of backups still listed. A diff or incr goes with its full (its label starts with it).',
  },
  {
    name: 'repo-block',
    type: 'boolean',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup'],
    default: false,
    summary: 'Block incremental: store only the changed blocks of a large file.',
    description:
      'A diff or incr stores of a changed file of 1 MiB or more only the blocks (8 KiB and up, by file size) whose ' +
      'content differs from the prior backup, and a block map saying which backup holds each block; restore ' +
      'puts the file together and checks every block and the whole. A full with it on stores maps the next ' +
      'backups compare with; without a prior map, a changed file is stored whole (with a map).',
  },
  {
    name: 'repo-bundle',
    type: 'boolean',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup'],
    default: false,
    summary: 'Bundle small files: store files under repo-bundle-limit together in tar archives.',
    description:
      'A backup stores each file smaller than repo-bundle-limit (and not empty, not stored as blocks) as a member ' +
      'of a bundle, a tar archive of about repo-bundle-size original bytes at <label>/bundle/<n>.tar, instead of ' +
      'as an object of its own: on an object store a fresh cluster (about 1,000 files) then takes a few dozen ' +
      'writes instead of 1,000. Each member is the file as it would be stored alone (compressed, encrypted), named ' +
      'after it, and keeps its own checksum; restore and verify read it by range, a later diff or incr refers to ' +
      'it. Bundled files are not resumed: a resumed backup copies them again (as pgBackRest).',
  },
  {
    name: 'repo-bundle-size',
    type: 'size',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup'],
    default: '20MiB',
    range: { min: 1024 * 1024, max: 1024 * 1024 * 1024 * 1024 },
    summary: 'Target size of one bundle, in original bytes.',
    description:
      'Files are added to a bundle until their original sizes reach this; a bundle is written in one stream ' +
      '(a multipart upload on an object store). A bundle interrupted by a kill is copied again by the next backup.',
  },
  {
    name: 'repo-bundle-limit',
    type: 'size',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['backup'],
    default: '2MiB',
    range: { min: 8 * 1024, max: 1024 * 1024 * 1024 * 1024 },
    summary: 'Files smaller than this are bundled.',
    description:
      'Each member is held in memory (as stored) until it is written, so this also bounds the memory a bundle ' +
      'takes per file copied at once. A limit set larger than repo-bundle-size is refused (pgBackRest accepts it); ' +
      'the default is lowered to a smaller bundle size.',
  },
  {
    name: 'repo-compress-type',
    type: 'enum',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['archive-push', 'backup'],
    allowed: ['none', 'gz', 'lz4', 'zst'],
    summary: 'Compression of what is stored in this repository, instead of compress-type.',
    description:
      'Not a pgBackRest option (its compress-type is the same for every repository): with several repositories, ' +
      'one may store lz4 (fast to restore from a local disk) and another zst (smaller in a bucket). Unset, ' +
      'compress-type and compress-level apply. archive-push stores each WAL file in each repository with its own ' +
      'setting; restore reads each file as it was stored.',
  },
  {
    name: 'repo-compress-level',
    type: 'integer',
    section: 'global',
    category: 'repository',
    indexed: 'repo',
    commands: ['archive-push', 'backup'],
    depend: { option: 'repo-compress-type', values: ['gz', 'lz4', 'zst'] },
    byValueOf: {
      option: 'repo-compress-type',
      default: { gz: 6, lz4: 1, zst: 3 },
      range: { gz: { min: 0, max: 9 }, lz4: { min: 0, max: 12 }, zst: { min: -7, max: 22 } },
    },
    summary: 'Compression level with repo-compress-type (the default depends on it, as compress-level).',
    description: 'Defaults: gz 6, lz4 1, zst 3. Allowed: gz 0 to 9, lz4 0 to 12, zst -7 to 22.',
  },
  // Stanza (PostgreSQL cluster)
  {
    name: 'pg-path',
    type: 'path',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    required: ['backup', 'check', 'restore', 'stanza-create'],
    summary: 'Data directory of the PostgreSQL cluster.',
  },
  {
    name: 'pg-host',
    type: 'string',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    summary: 'Host name of PostgreSQL for a TCP connection (default: the Unix socket).',
  },
  {
    name: 'pg-port',
    type: 'integer',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    default: 5432,
    range: { min: 1, max: 65535 },
    summary: 'Port of PostgreSQL.',
  },
  {
    name: 'pg-socket-path',
    type: 'path',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    summary: 'Directory of the PostgreSQL Unix socket (default: the client library default).',
  },
  {
    name: 'pg-user',
    type: 'string',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    summary: 'User to connect to PostgreSQL as (default: the operating system user).',
  },
  {
    name: 'pg-database',
    type: 'string',
    section: 'stanza',
    category: 'stanza',
    indexed: 'pg',
    commands: PG_COMMANDS,
    default: 'postgres',
    summary: 'Database to connect to.',
  },
  {
    name: 'io-timeout',
    type: 'time',
    section: 'global',
    category: 'general',
    commands: REPO_COMMANDS,
    default: 60,
    range: { min: 0.1, max: 3600 },
    summary: 'Seconds a storage request may take, retries included, before it fails.',
    description:
      'Object stores: a request that fails for a reason that may pass (throttling, 5xx, a timeout, a reset ' +
      'connection) is retried with exponential backoff and jitter while its first attempt is less than ' +
      'io-timeout ago, then twice more (as pgBackRest), so that an attempt that stalled through the whole ' +
      'io-timeout is tried again; each attempt also gives up after io-timeout without progress.',
  },
  // Archive
  {
    name: 'archive-timeout',
    type: 'time',
    section: 'global',
    category: 'archive',
    commands: ['archive-get', 'archive-push', 'backup', 'check'],
    default: 60,
    range: { min: 0.1, max: 86400 },
    summary: 'Seconds to wait for WAL to reach the archive.',
    description:
      'backup and check wait this long for the WAL they need; with archive-async=y, archive-push waits this long ' +
      'for the background process to store its segment, and archive-get for it to fetch the segment, before ' +
      'failing (PostgreSQL then retries).',
  },
  {
    name: 'archive-async',
    type: 'boolean',
    section: 'global',
    category: 'archive',
    commands: ['archive-get', 'archive-push'],
    default: false,
    summary: 'Push and get WAL asynchronously, through a background process and the spool.',
    description:
      'archive-push starts a background process that pushes every ready segment in parallel (process-max) and ' +
      'records each outcome in spool-path; archive-push returns success only once its segment is stored. ' +
      'archive-get starts a background process that prefetches the next segments into spool-path, so ' +
      'restore_command finds them local.',
  },
  {
    name: 'spool-path',
    type: 'path',
    section: 'global',
    category: 'archive',
    commands: ['archive-get', 'archive-push'],
    default: '/var/spool/pgstash',
    summary: 'Directory of the asynchronous archiving spool (archive/<stanza>/out and in).',
  },
  {
    name: 'archive-push-queue-max',
    type: 'size',
    section: 'global',
    category: 'archive',
    commands: ['archive-push'],
    range: { min: 0, max: 4 * 1024 * 1024 * 1024 * 1024 * 1024 },
    summary:
      'Most WAL waiting to be archived before it is DROPPED (archive-async=y): breaks PITR continuity.',
    description:
      'When more than this much WAL is waiting in pg_wal to be archived, the background archive-push process ' +
      'stops trying: it logs an error and acknowledges the waiting segments WITHOUT storing them, so PostgreSQL ' +
      'removes them rather than fill its disk. The archive then has a gap: point-in-time recovery across it is ' +
      'impossible and the backups before it cannot be brought past it. Take a new backup at once. Unset (the ' +
      'default): never drop.',
  },
  {
    name: 'archive-get-queue-max',
    type: 'size',
    section: 'global',
    category: 'archive',
    commands: ['archive-get'],
    default: '128MiB',
    range: { min: 0, max: 4 * 1024 * 1024 * 1024 * 1024 * 1024 },
    summary: 'Most WAL archive-get prefetches into the spool (archive-async=y).',
  },
  // Backup
  {
    name: 'archive-check',
    type: 'boolean',
    section: 'global',
    category: 'backup',
    commands: ['backup'],
    default: true,
    summary: 'Check that the WAL needed to make the backup consistent is in the archive.',
  },
  {
    name: 'archive-copy',
    type: 'boolean',
    section: 'global',
    category: 'backup',
    commands: ['backup'],
    default: false,
    summary: 'Copy the WAL needed to make the backup consistent into the backup itself.',
  },
  {
    name: 'start-fast',
    type: 'boolean',
    section: 'global',
    category: 'backup',
    commands: ['backup'],
    default: false,
    summary: 'Force a checkpoint so the backup starts at once.',
  },
  {
    name: 'resume',
    type: 'boolean',
    section: 'global',
    category: 'backup',
    commands: ['backup'],
    default: true,
    summary: 'Resume an interrupted backup: keep the files it stored that still verify.',
  },
  {
    name: 'manifest-save-threshold',
    type: 'size',
    section: 'global',
    category: 'backup',
    commands: ['backup'],
    range: { min: 1, max: 1024 * 1024 * 1024 * 1024 },
    summary: 'Bytes of copied files after which the partial manifest is saved, for a resume.',
    description:
      'A backup records the files it has made durable in its partial manifest once this much has been copied ' +
      'since the last record (and at least every 30 s on an object store, every second on a posix repository); a ' +
      'resume after a crash keeps what was recorded and copies the rest again, so this bounds what a crash costs. ' +
      'Unset: 1 GiB on an object store, where each record is a PUT of the whole partial manifest (as ' +
      "pgBackRest's default), and 8 MiB on a posix repository, where a record is cheap.",
  },
  {
    name: 'delta',
    type: 'boolean',
    section: 'global',
    category: 'backup',
    commands: ['backup', 'restore'],
    default: false,
    summary: 'Compare checksums to copy only files that changed.',
    description:
      'backup: hash every file whose size matches the prior backup instead of trusting its mtime (after a clock ' +
      'change, a restore or a copied data directory). restore: into a data directory that holds an older or ' +
      'damaged copy of the cluster (stopped), keep each file whose size and SHA-256 match the backup (with ' +
      '--force: size and mtime), rewrite the others and remove what the backup does not hold; also finishes a ' +
      'restore that did not finish (killed, out of disk). Without --force the directory must hold PG_VERSION, ' +
      'backup_manifest or the marker such a restore leaves.',
  },
  {
    name: 'type',
    type: 'enum',
    section: 'global',
    category: 'backup',
    commands: ['backup', 'restore', 'drill'],
    commandAllowed: {
      backup: ['full', 'diff', 'incr'],
      restore: ['default', 'immediate', 'time', 'lsn', 'xid', 'name', 'standby', 'preserve'],
      // A drill promotes at the end: a standby never does, and preserve keeps settings a drill has not got.
      drill: ['default', 'immediate', 'time', 'lsn', 'xid', 'name'],
    },
    commandDefault: { backup: 'incr', restore: 'default', drill: 'default' },
    summary: 'Backup type, or restore (recovery) type.',
    description:
      'backup: full copies every file; diff and incr copy what changed since the last full or any backup. ' +
      'restore: default recovers to the end of the WAL stream; immediate stops as soon as the backup is ' +
      'consistent; time, lsn, xid and name stop at --target; standby writes standby.signal; preserve keeps ' +
      'the existing recovery settings.',
  },
  {
    name: 'annotation',
    type: 'list',
    section: 'command-line',
    category: 'backup',
    commands: ['annotate', 'backup'],
    pattern: { regex: /^[^=]+=/s, description: 'key=value' },
    summary: 'An annotation of the backup, as key=value (repeatable); with annotate, key= removes key.',
  },
  {
    name: 'pin',
    type: 'boolean',
    section: 'command-line',
    category: 'backup',
    commands: ['annotate'],
    default: false,
    summary:
      'Pin the backup: expire never removes it, its prior backups or the WAL from its start to its stop.',
  },
  {
    name: 'unpin',
    type: 'boolean',
    section: 'command-line',
    category: 'backup',
    commands: ['annotate'],
    default: false,
    summary: 'Unpin the backup: retention applies to it again.',
  },
  {
    name: 'dry-run',
    type: 'boolean',
    section: 'command-line',
    category: 'backup',
    commands: ['expire'],
    default: false,
    summary: 'Say what expire would remove, and remove nothing.',
  },
  // Restore
  {
    name: 'force',
    type: 'boolean',
    section: 'global',
    category: 'restore',
    commands: ['restore'],
    default: false,
    summary: 'Restore into a data directory that is not empty.',
    description:
      'Removes what pg1-path and each tablespace directory hold before restoring. A tablespace left at its ' +
      "backed-up location while pg1-path is elsewhere is the backed-up cluster's own directory: it is emptied " +
      'only when named with tablespace-map.',
  },
  {
    name: 'set',
    type: 'string',
    section: 'global',
    category: 'restore',
    commands: ['annotate', 'expire', 'info', 'restore', 'drill', 'verify'],
    required: ['annotate'],
    commandDefault: { restore: 'latest', drill: 'latest' },
    pattern: {
      regex: /^(latest|\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?)$/,
      description: "'latest' or a backup label such as 20261121-101500F",
    },
    summary: 'Backup set (label) to restore or show.',
  },
  {
    name: 'target',
    type: 'string',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    required: ['restore', 'drill'],
    depend: { option: 'type', values: RESTORE_TARGET_TYPES },
    summary: 'Recovery target: a time, LSN, transaction id or restore point name, according to --type.',
    description:
      "A time without a zone is read in the cluster's timezone (recorded by each backup), as PostgreSQL reads it; " +
      "also '+01:00', 'Z', 'Europe/Paris' or 'EST'. restore writes the instant with an explicit UTC offset.",
  },
  {
    name: 'target-action',
    type: 'enum',
    section: 'global',
    category: 'restore',
    commands: ['restore'],
    depend: { option: 'type', values: ['immediate', ...RESTORE_TARGET_TYPES] },
    allowed: ['pause', 'promote', 'shutdown'],
    default: 'pause',
    summary: 'What PostgreSQL does when it reaches the recovery target.',
  },
  {
    name: 'target-exclusive',
    type: 'boolean',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    depend: { option: 'type', values: ['time', 'lsn', 'xid'] },
    default: false,
    summary: 'Stop just before the recovery target instead of just after it.',
  },
  {
    name: 'target-timeline',
    type: 'string',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    pattern: {
      regex: /^(current|latest|[1-9]\d*|0[xX][0-9a-fA-F]+)$/,
      description: "'current', 'latest' or a timeline number",
    },
    summary: 'Timeline to recover along (default: PostgreSQL chooses, latest).',
  },
  {
    name: 'archive-mode',
    type: 'enum',
    section: 'global',
    category: 'restore',
    commands: ['restore'],
    allowed: ['preserve', 'off'],
    default: 'preserve',
    summary: "Keep the backup's archive_mode in the restored cluster, or turn archiving off.",
    description:
      "off writes archive_mode = 'off' into postgresql.auto.conf: a copy restored for a test or an " +
      'investigation then does not push its WAL (and, once promoted, a new timeline) into the production stanza.',
  },
  {
    name: 'recovery-option',
    type: 'hash',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    summary: 'A PostgreSQL recovery setting to write, as key=value (repeatable).',
    description: 'For example recovery-option=primary_conninfo=host=primary user=replicator',
  },
  {
    name: 'tablespace-map',
    type: 'hash',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    hashValue: 'path',
    summary: 'Restore a tablespace elsewhere, as name=path (repeatable).',
  },
  {
    name: 'tablespace-map-all',
    type: 'path',
    section: 'global',
    category: 'restore',
    commands: ['restore', 'drill'],
    summary: 'Restore every tablespace under this directory.',
  },
  // Info
  {
    name: 'output',
    type: 'enum',
    section: 'global',
    category: 'info',
    commands: ['info', 'drill', 'verify'],
    allowed: ['text', 'json'],
    default: 'text',
    summary: 'Output format.',
  },
  // Drill
  {
    name: 'drill-path',
    type: 'path',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    summary: 'Directory under which drill makes its scratch directory (default: the system temp directory).',
    description:
      'drill restores into a new directory it makes here (pgstash-drill-<stanza>-XXXXXX, with data/ and a private ' +
      'socket/), and removes it at the end. Needs room for the whole cluster, and a short path (the socket path in ' +
      'it must fit in 107 bytes). To restore into a directory of your ' +
      'own instead, give --pg1-path on the command line: it must be empty or missing, hold no running server, ' +
      "and be neither the stanza's configured pg1-path nor inside it.",
  },
  {
    name: 'drill-bin-path',
    type: 'path',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    summary: 'Directory of the PostgreSQL programs drill runs (pg_ctl, pg_amcheck).',
    description:
      'Default: the first of /usr/lib/postgresql/<version>/bin and /usr/pgsql-<version>/bin that holds pg_ctl, ' +
      "<version> being the backup's PostgreSQL major version.",
  },
  {
    name: 'drill-amcheck',
    type: 'boolean',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    default: true,
    summary: 'Run pg_amcheck on every database of the restored cluster, when it is installed.',
    description:
      'pg_amcheck --install-missing --all checks every table and B-tree index; it installs the amcheck extension ' +
      'in the scratch copy only. When pg_amcheck is not beside pg_ctl, the check is reported as skipped.',
  },
  {
    name: 'drill-query',
    type: 'string',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    summary: 'A query drill runs on the restored cluster (in pg1-database), whose result it compares.',
    description:
      "The first column of the first row, as PostgreSQL's text output gives it, must equal drill-expect exactly " +
      '(no trimming, case-sensitive); a NULL or no row at all fails the check. Set both or neither.',
  },
  {
    name: 'drill-expect',
    type: 'string',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    summary: 'The exact text drill-query must return (first column of the first row).',
  },
  {
    name: 'drill-keep-failed',
    type: 'boolean',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    default: false,
    summary:
      'Keep the restored directory when the drill fails (its path is printed), for a look at what went wrong.',
  },
  {
    name: 'drill-timeout',
    type: 'time',
    section: 'global',
    category: 'drill',
    commands: ['drill'],
    default: 3600,
    range: { min: 1, max: 604800 },
    summary: 'Seconds drill waits for the restored server to recover and promote.',
  },
  {
    name: 'since-last',
    type: 'boolean',
    section: 'command-line',
    category: 'general',
    commands: ['verify'],
    default: false,
    summary: 'verify reads only the repository files written or changed since the last verify that passed.',
    description:
      'A verify that passes records, in the repository, each file it checked: its size, modification time and the ' +
      'checksum it was checked against (the ledger). With --since-last a file whose three are still those is not ' +
      'read again; every other file is, and WAL continuity and the info files are always checked in full. Run a ' +
      'verify without it now and then (weekly, say) to read everything again.',
  },
] as const satisfies readonly OptionDef[];

/** The option table, entry by entry. */
export const OPTIONS: readonly OptionDef[] = OPTION_TABLE;
/** The literal table, for the types derived from it (option-types.ts). */
export type OptionTable = typeof OPTION_TABLE;
