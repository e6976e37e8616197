// Tests for the reading of archive_command: which stanza it archives to, however the option is written.
import { describe, expect, it } from 'vitest';
import { stanzaOfArchiveCommand } from '../../../src/command/archive-settings.js';

describe('stanzaOfArchiveCommand', () => {
  it('reads --stanza=name and --stanza name, quoted or not, anywhere on the line', () => {
    expect(stanzaOfArchiveCommand('pgstash --stanza=main archive-push %p')).toBe('main');
    expect(stanzaOfArchiveCommand('pgstash --stanza main archive-push %p')).toBe('main');
    expect(stanzaOfArchiveCommand("pgstash --stanza='prod-1' archive-push %p")).toBe('prod-1');
    expect(
      stanzaOfArchiveCommand('/usr/bin/pgstash --config=/etc/x.conf archive-push --stanza="db" %p'),
    ).toBe('db');
    expect(stanzaOfArchiveCommand('--stanza=first pgstash archive-push %p')).toBe('first');
    expect(
      stanzaOfArchiveCommand("'/opt/pgstash' '--config=/etc/p.conf' '--stanza=bench' archive-push %p"),
    ).toBe('bench');
    expect(stanzaOfArchiveCommand("pgstash '--stanza' 'db1' archive-push %p")).toBe('db1');
  });

  it('is undefined when the command names no stanza (the config file or environment gives it)', () => {
    expect(stanzaOfArchiveCommand('pgstash archive-push %p')).toBeUndefined();
    expect(stanzaOfArchiveCommand('PGSTASH_STANZA=main pgstash archive-push %p')).toBeUndefined();
    expect(stanzaOfArchiveCommand('pgstash --stanzas=main archive-push %p')).toBeUndefined();
  });
});
