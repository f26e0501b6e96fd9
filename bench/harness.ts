// Benchmark harness shared by bench/cases/*.ts. Each case module exports
// `bench(gpu, ctx): Promise<BenchRow[]>`; bench/kernels.ts finds the modules, runs them,
// prints one table and writes bench/results/kernels.json. Numbers are wall-clock medians
// around submit + onSubmittedWorkDone, so they include dispatch overhead, as a step would.

import type { Gpu } from '../src/engine/gpu/gpu.ts';
import type { Autotuner } from '../src/engine/gpu/autotune.ts';

export interface BenchRow {
  kernel: string;
  variant: string;
  /** For example "M=512 N=512 K=512" */
  shape: string;
  /** 0 where FLOPs are not the measure. */
  gflops: number;
  /** Bytes of inputs read and outputs written per run over time; 0 where not meaningful. */
  gbps: number;
  /** Whether the autotune picked this variant for this shape. */
  chosen: boolean;
  ms: number;
  /** gbps as a fraction of the copy bandwidth measured in the same run (bandwidth-bound
   *  kernels: decoding's GEMV and attention). */
  ofCopy?: number;
}

export interface BenchContext {
  autotuner: Autotuner;
  /** Quick mode (CI smoke): fewer repetitions, smaller shapes where a module offers them. */
  quick: boolean;
  /** Median ms of `run()` (recorded dispatches, then flush), after one warm-up. */
  time(run: () => void, reps?: number): Promise<number>;
}

export type BenchModule = (gpu: Gpu, ctx: BenchContext) => Promise<BenchRow[]>;

export function row(
  kernel: string,
  variant: string,
  shape: string,
  ms: number,
  flops: number,
  bytes: number,
  chosen = false,
): BenchRow {
  return {
    kernel,
    variant,
    shape,
    ms,
    gflops: flops > 0 ? flops / (ms * 1e6) : 0,
    gbps: bytes > 0 ? bytes / (ms * 1e6) : 0,
    chosen,
  };
}
