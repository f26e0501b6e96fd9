// What every decoder-only language model here shares: linear layers (f32 in either storage
// order, or block-quantized), loading weights one tensor at a time with shape checks and
// progress, the loss, forward + backward to every f32 weight, and generation with a KV
// cache. A family (llama.ts, gpt2.ts) supplies its forward pass and its backward pass.

import { MemoryPlan, type Arena, type GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { biasAdd, fill } from '../kernels/elementwise.ts';
import { attentionDecode, attentionDecodeScratchFloats, attentionForward, decodeApplies } from '../kernels/attention.ts';
import { embeddingForward, validateTokenIds } from '../kernels/embedding.ts';
import { matmul } from '../kernels/matmul.ts';
import { gatherQuantRows, qmatmulBackward, qmatmulForward, uploadQuant, type GpuQuantTensor } from '../kernels/quant.ts';
import { gemv, GEMV_MAX_ROWS } from '../kernels/gemv.ts';
import { qgemv } from '../kernels/qmatmul.ts';
import { sampleTokenGpu } from '../kernels/sample.ts';
import { xentChunkBackward, xentChunkForward, xentFinalize } from '../kernels/xent.ts';
import type { Checkpoint } from '../io/model-files.ts';
import { quantize, type QuantFormat, type QuantTensor } from '../quant/block.ts';
import type { ModelSpec } from './config.ts';
import { GREEDY, type SamplingOptions } from './sampling.ts';

export type BasePrecision = 'f32' | QuantFormat;

export interface LoadOptions {
  /** Keep the linear layers' weights in f32, or quantize them on load (per tensor, streamed). */
  precision?: BasePrecision;
  /** With a quantized precision, quantize the token embedding (and a tied or untied output
   *  head) too (default true); false keeps them f32 and trainable. */
  quantizeEmbeddings?: boolean;
  /** Called after each tensor reaches the GPU. */
  onProgress?: (p: { tensor: string; loaded: number; total: number }) => void;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampling stream (Philox uniform(seed, step)). */
  seed: number;
  /** Called with each new token as it is chosen; return false to stop. */
  onToken?: (id: number) => boolean | void;
}

/** Keys and values of every layer for positions 0 .. pos − 1 of one sequence (B = 1). */
export interface KvCache {
  k: GpuBuf[]; // per layer (capacity, Hkv, D)
  v: GpuBuf[];
  pos: number;
  capacity: number;
  /** Flash-decoding scratch (attentionDecodeScratchFloats), when the head dim allows it. */
  part?: GpuBuf;
}

/**
 * A linear layer y = x·W + b. W is stored (out, in) as nn.Linear does ('out-in'), or
 * (in, out) as GPT-2's Conv1D does ('in-out'); or block-quantized (out, in) and frozen
 * (a Conv1D weight is transposed before it is quantized; `layout` remembers where it came
 * from, for exports). A method may hang an adapter on it (LoRA), which adds its own term.
 */
export interface Linear {
  name: string;
  w: { kind: 'f32'; buf: GpuBuf; layout: 'out-in' | 'in-out' } | { kind: 'quant'; q: GpuQuantTensor; layout: 'out-in' | 'in-out' };
  b?: GpuBuf; // (out)
  out: number;
  in: number;
  adapter?: LinearAdapter;
}

/** What forward and backward passes give an adapter: the device and the pass's arena. */
export interface PassContext {
  gpu: Gpu;
  run: Arena;
  /** The pass keeps what backward needs (a training forward). */
  save: boolean;
}

/**
 * A term added to a linear layer's output by a method (LoRA: y += s·(x·Aᵀ)·Bᵀ). Each layer
 * has its own adapter, called once per forward pass and, in reverse order, once per
 * backward pass, so an adapter may keep what it saved in the forward for the backward.
 */
export interface LinearAdapter {
  /** y += Δ(x).  x: (N, in), y: (N, out) */
  forward(ctx: PassContext, x: GpuBuf, y: GpuBuf, N: number): Promise<void>;
  /** dx += (∂Δ/∂x)ᵀ·dy (when dx is given) and the adapter's parameter gradients into grads. */
  backward(ctx: PassContext, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, N: number, grads: Grads): Promise<void>;
}

/** y = x·Wᵀ (+ b) (+ the adapter's term).  x: (N, in), y: (N, out). Up to GEMV_MAX_ROWS rows
 *  (a generated token, a short prompt) take the GEMV kernels, which read each weight once. */
export async function linearForward(ctx: PassContext, x: GpuBuf, l: Linear, y: GpuBuf, N: number): Promise<void> {
  const g = ctx.gpu;
  const few = N <= GEMV_MAX_ROWS;
  if (l.w.kind === 'quant') (few ? qgemv : qmatmulForward)(g, x, l.w.q, y, N);
  else if (few) gemv(g, x, l.w.buf, y, { layout: l.w.layout === 'out-in' ? 'NT' : 'NN', M: N, N: l.out, K: l.in });
  else if (l.w.layout === 'out-in') matmul(g, x, l.w.buf, y, { layout: 'NT', M: N, N: l.out, K: l.in });
  else matmul(g, x, l.w.buf, y, { layout: 'NN', M: N, N: l.out, K: l.in });
  if (l.b) biasAdd(g, l.b, y, N, l.out);
  if (l.adapter) await l.adapter.forward(ctx, x, y, N);
}

/** x = E[ids]: rows of an embedding table held as a (V, C) linear weight, f32 or quantized.
 *  ids: (N) u32, x: (N, C) */
export function embedLookup(g: Gpu, E: Linear, ids: GpuBuf, x: GpuBuf, N: number): void {
  if (E.w.kind === 'quant') gatherQuantRows(g, E.w.q, ids, x, N);
  else embeddingForward(g, ids, E.w.buf, x, N, E.in, E.out);
}

/**
 * Gradients by parameter name, allocated in one arena under 'gradients', for the
 * parameters `wanted` says are trainable. A gradient nobody wants (a frozen norm weight,
 * whose kernel writes one anyway) lands in a scratch buffer that is not reported.
 */
export class Grads {
  readonly map = new Map<string, GpuBuf>();
  constructor(
    private readonly arena: Arena,
    readonly wanted: (name: string) => boolean = () => true,
  ) {}
  async get(name: string, n: number): Promise<GpuBuf> {
    if (!this.wanted(name)) return this.arena.scratch(n * 4, `unused grad ${name}`);
    const b = await this.arena.alloc('gradients', n * 4, `grad ${name}`);
    this.map.set(name, b);
    return b;
  }
}

/**
 * Backward of a linear layer: dx (+)= dy·W, dW = the weight's gradient in its own storage
 * order, db = Σ_rows dy, then the adapter's backward. A quantized weight is frozen: the
 * gradient flows through it to dx, and no dW is formed; nor is a dW or db that `grads`
 * does not want. `ones`: (N) of 1.
 */
export async function linearBackward(
  ctx: PassContext, l: Linear, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, N: number, grads: Grads, ones: GpuBuf, beta = 0,
): Promise<void> {
  const g = ctx.gpu;
  const wantW = grads.wanted(`${l.name}.weight`);
  if (l.w.kind === 'quant') {
    if (dx) qmatmulBackward(g, dy, l.w.q, dx, N, beta);
  } else if (l.w.layout === 'out-in') {
    if (dx) matmul(g, dy, l.w.buf, dx, { layout: 'NN', M: N, N: l.in, K: l.out, beta });
    if (wantW) matmul(g, dy, x, await grads.get(`${l.name}.weight`, l.out * l.in), { layout: 'TN', M: l.out, N: l.in, K: N });
  } else {
    if (dx) matmul(g, dy, l.w.buf, dx, { layout: 'NT', M: N, N: l.in, K: l.out, beta });
    if (wantW) matmul(g, x, dy, await grads.get(`${l.name}.weight`, l.out * l.in), { layout: 'TN', M: l.in, N: l.out, K: N });
  }
  if (l.b && grads.wanted(`${l.name}.bias`)) matmul(g, ones, dy, await grads.get(`${l.name}.bias`, l.out), { layout: 'NN', M: 1, N: l.out, K: N });
  if (l.adapter) await l.adapter.backward(ctx, x, dy, dx, N, grads);
}

/** Reads a checkpoint's tensors onto the GPU with shape checks and progress. */
export class WeightLoader {
  readonly params = new Map<string, GpuBuf>();
  readonly linears = new Map<string, Linear>();
  private loaded = 0;

  constructor(
    private readonly gpu: Gpu,
    private readonly ckpt: Checkpoint,
    readonly arena: Arena,
    private readonly where: string,
    private readonly architecture: string,
    private readonly opts: LoadOptions,
  ) {}

  has(name: string): boolean {
    return this.ckpt.has(name);
  }

  async read(name: string, shape: readonly number[]): Promise<Float32Array> {
    if (!this.ckpt.has(name)) throw new Error(`${this.where}: the checkpoint has no tensor "${name}" that ${this.architecture} needs`);
    const got = this.ckpt.info(name).shape;
    if (got.join(',') !== shape.join(',')) throw new Error(`${this.where}: tensor "${name}" has shape [${got}], the config implies [${shape}]`);
    return this.ckpt.readF32(name);
  }

  /** The tensor as stored blocks of `format`, when the checkpoint holds it so (shape checked). */
  private async blocks(name: string, shape: readonly number[], format: QuantFormat): Promise<QuantTensor | undefined> {
    if (!this.ckpt.has(name)) return undefined;
    const got = this.ckpt.info(name).shape;
    if (got.join(',') !== shape.join(',')) throw new Error(`${this.where}: tensor "${name}" has shape [${got}], the config implies [${shape}]`);
    return this.ckpt.readBlocks(name, format);
  }

  /** An f32 tensor on the GPU, listed in `params` (trainable). */
  async tensor(name: string, shape: readonly number[], data?: Float32Array): Promise<GpuBuf> {
    const b = await this.gpu.upload('weights', data ?? (await this.read(name, shape)), name, this.arena);
    this.params.set(name, b);
    this.done(name);
    return b;
  }

  /**
   * A (V, C) token embedding `name`.weight, held like a linear layer's weight so that a tied
   * output head can be the same object: f32, or quantized with the linear layers (unless
   * opts.quantizeEmbeddings is false). Not listed in `linears`.
   */
  async embedding(name: string, V: number, C: number): Promise<Linear> {
    const precision = this.opts.precision ?? 'f32';
    if (precision === 'f32' || this.opts.quantizeEmbeddings === false) {
      return { name, w: { kind: 'f32', buf: await this.tensor(`${name}.weight`, [V, C]), layout: 'out-in' }, out: V, in: C };
    }
    const q = await uploadQuant(this.gpu, (await this.blocks(`${name}.weight`, [V, C], precision)) ?? quantize(await this.read(`${name}.weight`, [V, C]), V, C, precision), `${name}.weight`, this.arena);
    this.done(`${name}.weight`);
    return { name, w: { kind: 'quant', q, layout: 'out-in' }, out: V, in: C };
  }

  /** A linear layer `name` (.weight, optional .bias) of an (out, in) or Conv1D (in, out) weight;
   *  `quantizable` false keeps it f32 whatever the precision. */
  async linear(name: string, out: number, inp: number, bias: boolean, layout: 'out-in' | 'in-out' = 'out-in', quantizable = true): Promise<Linear> {
    const precision = quantizable ? (this.opts.precision ?? 'f32') : 'f32';
    const shape = layout === 'out-in' ? [out, inp] : [inp, out];
    let w: Linear['w'];
    if (precision === 'f32') w = { kind: 'f32', buf: await this.tensor(`${name}.weight`, shape), layout };
    else {
      // Blocks run along the input dimension, so a Conv1D (in, out) weight is transposed first.
      // A file already holding these blocks (GGUF Q8_0 / Q4_0) is taken as it is.
      let q = layout === 'out-in' ? await this.blocks(`${name}.weight`, shape, precision) : undefined;
      if (!q) {
        const data = await this.read(`${name}.weight`, shape);
        q = quantize(layout === 'out-in' ? data : transpose(data, inp, out), out, inp, precision);
      }
      w = { kind: 'quant', q: await uploadQuant(this.gpu, q, `${name}.weight`, this.arena), layout };
      this.done(`${name}.weight`);
    }
    const l: Linear = { name, w, b: bias ? await this.tensor(`${name}.bias`, [out]) : undefined, out, in: inp };
    this.linears.set(name, l);
    return l;
  }

  private done(tensor: string): void {
    this.opts.onProgress?.({ tensor, loaded: ++this.loaded, total: this.ckpt.names.length });
  }
}

/** (rows, cols) → (cols, rows) */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

async function meanOf(g: Gpu, rows: GpuBuf, count: number): Promise<number> {
  const v = await g.readF32(rows);
  let sum = 0;
  for (const x of v) sum += x;
  return sum / Math.max(1, count);
}

/** What a family's forward pass leaves for the shared code and its own backward. */
export interface ForwardResult {
  /** (B·T, V), or (1, V) when run with a KV cache. */
  logits: GpuBuf;
}

/** Buffers of one backward pass: the residual-stream gradient is the family's business. */
export interface BackwardContext {
  run: Arena;
  pass: PassContext;
  grads: Grads;
  /** (B·T) of 1, for bias gradients. */
  ones: GpuBuf;
  B: number;
  T: number;
}

export abstract class DecoderLM<F extends ForwardResult> {
  /** Activations and scratch of loss / logits / training passes, planned once per shape and
   *  reused pass after pass (see MemoryPlan). */
  private passPlan: MemoryPlan | undefined;

  protected constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    protected readonly arena: Arena,
    /** Every f32 weight by its checkpoint name (a tied head appears once, as the embedding;
     *  quantized linear weights are not here). */
    readonly params: ReadonlyMap<string, GpuBuf>,
    /** Every linear layer by module name (`model.layers.0.self_attn.q_proj`), f32 or quantized. */
    readonly linears: ReadonlyMap<string, Linear>,
  ) {}

  /** Record the forward pass into `run`; with `save`, keep what backward needs. With a KV
   *  cache (B = 1) the tokens sit at positions cache.pos …, their keys and values join the
   *  cache, and only the last position's logits are formed. */
  protected abstract forward(run: Arena, ids: ArrayLike<number>, B: number, T: number, save: boolean, cache?: KvCache): Promise<F>;

  /** Given dL/dlogits (B·T, V), form every f32 weight's gradient in `ctx.grads`. */
  protected abstract backward(f: F, dlogits: GpuBuf, ctx: BackwardContext): Promise<void>;

  /** The arena of one pass, from the model's memory plan; hand it back with `endPass`. */
  protected beginPass(): Arena {
    this.passPlan ??= new MemoryPlan(this.arena);
    return this.passPlan.begin();
  }

  protected endPass(run: Arena): void {
    this.passPlan?.end(run);
  }

  /** Free the planned pass memory (a run is over; the next pass plans again). */
  releasePlans(): void {
    this.passPlan?.release();
  }

  /** Logits for every position: ids (B·T) → (B·T, V) on the host. Not a hot path: its
   *  buffers are freed when it returns. */
  async logits(ids: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const run = this.arena.child();
    try {
      const f = await this.forward(run, ids, B, T, false);
      return await this.gpu.readF32(f.logits);
    } finally {
      run.dispose();
    }
  }

  /** Mean cross-entropy of `targets` where mask = 1, forward only.  ids, targets, mask: (B·T) */
  async loss(ids: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number): Promise<{ loss: number; tokens: number }> {
    const run = this.beginPass();
    try {
      const f = await this.forward(run, ids, B, T, false);
      const { lossRows, count } = await this.crossEntropy(run, f.logits, targets, mask, B * T);
      return { loss: await meanOf(this.gpu, lossRows, count), tokens: count };
    } finally {
      this.endPass(run);
    }
  }

  /**
   * Mean cross-entropy of `targets` over positions where mask = 1, and its gradient with
   * respect to every f32 weight (checkpoint names) and adapter parameter that `wanted`
   * names (default: every f32 weight), allocated in `gradArena` under 'gradients'.
   * Quantized linear weights are frozen: gradients pass through them.
   */
  async lossAndGrads(
    ids: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number, gradArena: Arena,
    wanted?: (name: string) => boolean,
  ): Promise<{ loss: number; grads: Map<string, GpuBuf> }> {
    const rows = await gradArena.alloc('scratch', B * T * 4, 'loss rows');
    const r = await this.lossAndGradsOnGpu(ids, targets, mask, B, T, gradArena, rows, wanted);
    return { loss: await meanOf(this.gpu, rows, r.count), grads: r.grads };
  }

  /**
   * lossAndGrads without a readback: the per-row losses are copied into `lossRows` (B·T)
   * (0 where the mask is 0) and `count` is the number of counted positions, so a caller
   * can read them back with the step's other numbers, after recording the update.
   */
  async lossAndGradsOnGpu(
    ids: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number, gradArena: Arena,
    lossOut: GpuBuf, wanted?: (name: string) => boolean,
  ): Promise<{ count: number; grads: Map<string, GpuBuf> }> {
    const N = B * T;
    const V = this.spec.vocab;
    const g = this.gpu;
    const run = this.beginPass();
    try {
      const f = await this.forward(run, ids, B, T, true);
      const { tgt, msk, state, lossRows, count } = await this.crossEntropy(run, f.logits, targets, mask, N);
      const dlogits = await run.alloc('activations', N * V * 4, 'dlogits');
      xentChunkBackward(g, f.logits, state, tgt, msk, dlogits, N, V, 0, 1 / Math.max(1, count));
      const ones = await run.alloc('activations', N * 4, 'ones');
      fill(g, ones, N, 1);
      const grads = new Grads(gradArena, wanted);
      await this.backward(f, dlogits, { run, pass: { gpu: g, run, save: true }, grads, ones, B, T });
      g.copy(lossRows, lossOut, N * 4);
      return { count, grads: grads.map };
    } finally {
      this.endPass(run);
    }
  }

  /**
   * Continue `prompt` with a KV cache: the prompt in one pass, then one token per pass,
   * stopping at an EOS id, after `maxNewTokens`, or when `onToken` returns false.
   */
  async generate(prompt: readonly number[], opts: Partial<GenerateOptions> = {}): Promise<number[]> {
    const o: GenerateOptions = { ...GREEDY, maxNewTokens: 64, seed: 0, ...opts };
    if (prompt.length === 0) throw new RangeError('generate: the prompt needs at least one token (for example BOS)');
    const { kvHeads: Hkv, headDim: D, vocab: V, maxPositions, layers } = this.spec;
    const capacity = Math.min(prompt.length + o.maxNewTokens, maxPositions);
    if (prompt.length >= capacity) throw new RangeError(`generate: a ${prompt.length}-token prompt leaves no room in ${maxPositions} positions`);
    // Memory per generation: the KV cache at the start, then each token's pass from a plan
    // (the prompt's shape once, then the one-token shape reused), all freed at the end.
    const session = this.arena.child();
    const steps = new MemoryPlan(session);
    try {
      const cache: KvCache = { k: [], v: [], pos: 0, capacity };
      for (let l = 0; l < layers; l++) {
        cache.k.push(await session.alloc('activations', capacity * Hkv * D * 4, `kv.k.${l}`));
        cache.v.push(await session.alloc('activations', capacity * Hkv * D * 4, `kv.v.${l}`));
      }
      if (D % 4 === 0) cache.part = await session.alloc('activations', attentionDecodeScratchFloats(this.spec.heads, D) * 4, 'kv.split');
      const out: number[] = [];
      let next: readonly number[] = prompt;
      while (out.length < o.maxNewTokens && cache.pos + next.length <= capacity) {
        const step = steps.begin();
        let id: number;
        try {
          const f = await this.forward(step, next, 1, next.length, false, cache);
          // The token is chosen on the GPU (seeded Philox uniform number out.length): 4 bytes back.
          const chosen = await step.alloc('activations', 4, 'token');
          sampleTokenGpu(this.gpu, f.logits, V, chosen, { ...o, index: out.length });
          id = new Uint32Array(await this.gpu.read(chosen, 4))[0];
        } finally {
          steps.end(step);
        }
        out.push(id);
        if (o.onToken?.(id) === false || this.spec.eosTokenIds.includes(id)) break;
        next = [id];
      }
      return out;
    } finally {
      session.dispose();
    }
  }

  dispose(): void {
    this.arena.dispose();
  }

  /**
   * The start of every family's forward: checks the ids and the KV cache request, uploads
   * the ids, and returns the first position of these tokens.
   */
  protected async begin(run: Arena, ids: ArrayLike<number>, B: number, T: number, save: boolean, cache?: KvCache) {
    if (ids.length !== B * T) throw new RangeError(`forward: ${ids.length} ids for B=${B} T=${T}`);
    validateTokenIds(ids, this.spec.vocab);
    if (cache && (B !== 1 || save || cache.pos + T > cache.capacity)) {
      throw new RangeError(`KV cache: B must be 1 and ${cache.pos} + ${T} tokens must fit its ${cache.capacity} positions`);
    }
    if (!cache && T > this.spec.maxPositions) throw new RangeError(`${T} tokens are more than the model's ${this.spec.maxPositions} positions`);
    const idsBuf = await this.gpu.upload('activations', Uint32Array.from(ids), 'ids', run);
    return { idsBuf, start: cache?.pos ?? 0 };
  }

  /** Attention of layer `li`, through the KV cache when there is one (appending k and v).
   *  q: (B, T, Hq, D); k, v: (B, T, Hkv, D); o: like q; lse: (B, Hq, T). */
  protected attend(li: number, q: GpuBuf, k: GpuBuf, v: GpuBuf, o: GpuBuf, lse: GpuBuf, B: number, T: number, cache?: KvCache): void {
    const { heads: Hq, kvHeads: Hkv, headDim: D } = this.spec;
    const g = this.gpu;
    if (!cache) return attentionForward(g, q, k, v, o, lse, { B, T, Tk: T, Hq, Hkv, D });
    const row = Hkv * D * 4;
    g.copy(k, cache.k[li], T * row, 0, cache.pos * row);
    g.copy(v, cache.v[li], T * row, 0, cache.pos * row);
    const s = { B, T, Tk: cache.pos + T, Hq, Hkv, D };
    // A token (or a short prompt) over the cache: flash-decoding, split across the keys.
    if (cache.part && decodeApplies(s)) attentionDecode(g, q, cache.k[li], cache.v[li], o, lse, cache.part, s);
    else attentionForward(g, q, cache.k[li], cache.v[li], o, lse, s);
  }

  /** logits = h·headᵀ for every row, or only the last row when generating (which also
   *  advances the cache past these T tokens).  h: (B·T, C), head: (V, C), f32 or quantized */
  protected async head(run: Arena, h: GpuBuf, head: Linear, N: number, T: number, cache?: KvCache): Promise<GpuBuf> {
    const { hidden: C, vocab: V } = this.spec;
    const g = this.gpu;
    let rows = N;
    let src = h;
    if (cache) {
      rows = 1;
      src = await run.alloc('activations', C * 4, 'h.last');
      g.copy(h, src, C * 4, (N - 1) * C * 4, 0);
      cache.pos += T;
    }
    const logits = await run.alloc('activations', rows * V * 4, 'logits'); // (B·T, V) or (1, V)
    await linearForward({ gpu: g, run, save: false }, src, head, logits, rows);
    return logits;
  }

  /** Per-row losses of (N, V) logits in one vocabulary chunk, and the state backward needs. */
  private async crossEntropy(run: Arena, logits: GpuBuf, targets: ArrayLike<number>, mask: ArrayLike<number>, N: number) {
    const V = this.spec.vocab;
    if (targets.length !== N || mask.length !== N) throw new RangeError(`loss: need ${N} targets and mask values, got ${targets.length} and ${mask.length}`);
    validateTokenIds(targets, V, 'targets');
    let count = 0;
    for (let i = 0; i < N; i++) count += mask[i] ? 1 : 0;
    const g = this.gpu;
    const tgt = await g.upload('activations', Uint32Array.from(targets), 'targets', run);
    const msk = await g.upload('activations', Uint32Array.from(mask, (m) => (m ? 1 : 0)), 'mask', run);
    const state = await run.alloc('activations', N * 3 * 4, 'xent.state');
    const lossRows = await run.alloc('activations', N * 4, 'loss');
    const lse = await run.alloc('activations', N * 4, 'lse');
    xentChunkForward(g, logits, tgt, state, N, V, 0, true);
    xentFinalize(g, state, msk, lossRows, lse, N);
    return { tgt, msk, state, lossRows, count };
  }
}
