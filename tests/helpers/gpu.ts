// Shared test helpers: one GPU per test file (Node host, Dawn + SwiftShader here), seeded
// random data, and the `|gpu - ref| <= atol + rtol·|ref|` comparison every kernel test uses.

import { afterAll, expect } from 'vitest';
import type { GpuBuf } from '../../src/engine/gpu/arena.ts';
import { Gpu } from '../../src/engine/gpu/gpu.ts';
import { nodeHost } from '../../src/engine/gpu/host-node.ts';
import type { LedgerCategory } from '../../src/engine/gpu/ledger.ts';

let shared: Promise<Gpu> | undefined;

/** The test GPU. A missing adapter fails the test (never a skip), with the advice to fix it. */
export function testGpu(): Promise<Gpu> {
  if (!shared) {
    shared = Gpu.create(nodeHost());
    afterAll(async () => {
      const g = await shared;
      g?.destroy();
      shared = undefined;
    });
  }
  return shared;
}

/** Deterministic PRNG (mulberry32) for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [lo, hi). */
export function randn(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export async function upload(gpu: Gpu, data: Float32Array | Uint32Array | Int32Array, category: LedgerCategory = 'activations'): Promise<GpuBuf> {
  return gpu.upload(category, data, 'test');
}

export async function zeros(gpu: Gpu, n: number, category: LedgerCategory = 'activations'): Promise<GpuBuf> {
  return gpu.upload(category, new Float32Array(n), 'test-zeros');
}

/** Worst violation of |a - b| <= atol + rtol*|b|, with its index, or undefined if all pass. */
export function closeViolation(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number) {
  if (actual.length !== expected.length) return { index: -1, actual: actual.length, expected: expected.length, excess: Infinity };
  let worst: { index: number; actual: number; expected: number; excess: number } | undefined;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0) && (!worst || !(excess <= worst.excess))) worst = { index: i, actual: a, expected: e, excess };
  }
  return worst;
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what = ''): void {
  const v = closeViolation(actual, expected, atol, rtol);
  expect(v, `${what}: |gpu - ref| <= ${atol} + ${rtol}*|ref| violated`).toBeUndefined();
}

/**
 * Central finite difference of a scalar function `f(x)` at a few indices, compared with an
 * analytic gradient. Runs in float64 on the reference implementations.
 */
export function checkGradient(
  f: (x: Float64Array) => number,
  x: Float64Array,
  grad: ArrayLike<number>,
  opts: { indices?: number[]; h?: number; atol?: number; rtol?: number; what?: string } = {},
): void {
  const h = opts.h ?? 1e-5;
  const idx = opts.indices ?? Array.from({ length: Math.min(x.length, 24) }, (_, i) => Math.floor((i * x.length) / Math.min(x.length, 24)));
  const num: number[] = [];
  const ana: number[] = [];
  for (const i of idx) {
    const old = x[i];
    x[i] = old + h;
    const fp = f(x);
    x[i] = old - h;
    const fm = f(x);
    x[i] = old;
    num.push((fp - fm) / (2 * h));
    ana.push(grad[i]);
  }
  expectClose(ana, num, opts.atol ?? 1e-6, opts.rtol ?? 1e-4, `finite differences ${opts.what ?? ''}`);
}

/** Dot product helper for building scalar losses L = sum(out * w) in gradient checks. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
