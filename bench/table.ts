// Markdown tables and the number formats the benchmark report uses (times, sizes, ratios).

export type Align = 'left' | 'right';

/** A GitHub-flavoured markdown table; columns are padded so that the plain text lines up too. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const pad = (text: string, column: number): string =>
    (align[column] ?? 'right') === 'left'
      ? text.padEnd(widths[column] ?? 0)
      : text.padStart(widths[column] ?? 0);
  const line = (cells: readonly string[]): string =>
    `| ${header.map((_, column) => pad(cells[column] ?? '', column)).join(' | ')} |`;
  const rule = `|${widths
    .map((width, column) =>
      (align[column] ?? 'right') === 'left' ? ` ${'-'.repeat(width)} ` : ` ${'-'.repeat(width - 1)}: `,
    )
    .join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Milliseconds: one decimal below 100 ms, whole numbers above. */
export function formatMs(ms: number): string {
  return ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms).toString()} ms`;
}

/** Seconds with two decimals below 10 s, one above. */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(1)} s`;
}

/** Binary megabytes with one decimal. */
export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** pgstash's figure divided by pgBackRest's, e.g. "1.84x"; "n/a" when pgBackRest's figure is zero. */
export function formatRatio(pgstash: number, pgbackrest: number): string {
  if (pgbackrest === 0) return 'n/a';
  const ratio = pgstash / pgbackrest;
  return `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}x`;
}
