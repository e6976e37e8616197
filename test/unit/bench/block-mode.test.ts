// The bench turns pgstash's block incremental on by itself once the option table lists repo-block as available.
import { describe, expect, it } from 'vitest';
import { blockAvailable, blockMode } from '../../../bench/block-mode.js';
import { OPTIONS } from '../../../src/config/definition.js';

const withoutBlock = [{ name: 'repo-path' }, { name: 'repo-bundle' }];

describe('blockAvailable', () => {
  it('is true only for a repo-block entry that has an effect on backup', () => {
    expect(blockAvailable(withoutBlock)).toBe(false);
    expect(blockAvailable([...withoutBlock, { name: 'repo-block' }])).toBe(true);
    expect(blockAvailable([{ name: 'repo-block', effectiveFor: ['backup', 'restore'] }])).toBe(true);
    expect(blockAvailable([{ name: 'repo-block', effectiveFor: [] }])).toBe(false);
    expect(blockAvailable([{ name: 'repo-block', effectiveFor: ['restore'] }])).toBe(false);
    expect(blockAvailable([{ name: 'repo-block', notYetAvailable: true }])).toBe(false);
  });

  it('agrees with the option table pgstash is built with', () => {
    const entry = OPTIONS.find((option) => option.name === 'repo-block');
    const real = entry !== undefined && (entry.effectiveFor ?? ['backup']).includes('backup');
    expect(blockAvailable(OPTIONS)).toBe(real);
  });
});

describe('blockMode', () => {
  const available = [{ name: 'repo-block' }];

  it('auto follows the option table and says why', () => {
    expect(blockMode('auto', available)).toEqual({
      on: true,
      reason: 'on (auto: the option table lists repo-block)',
    });
    expect(blockMode('auto', withoutBlock)).toEqual({
      on: false,
      reason: 'off (auto: this pgstash has no repo-block yet; file-level incremental)',
    });
  });

  it('off is off either way; on refuses a pgstash without repo-block', () => {
    expect(blockMode('off', available).on).toBe(false);
    expect(blockMode('on', available).on).toBe(true);
    expect(() => blockMode('on', withoutBlock)).toThrow(
      'PGSTASH_BENCH_BLOCK=on, but this pgstash has no repo-block',
    );
  });
});
