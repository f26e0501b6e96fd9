// Packing of a kernel's uniform `Params` struct. WGSL structs of 4-byte scalars are laid out
// in declaration order, so a kernel wrapper lists its fields in the same order as the
// shader's struct: plain numbers are u32, `f32(x)` and `i32(x)` mark the other scalars.

export interface F32Param {
  readonly f32: number;
}
export interface I32Param {
  readonly i32: number;
}
export type Param = number | F32Param | I32Param;

export const f32 = (x: number): F32Param => ({ f32: x });
export const i32 = (x: number): I32Param => ({ i32: x });

export function packParams(fields: readonly Param[]): Uint32Array {
  // Uniform structs are padded to 16 bytes.
  const out = new Uint32Array(Math.max(4, Math.ceil(fields.length / 4) * 4));
  const view = new DataView(out.buffer);
  fields.forEach((p, i) => {
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 0 || p > 0xffffffff) throw new RangeError(`param ${i}: ${p} is not a u32`);
      view.setUint32(i * 4, p, true);
    } else if ('f32' in p) {
      view.setFloat32(i * 4, p.f32, true);
    } else {
      view.setInt32(i * 4, p.i32, true);
    }
  });
  return out;
}

/** Workgroup grid for `n` invocations of `wg` threads, folded into y past the 65535 limit.
 *  Shaders recover the flat index as `gid.x + gid.y * nwg.x * WG`. */
export function grid1d(n: number, wg: number, maxPerDim = 65535): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
