import { describe, it } from 'vitest';
import { doraBackwardScale, doraCombine, doraMagnitudeGrad, doraNorm, doraSqrt, doraSumsq } from '../../src/engine/kernels/dora.ts';
import {
  doraBackwardScaleRef, doraCombineRef, doraMagnitudeGradRef, doraNormRef, doraRowNormRef, doraSumsqRef,
} from '../../src/engine/kernels/dora.ref.ts';
import { checkGradient, expectClose, randn, testGpu, upload } from '../helpers/gpu.ts';

describe('dora kernels', () => {
  // Awkward shapes: outputs not a multiple of the 64-thread workgroup, odd ranks.
  for (const [out, inp, r] of [[1, 1, 1], [67, 13, 3], [130, 45, 5]] as const) {
    it(`sumsq (both storage orders, accumulate) and sqrt at out=${out} in=${inp}`, async () => {
      const gpu = await testGpu();
      const W = randn(out * inp, 1);
      const bw = await upload(gpu, W);
      const w2 = await upload(gpu, randn(out, 2)); // garbage: beta = 0 must not read it
      doraSumsq(gpu, bw, w2, { rows: inp, cols: out, sRow: 1, sCol: inp }); // (out, in)
      const want = doraSumsqRef(W, inp, out, 1, inp);
      expectClose(await gpu.readF32(w2), want, 1e-6, 1e-5, 'sumsq out-in');
      doraSumsq(gpu, bw, w2, { rows: inp, cols: out, sRow: out, sCol: 1, beta: 1 }); // same data read as (in, out), added
      expectClose(await gpu.readF32(w2), doraSumsqRef(W, inp, out, out, 1, want, 1), 1e-6, 1e-5, 'sumsq in-out accumulate');
      const m = await upload(gpu, new Float32Array(out));
      doraSqrt(gpu, w2, m, out);
      const w2v = await gpu.readF32(w2);
      expectClose(await gpu.readF32(m), Float64Array.from(w2v, Math.sqrt), 0, 1e-6, 'sqrt');
      for (const b of [bw, w2, m]) b.release();
    });

    it(`norm from low-rank pieces equals the row norm of W + s·B·A at out=${out} in=${inp} r=${r}`, async () => {
      const gpu = await testGpu();
      const s = 1.7;
      const W = randn(out * inp, 3);
      const A = randn(r * inp, 4);
      const B = randn(out * r, 5, -0.5, 0.5);
      const m = randn(out, 6, 0.5, 2);
      const w2 = doraSumsqRef(W, inp, out, 1, inp);
      const P = new Float64Array(r * out); // A·Wᵀ
      for (let k = 0; k < r; k++) for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) P[k * out + o] += A[k * inp + i] * W[o * inp + i];
      const G = new Float64Array(r * r);
      for (let a = 0; a < r; a++) for (let b = 0; b < r; b++) for (let i = 0; i < inp; i++) G[a * r + b] += A[a * inp + i] * A[b * inp + i];
      const H = new Float64Array(out * r);
      for (let o = 0; o < out; o++) for (let b = 0; b < r; b++) for (let a = 0; a < r; a++) H[o * r + b] += B[o * r + a] * G[a * r + b];
      const bufs = await Promise.all([w2, B, P, H, m].map((v) => upload(gpu, Float32Array.from(v))));
      const c = await upload(gpu, new Float32Array(out));
      const inv = await upload(gpu, new Float32Array(out));
      doraNorm(gpu, bufs[0], bufs[1], bufs[2], bufs[3], bufs[4], c, inv, out, r, s);
      const ref = doraNormRef(w2, B, P, H, m, out, r, s);
      const direct = doraRowNormRef(W, A, B, out, inp, r, s);
      expectClose(ref.inv, Float64Array.from(direct, (n) => 1 / n), 1e-12, 1e-9, 'expansion = direct norm (f64)');
      expectClose(await gpu.readF32(inv), ref.inv, 1e-6, 1e-5, 'inv');
      expectClose(await gpu.readF32(c), ref.c, 1e-6, 1e-5, 'c');
      for (const b of [...bufs, c, inv]) b.release();
    });
  }

  for (const [rows, cols, bias] of [[1, 1, false], [7, 67, true], [33, 130, false], [5, 1031, true]] as const) {
    it(`combine, bwd_scale, bwd_dm at rows=${rows} cols=${cols}${bias ? ' with bias' : ''}`, async () => {
      const gpu = await testGpu();
      const y = randn(rows * cols, 7);
      const z = randn(rows * cols, 8);
      const b = bias ? randn(cols, 9) : undefined;
      const c = randn(cols, 10, 0.5, 1.5);
      const inv = randn(cols, 11, 0.2, 1);
      const dy = randn(rows * cols, 12);
      const [by, bz, bc, binv, bdy] = await Promise.all([y, z, c, inv, dy].map((v) => upload(gpu, v)));
      const bb = b ? await upload(gpu, b) : undefined;
      doraCombine(gpu, bb, bc, bz, by, rows, cols);
      const ref = doraCombineRef(b, c, z, y, rows, cols);
      expectClose(await gpu.readF32(bz), ref.v, 1e-6, 1e-6, 'combine v');
      expectClose(await gpu.readF32(by), ref.y, 1e-6, 1e-6, 'combine y');
      const [dv, e, dm] = await Promise.all([rows * cols, rows * cols, cols].map((n) => upload(gpu, new Float32Array(n))));
      doraBackwardScale(gpu, bdy, bc, dv, e, rows, cols);
      const sref = doraBackwardScaleRef(dy, c, rows, cols);
      expectClose(await gpu.readF32(dv), sref.dv, 1e-7, 1e-6, 'dv');
      expectClose(await gpu.readF32(e), sref.e, 1e-7, 1e-6, 'e');
      const v = await gpu.readF32(bz);
      doraMagnitudeGrad(gpu, bdy, bz, binv, dm, rows, cols);
      const dmRef = doraMagnitudeGradRef(dy, v, inv, rows, cols);
      expectClose(await gpu.readF32(dm), dmRef, 1e-5, 1e-5, 'dm');
      // dm is the gradient of L = Σ dy ⊙ y' with y' = (m ⊙ inv) ⊙ v + b, inv held fixed.
      if (cols <= 130) {
        const L = (m: Float64Array) => {
          const cc = Float64Array.from(m, (mo, o) => mo * inv[o]);
          const yo = doraCombineRef(b, cc, new Float64Array(rows * cols), v, rows, cols).y; // v in, z = 0: y' = c·(v − b) + b
          let acc = 0;
          for (let i = 0; i < rows * cols; i++) acc += dy[i] * (yo[i] + (b ? cc[i % cols] * b[i % cols] : 0));
          return acc;
        };
        checkGradient(L, Float64Array.from(c, (ci, o) => ci / inv[o]), dmRef, { what: 'dm', atol: 1e-6, rtol: 1e-5 });
      }
      for (const x of [by, bz, bc, binv, bdy, dv, e, dm, ...(bb ? [bb] : [])]) x.release();
    });
  }
});
