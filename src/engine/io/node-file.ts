// Node host adapter: a file on disk as a ByteSource (reads only the ranges asked for).

import { open } from 'node:fs/promises';
import { statSync } from 'node:fs';
import type { ByteSource } from './bytes.ts';

export function nodeFileSource(path: string): ByteSource {
  const size = statSync(path).size;
  return {
    name: path,
    size,
    async read(offset, length) {
      const fh = await open(path, 'r');
      try {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await fh.read(out, done, length - done, offset + done);
          if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at byte ${offset + done} (wanted ${offset + length})`);
          done += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    },
  };
}
