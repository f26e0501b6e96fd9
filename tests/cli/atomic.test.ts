// A SIGKILL at any moment leaves a file the CLI writes whole (issue 15, item 3): a child
// process rewrites one file through writeFileAtomic in a loop, alternating two contents, and
// is killed at seeded random moments; after every kill the file is exactly one of the two.
// The same loop writing in place (in chunks, as a streamed writer does) leaves a torn file (checked too, so the test
// shows what it guards against).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTemporaries } from '../../src/cli/files.ts';
import { ROOT } from '../helpers/cli.ts';
import { rng } from '../helpers/gpu.ts';

const A = 1 << 20;
const B = 2 << 20;
const CHILD = `
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeFileAtomic } from ${JSON.stringify(join(ROOT, 'src/cli/files.ts'))};
const [path, mode] = process.argv.slice(2);
const a = new Uint8Array(${A}).fill(97), b = new Uint8Array(${B}).fill(98);
// In place, as a streamed writer does (a safetensors header, then tensor after tensor).
const inPlace = (p, bytes) => {
  const fd = openSync(p, 'w');
  for (let o = 0; o < bytes.length; o += 16384) writeSync(fd, bytes, o, Math.min(16384, bytes.length - o));
  closeSync(fd);
};
for (let i = 0; ; i++) {
  (mode === 'atomic' ? writeFileAtomic : inPlace)(path, i % 2 ? b : a);
  if (i === 1) process.stdout.write('ready\\n');
}
`;

/** Start the writer, kill it `delayMs` after its second write; the file's bytes afterwards. */
function killWriter(script: string, path: string, mode: 'atomic' | 'plain', delayMs: number): Promise<Buffer> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, path, mode], { cwd: ROOT });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), delayMs));
    child.on('exit', () => (existsSync(path) ? done(readFileSync(path)) : fail(new Error(`no file; the writer said: ${err}`))));
  });
}

const whole = (b: Buffer) => (b.length === A && b.every((x) => x === 97)) || (b.length === B && b.every((x) => x === 98));

describe('writeFileAtomic under SIGKILL', () => {
  it('leaves the old or the new file, never a torn one (a plain write does tear)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-atomic-'));
    const script = join(mkdtempSync(join(tmpdir(), 'webtune-writer-')), 'writer.ts');
    writeFileSync(script, CHILD);
    const r = rng(7);
    for (let k = 0; k < 5; k++) {
      const got = await killWriter(script, join(dir, 'checkpoint.safetensors'), 'atomic', Math.floor(r() * 150));
      expect(whole(got), `kill ${k}: ${got.length} bytes`).toBe(true);
    }
    removeStaleTemporaries(dir);
    expect(readdirSync(dir)).toEqual(['checkpoint.safetensors']);
    let torn = 0;
    for (let k = 0; k < 10 && torn === 0; k++) if (!whole(await killWriter(script, join(dir, 'plain.bin'), 'plain', Math.floor(r() * 150)))) torn++;
    expect(torn, 'a plain in-place write is torn by some kill').toBeGreaterThan(0);
  }, 120_000);
});
