// The training and decoding benchmarks, host-free: `npm run bench:train`, `bench:decode` and
// `bench:gpu` run them in Node, the GPU panel's "Benchmark this GPU" in the worker. Every
// figure is a ratio within one run on one adapter:
//   training: the time the step's matmuls would take at the best GFLOPS this run measured for
//     each of their shapes (over every matmul variant), divided by the measured step time
//     (1 = the step runs at the matmul roofline);
//   decoding: the weight bytes a token reads (every linear weight and the head once) per
//     measured token time, divided by a copy kernel's measured bandwidth.
// Per step and per token the device counters (gpu/counters.ts) give dispatches, submits,
// buffer creations, awaited error scopes and readbacks of the steady state (after warm-up).

import { countsDelta, countsPer, type DeviceCounts } from '../gpu/counters.ts';
import type { Gpu } from '../gpu/gpu.ts';
import type { ModelFiles } from '../io/model-files.ts';
import { copy2d } from '../kernels/elementwise.ts';
import { matmul, matmulVariants, type MatmulLayout } from '../kernels/matmul.ts';
import type { ModelSpec } from '../model/config.ts';
import type { BasePrecision } from '../model/decoder.ts';
import { loadModel, type CausalLM } from '../model/load.ts';
import { linearShapes, weightBytes } from '../model/memory.ts';
import { planRun } from '../train/plan.ts';
import { SMOLLM2_135M_CONFIG, syntheticModel } from './synthetic.ts';

export type BenchModel = 'tiny-kjv' | 'smollm2-135m';

export interface TrainBenchConfig {
  label: string;
  model: BenchModel;
  precision: BasePrecision;
  method: string;
  cfg: Record<string, unknown>;
  B: number;
  T: number;
  /** Steps before measuring (planning, autotune), then measured steps. */
  warmup: number;
  steps: number;
}

export interface DecodeBenchConfig {
  label: string;
  model: BenchModel;
  precision: BasePrecision;
  prompt: number;
  tokens: number;
}

/** Per step or per token, averaged over the measured ones. */
export interface Counted {
  dispatches: number;
  submits: number;
  bufferCreations: number;
  awaitedErrorScopes: number;
  readbacks: number;
  readbackBytes: number;
}

export interface TrainBenchRow extends Counted {
  label: string;
  model: BenchModel;
  precision: BasePrecision;
  method: string;
  B: number;
  T: number;
  msPerStep: number;
  tokensPerSec: number;
  /** FLOPs of the step's matmuls (linear layers and head) per measured time. */
  gflops: number;
  /** The step's matmul time at this run's best measured GFLOPS per shape ÷ the step time. */
  rooflineFraction: number;
  loss: number;
}

export interface DecodeBenchRow extends Counted {
  label: string;
  model: BenchModel;
  precision: BasePrecision;
  prompt: number;
  tokens: number;
  msPerToken: number;
  tokensPerSec: number;
  weightBytesPerToken: number;
  /** The prompt's token ids (a peer decodes the same). */
  promptIds?: number[];
  /** Weight bytes per token per token time ÷ the copy kernel's bandwidth. */
  bandwidthFraction: number;
}

export interface CopyBench {
  bytes: number;
  ms: number;
  /** The faster of the copy kernel (elementwise copy2d) and copyBufferToBuffer. */
  gbps: number;
  kernelGbps: number;
  bufferCopyGbps: number;
}

export interface MatmulBench {
  layout: MatmulLayout;
  M: number;
  N: number;
  K: number;
  best: string;
  gflops: number;
}

export const TRAIN_CONFIGS: TrainBenchConfig[] = [
  { label: 'tiny-kjv full', model: 'tiny-kjv', precision: 'f32', method: 'full', cfg: {}, B: 8, T: 24, warmup: 2, steps: 4 },
  { label: 'tiny-kjv LoRA r=8', model: 'tiny-kjv', precision: 'f32', method: 'lora', cfg: { rank: 8 }, B: 8, T: 24, warmup: 2, steps: 4 },
  { label: 'tiny-kjv QLoRA r=8 q4', model: 'tiny-kjv', precision: 'q4', method: 'lora', cfg: { rank: 8 }, B: 8, T: 24, warmup: 2, steps: 4 },
  { label: 'tiny-kjv MeZO', model: 'tiny-kjv', precision: 'f32', method: 'mezo', cfg: {}, B: 8, T: 24, warmup: 2, steps: 4 },
  { label: '135M-shaped LoRA r=8 f32', model: 'smollm2-135m', precision: 'f32', method: 'lora', cfg: { rank: 8, targets: 'q_proj,v_proj' }, B: 1, T: 128, warmup: 2, steps: 2 },
  { label: '135M-shaped LoRA r=8 q4', model: 'smollm2-135m', precision: 'q4', method: 'lora', cfg: { rank: 8, targets: 'q_proj,v_proj' }, B: 1, T: 128, warmup: 2, steps: 2 },
];

export const DECODE_CONFIGS: DecodeBenchConfig[] = [
  { label: 'tiny-kjv f32', model: 'tiny-kjv', precision: 'f32', prompt: 16, tokens: 32 },
  { label: 'tiny-kjv q4', model: 'tiny-kjv', precision: 'q4', prompt: 16, tokens: 32 },
  { label: '135M-shaped f32', model: 'smollm2-135m', precision: 'f32', prompt: 16, tokens: 32 },
  { label: '135M-shaped q4', model: 'smollm2-135m', precision: 'q4', prompt: 16, tokens: 32 },
];

export interface SuiteHost {
  /** The built-in model's files (a folder in Node, public/ in the browser). */
  tinyKjv(): ModelFiles;
  onProgress?(what: string): void;
}

export function modelFiles(host: SuiteHost, m: BenchModel): ModelFiles {
  return m === 'tiny-kjv' ? host.tinyKjv() : syntheticModel({ ...SMOLLM2_135M_CONFIG }, 'smollm2-135m-shaped (random)');
}

function counted(d: DeviceCounts): Counted {
  return {
    dispatches: d.dispatch, submits: d.submit, bufferCreations: d.createBuffer, awaitedErrorScopes: d.popErrorScope,
    readbacks: d.mapAsync, readbackBytes: d.mapBytes,
  };
}

/** Median ms of `run()` (recorded work, then flush), after one warm-up. */
export async function timeIt(gpu: Gpu, run: () => void, reps = 3): Promise<number> {
  run();
  await gpu.flush();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    await gpu.flush();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

/** Bandwidth of a copy over `bytes` (read + written): a copy kernel, and the device's buffer copy. */
export async function copyBandwidth(gpu: Gpu, bytes = 32 * 2 ** 20): Promise<CopyBench> {
  const a = gpu.arena.child();
  try {
    const cols = 4096;
    const rows = Math.floor(bytes / 4 / cols);
    const x = await a.alloc('scratch', rows * cols * 4, 'copy.src');
    const y = await a.alloc('scratch', rows * cols * 4, 'copy.dst');
    const ms = await timeIt(gpu, () => copy2d(gpu, x, y, { rows, cols, srcStride: cols, srcOff: 0, dstStride: cols, dstOff: 0 }));
    // and the device's own buffer copy: the faster of the two is the bandwidth to beat
    const msCopy = await timeIt(gpu, () => gpu.copy(x, y, rows * cols * 4));
    const moved = 2 * rows * cols * 4;
    const best = Math.min(ms, msCopy);
    return { bytes: moved, ms: best, gbps: moved / (best * 1e6), kernelGbps: moved / (ms * 1e6), bufferCopyGbps: moved / (msCopy * 1e6) };
  } finally {
    a.dispose();
  }
}

interface MatmulUse {
  layout: MatmulLayout;
  M: number;
  N: number;
  K: number;
  count: number;
}

/** The linear layers' and the head's matmuls of one step: forward (NT), dX (NN) and, when
 *  the base is trained, dW (TN); `forwards` forward-only passes for zeroth-order methods. */
export function stepMatmuls(spec: ModelSpec, N: number, kind: 'full' | 'frozen' | 'forward', forwards = 1): MatmulUse[] {
  const uses = new Map<string, MatmulUse>();
  const add = (layout: MatmulLayout, M: number, Nn: number, K: number, count = 1) => {
    const k = `${layout}:${M}:${Nn}:${K}`;
    const u = uses.get(k);
    if (u) u.count += count;
    else uses.set(k, { layout, M, N: Nn, K, count });
  };
  const shapes = [...linearShapes(spec).map((l) => ({ out: l.out, in: l.in })), { out: spec.vocab, in: spec.hidden }];
  for (const l of shapes) {
    if (kind === 'forward') {
      add('NT', N, l.out, l.in, forwards);
      continue;
    }
    add('NT', N, l.out, l.in);
    add('NN', N, l.in, l.out);
    if (kind === 'full') add('TN', l.out, l.in, N);
  }
  return [...uses.values()];
}

/** Best GFLOPS over the matmul variants at each shape. */
export async function matmulRoofline(gpu: Gpu, uses: readonly MatmulUse[], cache: Map<string, MatmulBench>): Promise<MatmulBench[]> {
  const out: MatmulBench[] = [];
  for (const u of uses) {
    const key = `${u.layout}:${u.M}:${u.N}:${u.K}`;
    let b = cache.get(key);
    if (!b) {
      const a = gpu.arena.child();
      try {
        const sa = u.layout === 'TN' ? u.K * u.M : u.M * u.K;
        const sb = u.K * u.N;
        const x = await a.alloc('scratch', sa * 4, 'mm.a');
        const y = await a.alloc('scratch', sb * 4, 'mm.b');
        const c = await a.alloc('scratch', u.M * u.N * 4, 'mm.c');
        let best = { v: '', gflops: 0 };
        for (const v of matmulVariants(gpu)) {
          const ms = await timeIt(gpu, () => matmul(gpu, x, y, c, { layout: u.layout, M: u.M, N: u.N, K: u.K }, v), 2);
          const gf = (2 * u.M * u.N * u.K) / (ms * 1e6);
          if (gf > best.gflops) best = { v, gflops: gf };
        }
        b = { layout: u.layout, M: u.M, N: u.N, K: u.K, best: best.v, gflops: best.gflops };
        cache.set(key, b);
      } finally {
        a.dispose();
      }
    }
    out.push(b);
  }
  return out;
}

function randomIds(n: number, vocab: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return 3 + (s % Math.max(1, vocab - 3));
  });
}

export async function benchTrain(gpu: Gpu, host: SuiteHost, c: TrainBenchConfig, roofCache = new Map<string, MatmulBench>()): Promise<TrainBenchRow> {
  host.onProgress?.(`train: ${c.label}`);
  const model: CausalLM = await loadModel(gpu, modelFiles(host, c.model), { precision: c.precision });
  try {
    const plan = planRun(model.spec, { method: c.method, methodConfig: c.cfg, trainer: { lr: 1e-4 }, B: c.B, T: c.T, precision: c.precision, seed: 1 });
    const batch = (step: number) => {
      const ids = randomIds(c.B * c.T + 1, model.spec.vocab, step);
      return { ids: ids.slice(0, -1), targets: ids.slice(1), mask: ids.slice(1).map(() => 1), B: c.B, T: c.T };
    };
    const state = await plan.method.attach(model, plan.config, { seed: 1, trainer: plan.trainer, shape: plan.shape, firstBatch: batch(0) });
    try {
      let step = 0;
      for (let i = 0; i < c.warmup; i++) await state.step([batch(++step)], { step, lr: 1e-4, trainer: plan.trainer });
      const before = { ...gpu.counts };
      const t0 = performance.now();
      let loss = 0;
      for (let i = 0; i < c.steps; i++) loss = (await state.step([batch(++step)], { step, lr: 1e-4, trainer: plan.trainer })).loss;
      const ms = (performance.now() - t0) / c.steps;
      const per = countsPer(countsDelta(gpu.counts, before), c.steps);
      const N = c.B * c.T;
      const zo = plan.method.family === 'zeroth-order';
      const samples = Number((plan.config as Record<string, unknown>).samples ?? 1);
      const uses = stepMatmuls(model.spec, N, zo ? 'forward' : c.method === 'full' ? 'full' : 'frozen', zo ? 2 * samples : 1);
      const best = await matmulRoofline(gpu, uses, roofCache);
      let flops = 0;
      let roofMs = 0;
      uses.forEach((u, i) => {
        const f = 2 * u.M * u.N * u.K * u.count;
        flops += f;
        roofMs += f / (best[i].gflops * 1e6);
      });
      return {
        label: c.label, model: c.model, precision: c.precision, method: c.method, B: c.B, T: c.T, msPerStep: ms, tokensPerSec: (N / ms) * 1000,
        gflops: flops / (ms * 1e6), rooflineFraction: roofMs / ms, loss, ...counted(per),
      };
    } finally {
      state.dispose();
    }
  } finally {
    model.dispose();
  }
}

export async function benchDecode(gpu: Gpu, host: SuiteHost, c: DecodeBenchConfig, copy: CopyBench): Promise<DecodeBenchRow> {
  host.onProgress?.(`decode: ${c.label}`);
  const model: CausalLM = await loadModel(gpu, modelFiles(host, c.model), { precision: c.precision });
  try {
    // one generation to build pipelines and autotune, then the measured one
    const prompt = randomIds(c.prompt, model.spec.vocab, 7);
    await model.generate(prompt, { maxNewTokens: 4 });
    const marks: { t: number; counts: DeviceCounts }[] = [];
    const out = await model.generate(prompt, { maxNewTokens: c.tokens, onToken: () => void marks.push({ t: performance.now(), counts: { ...gpu.counts } }) });
    // tokens 3.. are the steady state (token 1 comes from the prompt's pass, token 2 plans the one-token shape)
    const first = 2;
    const n = marks.length - 1 - first;
    if (n < 1) throw new Error(`decode ${c.label}: only ${out.length} tokens (an end-of-sequence token came early)`);
    const ms = (marks[marks.length - 1].t - marks[first].t) / n;
    const per = countsPer(countsDelta(marks[marks.length - 1].counts, marks[first].counts), n);
    const bytes = weightBytes(model.spec, c.precision);
    return {
      label: c.label, model: c.model, precision: c.precision, prompt: c.prompt, tokens: out.length, msPerToken: ms, tokensPerSec: 1000 / ms,
      weightBytesPerToken: bytes, promptIds: prompt, bandwidthFraction: bytes / (ms * 1e6) / copy.gbps, ...counted(per),
    };
  } finally {
    model.dispose();
  }
}

export interface SuiteResult {
  adapter: string;
  copy: CopyBench;
  matmul: MatmulBench[];
  train: TrainBenchRow[];
  decode: DecodeBenchRow[];
}

/** The GPU panel's set: copy bandwidth, matmul roofline, and the configurations asked for. */
export async function runSuite(gpu: Gpu, host: SuiteHost, which: { train?: readonly TrainBenchConfig[]; decode?: readonly DecodeBenchConfig[] }): Promise<SuiteResult> {
  host.onProgress?.('copy bandwidth');
  const copy = await copyBandwidth(gpu);
  const roof = new Map<string, MatmulBench>();
  const train: TrainBenchRow[] = [];
  for (const c of which.train ?? []) train.push(await benchTrain(gpu, host, c, roof));
  const decode: DecodeBenchRow[] = [];
  for (const c of which.decode ?? []) decode.push(await benchDecode(gpu, host, c, copy));
  return { adapter: gpu.adapterKey, copy, matmul: [...roof.values()], train, decode };
}
