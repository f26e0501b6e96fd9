// The GGUF reader on damaged input: every truncation and thousands of random byte changes of
// a real file either parse or are refused with a GgufReadError naming the file, never
// another exception, a hang or a huge allocation; huge counts are refused before anything is
// allocated for them.

import { describe, expect, it } from 'vitest';
import { writeGguf, writeGgufHeader } from '../../src/engine/export/gguf.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { GgufReadError, openGguf, readGgufTensorBytes } from '../../src/engine/io/gguf-read.ts';
import { ggufModelFiles } from '../../src/engine/io/gguf-model.ts';
import { rng } from '../helpers/gpu.ts';
import { memoryOut, qwen2Model } from '../helpers/gguf-models.ts';
import { writeMergedGguf } from '../../src/engine/export/merged-gguf.ts';

async function expectReadOrRefused(bytes: Uint8Array, what: string) {
  try {
    const f = await openGguf(bytesSource(bytes, 'x.gguf'));
    for (const t of f.tensors.values()) await readGgufTensorBytes(f, t.name).catch((e) => {
      if (!(e instanceof GgufReadError)) throw e;
    });
    await ggufModelFiles(bytesSource(bytes, 'x.gguf')).catch((e) => {
      if (!(e instanceof GgufReadError)) throw new Error(`${what}: ${String(e)}`);
    });
  } catch (e) {
    if (!(e instanceof GgufReadError)) throw new Error(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    expect(e.message).toContain('x.gguf');
  }
}

describe('GGUF reader on damaged files', () => {
  it('reads what the writer writes: metadata of every type, dims, offsets, data', async () => {
    const bytes = writeGguf(
      [
        ['a.u8', { type: 'u8', value: 7 }], ['a.i16', { type: 'i16', value: -3 }], ['a.f64', { type: 'f64', value: 0.25 }],
        ['a.u64', { type: 'u64', value: 1n << 40n }], ['a.s', { type: 'string', value: 'héllo' }], ['a.b', { type: 'bool', value: true }],
        ['a.arr', { type: 'array', of: 'i32', value: [1, -2, 3] }], ['general.alignment', { type: 'u32', value: 64 }],
      ],
      [{ name: 't', type: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    );
    const f = await openGguf(bytesSource(bytes, 'x.gguf'));
    expect(Object.fromEntries(f.metadata)).toEqual({ 'a.u8': 7, 'a.i16': -3, 'a.f64': 0.25, 'a.u64': 1n << 40n, 'a.s': 'héllo', 'a.b': true, 'a.arr': [1, -2, 3], 'general.alignment': 64 });
    expect(f.alignment).toBe(64);
    const t = f.tensors.get('t')!;
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(new Float32Array((await readGgufTensorBytes(f, 't')).slice().buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('every truncation and 3000 random byte changes of a model file are read or refused by name', async () => {
    const { files } = await qwen2Model();
    const out = await memoryOut();
    await writeMergedGguf(files, [], out, { type: 'Q8_0' });
    const good = out.bytes();
    const headerEnd = Math.min(good.length, 20000);
    for (let n = 0; n < headerEnd; n += 97) await expectReadOrRefused(good.subarray(0, n), `truncated to ${n}`);
    const r = rng(9);
    for (let i = 0; i < 3000; i++) {
      const b = good.slice(0, headerEnd + 64);
      const k = 1 + Math.floor(r() * 4);
      for (let j = 0; j < k; j++) b[Math.floor(r() * Math.min(b.length, i % 3 === 0 ? 64 : b.length))] = Math.floor(r() * 256);
      await expectReadOrRefused(b, `mutation ${i}`);
    }
  }, 120_000);

  it('huge counts and lengths are refused before allocation', async () => {
    const base = writeGguf([['k', { type: 'string', value: 'v' }]], []);
    const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const hugeTensors = base.slice();
    dv(hugeTensors).setBigUint64(8, 1n << 62n, true);
    await expect(openGguf(bytesSource(hugeTensors, 'x.gguf'))).rejects.toThrow(/tensor count/);
    const hugeKv = base.slice();
    dv(hugeKv).setBigUint64(16, 1n << 40n, true);
    await expect(openGguf(bytesSource(hugeKv, 'x.gguf'))).rejects.toThrow(/metadata count/);
    const hugeStr = base.slice();
    dv(hugeStr).setBigUint64(24, 1n << 50n, true);
    await expect(openGguf(bytesSource(hugeStr, 'x.gguf'))).rejects.toThrow(GgufReadError);
    const { header } = writeGgufHeader([], [{ name: 'w', ggmlType: 0, shape: [1 << 20, 1 << 20], bytes: 4 }]);
    await expect(openGguf(bytesSource(header, 'x.gguf'))).rejects.toThrow(/more values than the file could hold|past the end/);
  });
});
