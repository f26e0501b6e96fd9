// The Llama-family decoder (Llama, SmolLM, TinyLlama, Qwen2, Mistral) on the engine's
// kernels: forward to logits, and forward + backward to the loss gradient of every f32
// weight (`lossAndGrads`). Linear weights may be f32 or quantized on load (q8 / q4 / nf4),
// in which case forward and backward-to-input run through the quantized blocks. The KV
// cache, activation checkpointing and GPT-2 come with the models issue.
//
//   x = embed(ids)                                     (B·T, C)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (+ bias)
//               rope(q), rope(k);  o = attention(q, k, v);  x += o·Woᵀ (+ bias)
//               h = rmsnorm(x);  x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ
//   logits = rmsnorm(x)·Wlmᵀ                            (B·T, V); Wlm = embed when tied

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { swigluBackward, swigluForward } from '../kernels/activation.ts';
import { attentionBackward, attentionForward } from '../kernels/attention.ts';
import { axpby, biasAdd, fill } from '../kernels/elementwise.ts';
import { embeddingBackward, embeddingForward, validateTokenIds } from '../kernels/embedding.ts';
import { matmul } from '../kernels/matmul.ts';
import { rmsNormBackward, rmsNormForward } from '../kernels/norm.ts';
import { ropeBackward, ropeForward, ropeInvFreq } from '../kernels/rope.ts';
import { xentChunkBackward, xentChunkForward, xentFinalize } from '../kernels/xent.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { qmatmulBackward, qmatmulForward, uploadQuant, type GpuQuantTensor } from '../kernels/quant.ts';
import { quantize, type QuantFormat } from '../quant/block.ts';
import { uniformRef } from '../kernels/rng.ref.ts';
import { parseModelConfig, type ModelSpec } from './config.ts';
import { GREEDY, sampleToken, type SamplingOptions } from './sampling.ts';

async function meanOf(g: Gpu, rows: GpuBuf, count: number): Promise<number> {
  const v = await g.readF32(rows);
  let sum = 0;
  for (const x of v) sum += x;
  return sum / Math.max(1, count);
}

/** Keys and values of every layer for positions 0 .. pos − 1 of one sequence (B = 1). */
interface KvCache {
  k: GpuBuf[]; // per layer (capacity, Hkv, D)
  v: GpuBuf[];
  pos: number;
  capacity: number;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seed of the sampling stream (Philox uniform(seed, step)). */
  seed: number;
  /** Called with each new token as it is chosen; return false to stop. */
  onToken?: (id: number) => boolean | void;
}

/** A linear layer y = x·Wᵀ + b: W f32 (trainable here) or block-quantized (frozen base). */
interface Linear {
  name: string;
  w: { kind: 'f32'; buf: GpuBuf } | { kind: 'quant'; q: GpuQuantTensor }; // (out, in)
  b?: GpuBuf; // (out)
  out: number;
  in: number;
}

export type BasePrecision = 'f32' | QuantFormat;

export interface LoadOptions {
  /** Keep the linear layers' weights in f32, or quantize them on load (per tensor, streamed). */
  precision?: BasePrecision;
  /** Called after each tensor reaches the GPU. */
  onProgress?: (p: { tensor: string; loaded: number; total: number }) => void;
}

interface Layer {
  attnNorm: GpuBuf;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  mlpNorm: GpuBuf;
  gate: Linear;
  up: Linear;
  down: Linear;
}

export class LlamaModel {
  private constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    private readonly arena: Arena,
    private readonly embed: GpuBuf,
    private readonly layers: Layer[],
    private readonly norm: GpuBuf,
    private readonly lmHead: GpuBuf,
    private readonly invFreq: GpuBuf,
    /** Every f32 weight by its Hugging Face name (the tied head appears once, as the embedding;
     *  quantized linear weights are not here). */
    readonly params: ReadonlyMap<string, GpuBuf>,
  ) {}

  /**
   * Load config.json and the safetensors weights one tensor at a time. With a quantized
   * precision, each linear layer's weight is quantized on the host as it is read and only
   * its blocks reach the GPU; embeddings, norms, biases and an untied output head stay f32.
   */
  static async load(gpu: Gpu, files: ModelFiles, opts: LoadOptions = {}): Promise<LlamaModel> {
    const precision = opts.precision ?? 'f32';
    const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
    if (spec.family !== 'llama' || !spec.rope) throw new Error(`${files.name}: ${spec.architecture} is not a Llama-family model`);
    const ckpt = await Checkpoint.open(files);
    const arena = gpu.arena.child();
    const params = new Map<string, GpuBuf>();
    try {
      let loaded = 0;
      const done = (tensor: string) => opts.onProgress?.({ tensor, loaded: ++loaded, total: ckpt.names.length });
      const read = async (name: string, shape: number[]): Promise<Float32Array> => {
        if (!ckpt.has(name)) throw new Error(`${files.name}: the checkpoint has no tensor "${name}" that ${spec.architecture} needs`);
        const got = ckpt.info(name).shape;
        if (got.join(',') !== shape.join(',')) {
          throw new Error(`${files.name}: tensor "${name}" has shape [${got}], the config implies [${shape}]`);
        }
        return ckpt.readF32(name);
      };
      const tensor = async (name: string, shape: number[]): Promise<GpuBuf> => {
        const b = await gpu.upload('weights', await read(name, shape), name, arena);
        params.set(name, b);
        done(name);
        return b;
      };
      const quantized = async (name: string, out: number, inp: number, f: QuantFormat) => {
        const q = await uploadQuant(gpu, quantize(await read(name, [out, inp]), out, inp, f), name, arena);
        done(name);
        return q;
      };
      const { hidden: C, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = spec;
      const linear = async (name: string, out: number, inp: number, bias: boolean): Promise<Linear> => ({
        name,
        w:
          precision === 'f32'
            ? { kind: 'f32', buf: await tensor(`${name}.weight`, [out, inp]) }
            : { kind: 'quant', q: await quantized(`${name}.weight`, out, inp, precision) },
        b: bias ? await tensor(`${name}.bias`, [out]) : undefined,
        out,
        in: inp,
      });
      const embed = await tensor('model.embed_tokens.weight', [V, C]);
      const layers: Layer[] = [];
      for (let i = 0; i < spec.layers; i++) {
        const p = `model.layers.${i}`;
        layers.push({
          attnNorm: await tensor(`${p}.input_layernorm.weight`, [C]),
          q: await linear(`${p}.self_attn.q_proj`, heads * D, C, spec.qkvBias),
          k: await linear(`${p}.self_attn.k_proj`, kvHeads * D, C, spec.qkvBias),
          v: await linear(`${p}.self_attn.v_proj`, kvHeads * D, C, spec.qkvBias),
          o: await linear(`${p}.self_attn.o_proj`, C, heads * D, spec.oBias),
          mlpNorm: await tensor(`${p}.post_attention_layernorm.weight`, [C]),
          gate: await linear(`${p}.mlp.gate_proj`, I, C, spec.mlpBias),
          up: await linear(`${p}.mlp.up_proj`, I, C, spec.mlpBias),
          down: await linear(`${p}.mlp.down_proj`, C, I, spec.mlpBias),
        });
      }
      const norm = await tensor('model.norm.weight', [C]);
      // Tied when the config says so, or when the checkpoint simply has no lm_head.
      const lmHead = spec.tieEmbeddings || !ckpt.has('lm_head.weight') ? embed : await tensor('lm_head.weight', [V, C]);
      const inv = ropeInvFreq(spec.rope.theta, spec.rope.rotaryDim, spec.rope.scaling);
      const invFreq = await gpu.upload('weights', inv, 'rope.inv_freq', arena);
      return new LlamaModel(gpu, spec, arena, embed, layers, norm, lmHead, invFreq, params);
    } catch (e) {
      arena.dispose();
      throw e;
    }
  }

  /** Logits for every position: ids (B·T) → (B·T, V) on the host. */
  async logits(ids: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const run = this.arena.child();
    try {
      const f = await this.forward(run, ids, B, T, false);
      return await this.gpu.readF32(f.logits);
    } finally {
      run.dispose();
    }
  }

  /**
   * Mean cross-entropy of `targets` over positions where mask = 1, and its gradient with
   * respect to every f32 weight (HF names), allocated in `gradArena` under 'gradients'.
   * Quantized linear weights are frozen: gradients pass through them, none is formed for them.
   * ids, targets, mask: (B·T).
   */
  async lossAndGrads(
    ids: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number, gradArena: Arena,
  ): Promise<{ loss: number; grads: Map<string, GpuBuf> }> {
    const s = this.spec;
    const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = s;
    const N = B * T;
    const g = this.gpu;
    const run = this.arena.child();
    try {
      const f = await this.forward(run, ids, B, T, true);
      const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
      const { tgt, msk, state, lossRows, count } = await this.crossEntropy(run, f.logits, targets, mask, N);
      const dlogits = await act(N * V, 'dlogits');
      xentChunkBackward(g, f.logits, state, tgt, msk, dlogits, N, V, 0, 1 / Math.max(1, count));

      const grads = new Map<string, GpuBuf>();
      const grad = async (name: string, n: number) => {
        const b = await gradArena.alloc('gradients', n * 4, `grad ${name}`);
        grads.set(name, b);
        return b;
      };
      const ones = await act(N, 'ones');
      fill(g, ones, N, 1);
      // Linear layer Y = X·Wᵀ + b: dX = dY·W (beta accumulates), dW = dYᵀ·X, db = 1ᵀ·dY.
      // A quantized weight is frozen: the gradient flows through it to dX, and no dW is formed.
      const linBack = async (l: Linear, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, beta = 0) => {
        if (l.w.kind === 'quant') {
          if (dx) qmatmulBackward(g, dy, l.w.q, dx, N, beta);
        } else {
          if (dx) matmul(g, dy, l.w.buf, dx, { layout: 'NN', M: N, N: l.in, K: l.out, beta });
          matmul(g, dy, x, await grad(`${l.name}.weight`, l.out * l.in), { layout: 'TN', M: l.out, N: l.in, K: N });
        }
        if (l.b) matmul(g, ones, dy, await grad(`${l.name}.bias`, l.out), { layout: 'NN', M: 1, N: l.out, K: N });
      };

      const dx = await act(N * C, 'dx'); // gradient of the residual stream
      const dh = await act(N * C, 'dh');
      const dn = await act(N * C, 'dnorm');
      const tied = this.lmHead === this.embed;
      // logits = hF·Wlmᵀ
      matmul(g, dlogits, this.lmHead, dh, { layout: 'NN', M: N, N: C, K: V });
      const dHead = await grad(tied ? 'model.embed_tokens.weight' : 'lm_head.weight', V * C);
      matmul(g, dlogits, f.hF, dHead, { layout: 'TN', M: V, N: C, K: N });
      rmsNormBackward(g, dh, f.xF, this.norm, f.rstdF, dx, await grad('model.norm.weight', C), N, C);

      const dmlp = await act(N * I, 'dmlp');
      const dgate = await act(N * I, 'dgate');
      const dup = await act(N * I, 'dup');
      const dO = await act(N * Hq * D, 'do');
      const dq = await act(N * Hq * D, 'dq');
      const dk = await act(N * Hkv * D, 'dk');
      const dv = await act(N * Hkv * D, 'dv');
      const drow = await act(B * Hq * T, 'drow');
      const rope = { B, T, D, R: s.rope?.rotaryDim ?? D, posOffset: 0 };
      for (let li = this.layers.length - 1; li >= 0; li--) {
        const L = this.layers[li];
        const a = f.saved[li];
        const p = `model.layers.${li}`;
        // x += down(silu(gate(h2)) ⊙ up(h2)),  h2 = rmsnorm(xMid)
        await linBack(L.down, a.mlp, dx, dmlp);
        swigluBackward(g, dmlp, a.gate, a.up, dgate, dup, N * I);
        await linBack(L.gate, a.h2, dgate, dh);
        await linBack(L.up, a.h2, dup, dh, 1);
        rmsNormBackward(g, dh, a.xMid, L.mlpNorm, a.rstd2, dn, await grad(`${p}.post_attention_layernorm.weight`, C), N, C);
        axpby(g, dn, dx, N * C, 1, 1);
        // x += o_proj(attention(rope(q(h1)), rope(k(h1)), v(h1))),  h1 = rmsnorm(xIn)
        await linBack(L.o, a.o, dx, dO);
        attentionBackward(g, a.q, a.k, a.v, a.o, dO, a.lse, drow, dq, dk, dv, { B, T, Tk: T, Hq, Hkv, D });
        ropeBackward(g, this.invFreq, dq, { ...rope, H: Hq });
        ropeBackward(g, this.invFreq, dk, { ...rope, H: Hkv });
        await linBack(L.q, a.h1, dq, dh);
        await linBack(L.k, a.h1, dk, dh, 1);
        await linBack(L.v, a.h1, dv, dh, 1);
        rmsNormBackward(g, dh, a.xIn, L.attnNorm, a.rstd1, dn, await grad(`${p}.input_layernorm.weight`, C), N, C);
        axpby(g, dn, dx, N * C, 1, 1);
      }
      // x = embed(ids): scatter-add into the embedding gradient (after the tied head's part).
      const dEmbed = tied ? dHead : await grad('model.embed_tokens.weight', V * C);
      embeddingBackward(g, f.ids, dx, dEmbed, N, C, V, tied ? 1 : 0);

      return { loss: await meanOf(g, lossRows, count), grads };
    } finally {
      run.dispose();
    }
  }

  /** Mean cross-entropy of `targets` where mask = 1, forward only.  ids, targets, mask: (B·T) */
  async loss(ids: ArrayLike<number>, targets: ArrayLike<number>, mask: ArrayLike<number>, B: number, T: number): Promise<{ loss: number; tokens: number }> {
    const run = this.arena.child();
    try {
      const f = await this.forward(run, ids, B, T, false);
      const { lossRows, count } = await this.crossEntropy(run, f.logits, targets, mask, B * T);
      return { loss: await meanOf(this.gpu, lossRows, count), tokens: count };
    } finally {
      run.dispose();
    }
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

  /** Record the forward pass into `run`; with `save`, keep what backward needs per layer. */
  /**
   * Record the forward pass into `run`; with `save`, keep what backward needs per layer.
   * With a KV cache (B = 1), the tokens sit at positions cache.pos …, their keys and values
   * are appended to the cache, attention reads the whole cache, and only the last
   * position's logits are formed.
   */
  private async forward(run: Arena, ids: ArrayLike<number>, B: number, T: number, save: boolean, cache?: KvCache) {
    const s = this.spec;
    const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = s;
    if (ids.length !== B * T) throw new RangeError(`forward: ${ids.length} ids for B=${B} T=${T}`);
    validateTokenIds(ids, V);
    const g = this.gpu;
    const N = B * T;
    const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
    const idsBuf = await g.upload('activations', Uint32Array.from(ids), 'ids', run);
    const x = await act(N * C, 'x'); // (B·T, C) residual stream
    const lin = (inp: GpuBuf, l: Linear, out: GpuBuf) => {
      if (l.w.kind === 'quant') qmatmulForward(g, inp, l.w.q, out, N);
      else matmul(g, inp, l.w.buf, out, { layout: 'NT', M: N, N: l.out, K: l.in });
      if (l.b) biasAdd(g, l.b, out, N, l.out);
    };
    if (cache && (B !== 1 || save || cache.pos + T > cache.capacity)) {
      throw new RangeError(`KV cache: B must be 1 and ${cache.pos} + ${T} tokens must fit its ${cache.capacity} positions`);
    }
    const pos = cache?.pos ?? 0;
    const rope = { B, T, D, R: s.rope?.rotaryDim ?? D, posOffset: pos };
    // Without `save`, one set of buffers serves every layer.
    const layerBuffers = async () => ({
      xIn: await act(N * C, 'x.in'),
      rstd1: await act(N, 'rstd1'),
      h1: await act(N * C, 'h1'),
      q: await act(N * Hq * D, 'q'), // (B, T, Hq, D), after RoPE
      k: await act(N * Hkv * D, 'k'), // (B, T, Hkv, D), after RoPE
      v: await act(N * Hkv * D, 'v'),
      o: await act(N * Hq * D, 'o'),
      lse: await act(B * Hq * T, 'lse'),
      y: await act(N * C, 'y'),
      xMid: await act(N * C, 'x.mid'),
      rstd2: await act(N, 'rstd2'),
      h2: await act(N * C, 'h2'),
      gate: await act(N * I, 'gate'), // (B·T, I)
      up: await act(N * I, 'up'),
      mlp: await act(N * I, 'mlp'), // silu(gate) ⊙ up
    });
    const saved: Awaited<ReturnType<typeof layerBuffers>>[] = [];
    let a = await layerBuffers();
    embeddingForward(g, idsBuf, this.embed, x, N, C, V);
    for (const [li, L] of this.layers.entries()) {
      if (save) {
        if (saved.length > 0) a = await layerBuffers();
        saved.push(a);
        g.copy(x, a.xIn);
      }
      rmsNormForward(g, x, L.attnNorm, a.h1, a.rstd1, N, C, s.normEps);
      lin(a.h1, L.q, a.q);
      lin(a.h1, L.k, a.k);
      lin(a.h1, L.v, a.v);
      ropeForward(g, this.invFreq, a.q, { ...rope, H: Hq });
      ropeForward(g, this.invFreq, a.k, { ...rope, H: Hkv });
      if (cache) {
        const row = Hkv * D * 4;
        g.copy(a.k, cache.k[li], N * row, 0, pos * row);
        g.copy(a.v, cache.v[li], N * row, 0, pos * row);
        attentionForward(g, a.q, cache.k[li], cache.v[li], a.o, a.lse, { B, T, Tk: pos + T, Hq, Hkv, D });
      } else attentionForward(g, a.q, a.k, a.v, a.o, a.lse, { B, T, Tk: T, Hq, Hkv, D });
      lin(a.o, L.o, a.y);
      axpby(g, a.y, x, N * C, 1, 1);
      if (save) g.copy(x, a.xMid);
      rmsNormForward(g, x, L.mlpNorm, a.h2, a.rstd2, N, C, s.normEps);
      lin(a.h2, L.gate, a.gate);
      lin(a.h2, L.up, a.up);
      swigluForward(g, a.gate, a.up, a.mlp, N * I);
      lin(a.mlp, L.down, a.y);
      axpby(g, a.y, x, N * C, 1, 1);
    }
    const hF = await act(N * C, 'h.final');
    const rstdF = await act(N, 'rstd.final');
    rmsNormForward(g, x, this.norm, hF, rstdF, N, C, s.normEps);
    const rows = cache ? 1 : N;
    let hOut = hF;
    if (cache) {
      hOut = await act(C, 'h.last');
      g.copy(hF, hOut, C * 4, (N - 1) * C * 4, 0);
      cache.pos += T;
    }
    const logits = await act(rows * V, 'logits'); // (B·T, V), or (1, V) with a cache
    matmul(g, hOut, this.lmHead, logits, { layout: 'NT', M: rows, N: V, K: C });
    return { ids: idsBuf, xF: x, hF, rstdF, logits, saved };
  }

  /**
   * Continue `prompt` with a KV cache: the prompt in one pass, then one token per pass,
   * stopping at an EOS id, after `maxNewTokens`, or when `onToken` returns false.
   */
  async generate(prompt: readonly number[], opts: Partial<GenerateOptions> = {}): Promise<number[]> {
    const o: GenerateOptions = { ...GREEDY, maxNewTokens: 64, seed: 0, ...opts };
    if (prompt.length === 0) throw new RangeError('generate: the prompt needs at least one token (for example BOS)');
    const { kvHeads: Hkv, headDim: D, vocab: V, maxPositions } = this.spec;
    const capacity = Math.min(prompt.length + o.maxNewTokens, maxPositions);
    if (prompt.length >= capacity) throw new RangeError(`generate: a ${prompt.length}-token prompt leaves no room in ${maxPositions} positions`);
    const session = this.arena.child();
    try {
      const cache: KvCache = { k: [], v: [], pos: 0, capacity };
      for (let l = 0; l < this.layers.length; l++) {
        cache.k.push(await session.alloc('activations', capacity * Hkv * D * 4, `kv.k.${l}`));
        cache.v.push(await session.alloc('activations', capacity * Hkv * D * 4, `kv.v.${l}`));
      }
      const out: number[] = [];
      let next: readonly number[] = prompt;
      while (out.length < o.maxNewTokens && cache.pos + next.length <= capacity) {
        const step = session.child();
        let logits: Float32Array;
        try {
          const f = await this.forward(step, next, 1, next.length, false, cache);
          logits = await this.gpu.readF32(f.logits, V);
        } finally {
          step.dispose();
        }
        const id = sampleToken(logits, o, uniformRef(o.seed, out.length));
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
}
