// The compression of what backup and archive-push store: compress-type and compress-level, defaults from the table.
import type { LoadedConfig } from '../config/load.js';
import type { CompressType } from '../io/compress.js';

export function compressSettings(config: LoadedConfig): { type: CompressType; level: number } {
  // compress-level has no value for compress-type 'none' (the table has no level for it): the level is unused then.
  return { type: config.get('compress-type'), level: config.get('compress-level') ?? 0 };
}
