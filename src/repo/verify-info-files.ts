// What verify checks besides data files: the stanza's info files, each copy on its own (archive.info, backup.info,
// stanza.key, drill.history, the ledger pointer, each backup's manifest) and the backup history's manifests.
import { PgStashError } from '../common/errors.js';
import { checkInfoFile } from './info-file.js';
import { DRILL_HISTORY_KIND } from './drill-history.js';
import { copyPathOf, repoLayout } from './layout.js';
import type { Repository } from './repository.js';
import { problemOf } from './verify-files.js';

/**
 * A problem with one stored copy of an info file (or with a history manifest, which has no copy). A `warning` when
 * the other copy is sound (readers use it: nothing is unreadable yet); an `error` when neither copy is usable. Either
 * fails verify.
 */
export interface InfoFileProblem {
  /** The repository path of the copy. */
  readonly file: string;
  readonly message: string;
  readonly code: number;
  readonly severity: 'warning' | 'error';
}

/** One info file and its `.copy`: what it is, how it is read, and whether the stanza must have it. */
export interface InfoFilePair {
  readonly path: string;
  readonly kind: string;
  /** archive.info, backup.info, a manifest, the key of an encrypted stanza: both copies missing is an error. */
  readonly required: boolean;
  /** The stanza key for files encrypted with it (stanza.key itself is not). */
  readonly key: Buffer | undefined;
}

/** Checks the main file and the copy of `pair`, each on its own; see InfoFileProblem for the severity. */
export async function checkInfoFilePair(repo: Repository, pair: InfoFilePair): Promise<InfoFileProblem[]> {
  const bad: { file: string; error: PgStashError }[] = [];
  let missing = 0;
  for (const candidate of [pair.path, copyPathOf(pair.path)]) {
    const problem = await checkInfoFile(repo.driver, candidate, { kind: pair.kind, key: pair.key });
    if (problem === undefined) continue;
    if (problem === 'missing') missing++;
    const error =
      problem === 'missing'
        ? new PgStashError('fileMissing', `'${repo.location}/${candidate}' is missing`)
        : problem;
    bad.push({ file: candidate, error });
  }
  // Neither copy there: a stanza without drills or a passed verify yet, fine for an optional file.
  if (missing === 2 && !pair.required) return [];
  const severity = bad.length === 2 ? 'error' : 'warning';
  return bad.map(({ file, error }) => ({ file, message: error.message, code: error.code, severity }));
}

/** The key's file pair: required for an encrypted repository; checked without a key (it is not encrypted). */
export function stanzaKeyPair(repo: Repository): InfoFilePair {
  return {
    path: repoLayout.stanzaKey(repo.stanza),
    kind: 'stanza.key',
    required: repo.encrypted,
    key: undefined,
  };
}

/**
 * The stanza's info files besides its key: archive.info, backup.info, the manifests of `labels` (required), the
 * drill history and the verify ledger's pointer (optional: no drill or no passed verify yet).
 */
export function stanzaInfoPairs(
  repo: Repository,
  key: Buffer | undefined,
  labels: readonly string[],
): InfoFilePair[] {
  const { stanza } = repo;
  return [
    { path: repoLayout.archiveInfo(stanza), kind: 'archive.info', required: true, key },
    { path: repoLayout.backupInfo(stanza), kind: 'backup.info', required: true, key },
    ...labels.map((label) => ({
      path: repoLayout.manifest(stanza, label),
      kind: 'backup.manifest',
      required: true,
      key,
    })),
    { path: repoLayout.drillHistory(stanza), kind: DRILL_HISTORY_KIND, required: false, key },
    { path: repoLayout.verifyLedgerInfo(stanza), kind: 'verify.ledger', required: false, key },
  ];
}

/**
 * Reads every backup history manifest (of `labels` only, when given) and checks it decodes with its checksum. It
 * has no copy: a damaged one is an error (nothing restores from it, but the record it keeps is lost).
 */
export async function checkHistoryManifests(
  repo: Repository,
  labels?: ReadonlySet<string>,
): Promise<InfoFileProblem[]> {
  const problems: InfoFileProblem[] = [];
  for (const entry of await repo.backups.history.list()) {
    if (labels !== undefined && !labels.has(entry.label)) continue;
    try {
      await repo.backups.history.read(entry);
    } catch (error) {
      const { message, code } = problemOf(error);
      problems.push({ file: repo.backups.history.pathOf(entry), message, code, severity: 'error' });
    }
  }
  return problems;
}
