// Keeps docs/reference.md and docs/errors.md equal to what scripts/gen-docs.ts generates from the tables.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderErrors, renderReference } from '../../../scripts/gen-docs.js';
import { ERROR_CODES } from '../../../src/common/errors.js';
import { COMMANDS, OPTIONS } from '../../../src/config/definition.js';
import { displayName } from '../../../src/config/describe.js';

const read = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');
const regenerate = 'run `npm run build && node dist/scripts/gen-docs.js` and commit docs/';

describe('generated docs', () => {
  it('docs/reference.md is up to date', () => {
    expect(read('reference.md'), regenerate).toBe(renderReference());
  });

  it('docs/errors.md is up to date', () => {
    expect(read('errors.md'), regenerate).toBe(renderErrors());
  });

  it('the reference has every command and every option', () => {
    const text = renderReference();
    for (const command of COMMANDS) expect(text).toContain(`### ${command.name}\n`);
    for (const def of OPTIONS) expect(text).toContain(`#### ${displayName(def)}\n`);
    // Outside code, <stanza> would be taken for an HTML tag and vanish.
    const prose = text.replace(/```[^]*?```/g, '').replace(/`[^`]*`/g, '');
    expect(prose).not.toMatch(/<[a-z]/);
    expect(prose).toContain('[&lt;stanza&gt;]');
  });

  it('the error list has every exit code, success and the archive-get miss', () => {
    const text = renderErrors();
    for (const [name, entry] of Object.entries(ERROR_CODES)) {
      expect(text).toContain(`| ${entry.code} | ${name} |`);
    }
    expect(text).toContain('| 0 | success |');
    expect(text).toMatch(/\| 1 \| \(archive-get\) \| the requested WAL file is not in the archive/);
  });
});
