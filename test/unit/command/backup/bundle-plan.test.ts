// Tests for the bundle settings of a repository: off without repoN-bundle, and a bundle limit set larger than the
// bundle size refused with one line naming both options and their values (optionInvalidValue, 32).
import { describe, expect, it } from 'vitest';
import { bundleSettings } from '../../../../src/command/backup/bundle-plan.js';
import { PgStashError } from '../../../../src/common/errors.js';

const MiB = 1024 * 1024;

describe('bundleSettings', () => {
  it('is undefined without bundling, whatever the sizes', () => {
    expect(
      bundleSettings({ index: 1, bundle: false, bundleSize: MiB, bundleLimit: 4 * MiB }, true),
    ).toBeUndefined();
  });

  it('takes a limit up to the bundle size', () => {
    expect(
      bundleSettings({ index: 1, bundle: true, bundleSize: 20 * MiB, bundleLimit: 2 * MiB }, true),
    ).toEqual({
      size: 20 * MiB,
      limit: 2 * MiB,
    });
    expect(bundleSettings({ index: 1, bundle: true, bundleSize: MiB, bundleLimit: MiB }, true)).toEqual({
      size: MiB,
      limit: MiB,
    });
  });

  it('lowers the default limit to a smaller bundle size (repoN-bundle-size=1MiB alone is valid in pgBackRest)', () => {
    expect(bundleSettings({ index: 1, bundle: true, bundleSize: MiB, bundleLimit: 2 * MiB }, false)).toEqual({
      size: MiB,
      limit: MiB,
    });
  });

  it('refuses a limit set larger than the bundle size, naming both options of the repository and their values', () => {
    let caught: unknown;
    try {
      bundleSettings({ index: 2, bundle: true, bundleSize: MiB, bundleLimit: 4 * MiB }, true);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PgStashError);
    const error = caught as PgStashError;
    expect(error.code).toBe(32);
    expect(error.message).toBe(
      'repo2-bundle-limit (4MiB) is larger than repo2-bundle-size (1MiB): lower the limit or raise the size',
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toBeUndefined();
  });
});
