import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { nodeFileSource } from '../../src/engine/io/node-file.ts';
import { SafetensorsFile, f16ToF32, writeSafetensors } from '../../src/engine/io/safetensors.ts';

// The built-in model's checkpoint (written by PyTorch's safetensors in scripts/pretrain-builtin.py).
const BUILTIN = new URL('../../public/models/tiny-kjv/model.safetensors', import.meta.url).pathname;

describe('safetensors', () => {
  it('reads a real Hugging Face checkpoint a tensor at a time', async () => {
    const f = await SafetensorsFile.open(nodeFileSource(BUILTIN));
    expect(f.tensors.size).toBe(38);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.info('model.embed_tokens.weight')).toMatchObject({ dtype: 'F32', shape: [512, 96] });
    const norm = await f.readF32('model.norm.weight');
    expect(norm.length).toBe(96);
    // Values read independently with Python's struct module.
    expect([...norm.slice(0, 4)]).toEqual([1.5253657102584839, 1.3665441274642944, 1.48934006690979, 1.5273460149765015].map(Math.fround));
    await expect(f.readF32('lm_head.weight')).rejects.toThrow(/no tensor named "lm_head.weight"/);
  });

  it('round-trips F32, F16, BF16 and I32 through the writer with an 8-byte aligned header', async () => {
    const f32 = Float32Array.from([1.5, -2.25, 3e-3, 65504]);
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, 2^-24
    const bf16 = Uint16Array.from([0x3f80, 0xc0a0]); // 1, -5
    const i32 = Int32Array.from([0, 7, -3, 2147483647, 5, 6]);
    const bytes = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 2], data: f32 },
        { name: 'b', dtype: 'F16', shape: [4], data: f16 },
        { name: 'c', dtype: 'BF16', shape: [1, 2], data: bf16 },
        { name: 'idx', dtype: 'I32', shape: [2, 3], data: i32 },
      ],
      { format: 'pt' },
    );
    const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(hlen % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen)));
    expect(header.a.data_offsets).toEqual([0, 16]);
    expect(header.b.data_offsets).toEqual([16, 24]);
    expect(header.idx.data_offsets).toEqual([28, 52]);
    const f = await SafetensorsFile.open(bytesSource(bytes, 'mem.safetensors'));
    expect([...(await f.readF32('a'))]).toEqual([...f32]);
    expect([...(await f.readF32('b'))]).toEqual([1, -2, 65504, 2 ** -24]);
    expect([...(await f.readF32('c'))]).toEqual([1, -5]);
    expect([...(await f.readI32('idx'))]).toEqual([...i32]);
    await expect(f.readF32('idx')).rejects.toThrow(/"idx" is I32; weights must be F32, F16 or BF16/);
  });

  it('converts every f16 class', () => {
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0x3555)).toBeCloseTo(0.33325, 5);
  });

  it('names the file and what is wrong in a corrupt file', async () => {
    const good = writeSafetensors([{ name: 'w', dtype: 'F32', shape: [3], data: new Float32Array(3) }]);
    await expect(SafetensorsFile.open(bytesSource(good.subarray(0, 5), 'short.safetensors'))).rejects.toThrow(/short\.safetensors.*shorter than the 8-byte/);
    await expect(SafetensorsFile.open(bytesSource(good.subarray(0, good.length - 4), 'cut.safetensors'))).rejects.toThrow(/cut\.safetensors.*"w".*past the data/);
    const bad = good.slice();
    bad[8] = 0x5b; // '[' instead of '{'
    await expect(SafetensorsFile.open(bytesSource(bad, 'bad.safetensors'))).rejects.toThrow(/bad\.safetensors.*not JSON|not a JSON object/);
    const wrongShape = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}');
    const buf = new Uint8Array(8 + wrongShape.length + 12);
    new DataView(buf.buffer).setBigUint64(0, BigInt(wrongShape.length), true);
    buf.set(wrongShape, 8);
    await expect(SafetensorsFile.open(bytesSource(buf, 'x.safetensors'))).rejects.toThrow(/F32\[4\] needs 16 bytes, data_offsets give 12/);
    const raw = (header: string, data: number) => {
      const h = new TextEncoder().encode(header);
      const b = new Uint8Array(8 + h.length + data);
      new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
      b.set(h, 8);
      return b;
    };
    const overlap = raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', 12);
    await expect(SafetensorsFile.open(bytesSource(overlap, 'o.safetensors'))).rejects.toThrow(/o\.safetensors.*"b" overlaps/);
    const hole = raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8);
    await expect(SafetensorsFile.open(bytesSource(hole, 'h.safetensors'))).rejects.toThrow(/hole of 4 bytes before tensor "a"/);
    const trailing = raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 8);
    await expect(SafetensorsFile.open(bytesSource(trailing, 't.safetensors'))).rejects.toThrow(/4 bytes after the last tensor/);
    const dtype = raw('{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', 1);
    await expect(SafetensorsFile.open(bytesSource(dtype, 'd.safetensors'))).rejects.toThrow(/"a": unknown dtype "F8_E4M3"/);
  });
});
