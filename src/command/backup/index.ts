// backup: an online, consistent full, diff or incr backup of a running cluster into one repository. Thin orchestration of the
// steps, each in its own module, in pgBackRest's order: init, prior, label, start, copy, stop, archive wait,
// manifest, complete.
import { acquireLock } from '../../common/lock.js';
import { warnReconciled } from '../reconcile-warnings.js';
import { log } from '../../common/log.js';
import type { OptionName } from '../../config/load.js';
import type { DataDirEntry } from '../../postgres/data-dir.js';
import { segmentsBetween } from '../../postgres/wal-name.js';
import { fileStorage } from '../../repo/manifest.js';
import { Repository } from '../../repo/repository.js';
import { throwIfAborted, type CommandContext } from '../context.js';
import { compressSettings } from '../compress-settings.js';
import { selectRepo } from '../repo-select.js';
import { checkRepoOutsideData } from '../repo-placement.js';
import { connectFromConfig } from '../server-check.js';
import { progressSettings } from '../progress/reporter.js';
import { archiveWait } from './archive-wait.js';
import { backupComplete } from './complete.js';
import { copyDataDirectory } from './copy-files.js';
import { backupInit } from './init.js';
import { createLabel } from './label.js';
import { beginManifest, completeManifest, type BackupBeginning } from './manifest-build.js';
import { selectPrior } from './prior.js';
import { blockIncremental } from './block-prior.js';
import { bundleSettings } from './bundle-plan.js';
import { priorReuse } from './prior-reuse.js';
import { CopyJournal, prepareResume, resumeReport } from './resume.js';
import { backupStart } from './start.js';
import { backupStop } from './stop.js';
import { parseAnnotations } from '../annotate.js';
import { expireStanza } from '../expire/index.js';

export async function backup(context: CommandContext): Promise<number> {
  const commandStarted = performance.now();
  const { config, signal } = context;
  const stanza = config.require('stanza');
  const pgPath = config.require('pg1-path');
  const requestedType = config.get('type', 'backup');
  const resumeEnabled = config.get('resume');
  const repoOptions = selectRepo(config);
  const compress = compressSettings(config, repoOptions);
  // Before anything starts: a bundle limit set above the bundle size is refused (32).
  const bundle = bundleSettings(
    repoOptions,
    config.has(`repo${repoOptions.index}-bundle-limit` as OptionName),
  );
  await checkRepoOutsideData([repoOptions], pgPath);
  const lock = await acquireLock({
    lockPath: config.get('lock-path'),
    stanza,
    type: 'backup',
  });
  /** The backup begun in the repository and not committed yet: removed if anything fails. */
  let begun: string | undefined;
  const repo = await Repository.open(repoOptions, stanza);
  const session = await connectFromConfig(config);
  try {
    const init = await backupInit(config, repo, session, pgPath);
    const { key, archiveId, control } = init;
    // Complete backups backup.info does not list (it was replaced by an older copy, or a backup was killed between
    // its manifest and its entry) are listed again: a prior for this one, never a leftover to remove below.
    const reconciled = await repo.backups.reconcile(init.backupInfo);
    warnReconciled(repo.name, reconciled);
    const backupInfo = reconciled.info;
    const { type, prior } = selectPrior(requestedType, backupInfo, { encrypted: key !== undefined });
    // Read before anything starts: a prior whose manifest is unreadable fails the backup here (55).
    const priorManifest = prior === undefined ? undefined : await repo.backups.manifest(prior.label);
    const checksumPage = control.dataChecksumVersion > 0;
    // The newest leftover of an interrupted backup is resumed when it fits this one (type, prior, storage);
    // every other leftover is removed.
    const { resumable, leftovers } = await prepareResume(
      repo,
      reconciled.leftovers,
      {
        type,
        prior: prior?.label,
        storage: fileStorage('', compress, key !== undefined),
        checksumPage,
        db: backupInfo.current,
      },
      resumeEnabled,
    );
    // A resumed backup keeps the interrupted one's label, as pgBackRest does: its directory and files are there.
    const { label, started } =
      resumable === undefined
        ? await createLabel(repo, type, backupInfo, prior?.label, leftovers)
        : { label: resumable.label, started: new Date() };
    const checkpointStarted = performance.now();
    const start = await backupStart(session, label, config.get('start-fast'));
    const copyStarted = performance.now();
    const beginning: BackupBeginning = {
      label,
      type,
      prior: prior?.label,
      started,
      start,
      compress,
      encrypted: key !== undefined,
      checksumPage,
      db: backupInfo.current,
      pgPath,
    };
    const partial = beginManifest(beginning);
    if (resumable === undefined) await repo.backups.begin(partial);
    else await resumable.begin(partial);
    begun = label;
    throwIfAborted(signal);

    // How every file this backup stores is recorded in its manifest: held by this backup, as compressed here.
    const storage = fileStorage(label, compress, key !== undefined);
    // A file is not copied when the interrupted backup being resumed holds it verified, or (diff, incr) when it
    // is unchanged since the prior, which then holds it; resume is asked first.
    const fromPrior =
      priorManifest === undefined
        ? undefined
        : priorReuse(priorManifest, {
            delta: config.get('delta'),
            timeline: start.timeline,
            copyStart: Math.floor(started.getTime() / 1000) + 1,
          });
    const reuses = [resumable?.reuse, fromPrior].filter((reuse) => reuse !== undefined);
    const tree = await copyDataDirectory(repo, {
      pgPath,
      pgVersion: control.pgVersion,
      tablespaces: start.tablespaces,
      label,
      compress,
      storage,
      processMax: config.get('process-max'),
      checksumPage,
      startLsn: start.lsn,
      signal,
      ...(reuses.length === 0
        ? {}
        : {
            reuse: async (entry: DataDirEntry) => {
              for (const reuse of reuses) {
                const entryReused = await reuse(entry);
                if (entryReused !== undefined) return entryReused;
              }
              return undefined;
            },
          }),
      recorder: new CopyJournal(
        repo,
        partial,
        config.has('manifest-save-threshold') ? config.get('manifest-save-threshold') : undefined,
      ),
      progress: progressSettings(config),
      ...blockIncremental(repoOptions.block, priorManifest),
      bundle,
      labelled: started,
    });
    await resumable?.removeUnlisted(tree.files);
    const stopped = await backupStop(session, repo, label, tree, { compress, storage });
    const copyEnded = performance.now();

    const segments = segmentsBetween(start.timeline, start.lsn, stopped.lsn, control.walSegmentSize);
    const walStart = segments[0] ?? start.walFile;
    const walStop = segments.at(-1) ?? start.walFile;
    const archiveCopy = config.get('archive-copy');
    const wal = await archiveWait(repo, label, segments, {
      check: config.get('archive-check'),
      copy: archiveCopy,
      timeoutSec: config.get('archive-timeout'),
      walStart,
      walStop,
      archiveId,
      generated: stopped.generated,
      signal,
    });
    throwIfAborted(signal);

    // The start the copy picked (copy-start.ts), at or after the label's second the partial manifest recorded.
    const { manifest, record } = completeManifest(
      { ...beginning, started: tree.started },
      {
        stopped,
        walStart,
        walStop,
        archiveCopy,
        paths: tree.paths,
        links: tree.links,
        files: [...tree.files, ...stopped.files, ...wal.files],
        annotation: Object.fromEntries(parseAnnotations(config, false)),
      },
    );
    await backupComplete(repo, manifest, record, {
      out: context.out,
      times: () => ({
        totalMs: performance.now() - commandStarted,
        checkpointMs: copyStarted - checkpointStarted,
        copyMs: copyEnded - copyStarted,
        walWaitMs: wal.waitMs,
      }),
    });
    begun = undefined;
    if (resumable !== undefined) context.out(resumeReport(label, resumable.counts, tree.files));
    // As pgBackRest does, the backup command ends with expire (still under the backup lock).
    await expireStanza(config, {
      dryRun: false,
      report: () => undefined,
      repos: [repoOptions],
      opened: repo,
    });
    return 0;
  } finally {
    await session.close();
    if (begun !== undefined && resumeEnabled) {
      // Left for the next backup to resume (pgBackRest leaves it too); it was never listed, so never used.
      log.warn(`backup '${begun}' did not complete: its files are kept for the next backup to resume`);
    } else if (begun !== undefined) {
      // Failed or cancelled: remove what was copied (it was never listed, so it was never usable anyway).
      const label = begun;
      await repo.backups
        .abandon(label)
        .catch((error: unknown) => log.warn(`unable to remove backup '${label}': ${String(error)}`));
    }
    await lock.release();
  }
}
