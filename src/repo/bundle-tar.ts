// The tar framing of a bundle: POSIX ustar headers (a pax header for a name too long for ustar), members padded to
// 512 bytes, two zero blocks at the end, so that `tar -x` opens a bundle by hand. Offsets are computed, not parsed.
// Not tar-stream: the manifest needs each member's data offset, which its pack stream does not tell (its header
// encoder is not exported), and nothing reads a bundle as a tar stream.

const BLOCK = 512;
const END = Buffer.alloc(2 * BLOCK);

/** What a member's header records. */
export interface TarMember {
  readonly name: string;
  readonly size: number;
  /** Epoch seconds. */
  readonly mtime: number;
}

/** The header blocks of `member` (one ustar block, or a pax block pair before it for a long name). */
export function tarHeader(member: TarMember): Buffer {
  const split = splitName(member.name);
  if (split !== undefined) return ustarBlock({ ...member, ...split, type: '0' });
  // A name ustar cannot hold: a pax extended header ('x') carries it, the ustar header a shortened one.
  const record = paxRecord('path', member.name);
  const pax = Buffer.alloc(BLOCK + padded(record.length));
  ustarBlock({ name: 'PaxHeader', prefix: '', size: record.length, mtime: member.mtime, type: 'x' }).copy(
    pax,
  );
  record.copy(pax, BLOCK);
  const short = member.name.slice(-100).replace(/^[^/]*\//, '');
  return Buffer.concat([pax, ustarBlock({ ...member, name: short, prefix: '', type: '0' })]);
}

/** Zero bytes after `size` bytes of data, up to the next 512-byte boundary. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc(padded(size) - size);
}

/** The end of an archive: two zero blocks. */
export function tarEnd(): Buffer {
  return END;
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

/** `name` as ustar's prefix (155 bytes) and name (100 bytes) fields, cut at a '/', or undefined. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let at = name.indexOf('/'); at >= 0; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const rest = name.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest !== '')
      return { name: rest, prefix };
  }
  return undefined;
}

/** A pax record: `<length> <key>=<value>\n`, the length counting itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length++;
  return Buffer.from(`${length}${body}`);
}

function ustarBlock(fields: {
  name: string;
  prefix: string;
  size: number;
  mtime: number;
  type: '0' | 'x';
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  octal(block, 100, 8, 0o600);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, Math.max(0, Math.floor(fields.mtime)));
  block.fill(0x20, 148, 156);
  block.write(fields.type, 156, 1, 'ascii');
  block.write('ustar\u000000', 257, 8, 'ascii');
  block.write(fields.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  octal(block, 148, 7, sum);
  return block;
}

/** `value` in octal, zero-padded, NUL-terminated, in `width` bytes at `offset` (sizes up to 8 GiB in 12 bytes). */
function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}
