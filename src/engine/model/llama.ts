// The Llama family (Llama, SmolLM, TinyLlama, Llama 3.x, Qwen2, Mistral without sliding
// window) on the engine's kernels. Linear weights may be f32 or quantized on load.
//
//   x = embed(ids)                                     (B·T, C)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (+ bias)
//               rope(q), rope(k);  o = attention(q, k, v);  x += o·Woᵀ (+ bias)
//               h = rmsnorm(x);  x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ
//   logits = rmsnorm(x)·Wlmᵀ                            (B·T, V); Wlm = embed when tied

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { swigluBackward, swigluForward } from '../kernels/activation.ts';
import { attentionBackward } from '../kernels/attention.ts';
import { axpby } from '../kernels/elementwise.ts';
import { embeddingBackward } from '../kernels/embedding.ts';
import { rmsNormBackward, rmsNormForward } from '../kernels/norm.ts';
import { ropeBackward, ropeForward, ropeInvFreq } from '../kernels/rope.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { parseModelConfig, type ModelSpec } from './config.ts';
import {
  DecoderLM, embedLookup, linearBackward, linearForward, WeightLoader,
  type BackwardContext, type ForwardResult, type KvCache, type Linear, type LoadOptions,
} from './decoder.ts';

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

/** Per-layer activations the backward pass reads. */
interface Saved {
  xIn: GpuBuf; // (B·T, C) residual stream entering the layer
  rstd1: GpuBuf;
  h1: GpuBuf;
  q: GpuBuf; // (B, T, Hq, D), after RoPE
  k: GpuBuf; // (B, T, Hkv, D), after RoPE
  v: GpuBuf;
  o: GpuBuf;
  lse: GpuBuf;
  y: GpuBuf;
  xMid: GpuBuf; // after the attention residual
  rstd2: GpuBuf;
  h2: GpuBuf;
  gate: GpuBuf; // (B·T, I)
  up: GpuBuf;
  mlp: GpuBuf; // silu(gate) ⊙ up
}

interface LlamaForward extends ForwardResult {
  ids: GpuBuf;
  xF: GpuBuf;
  hF: GpuBuf;
  rstdF: GpuBuf;
  saved: Saved[];
}

export class LlamaModel extends DecoderLM<LlamaForward> {
  private constructor(
    gpu: Gpu,
    spec: ModelSpec,
    arena: Arena,
    params: ReadonlyMap<string, GpuBuf>,
    linears: ReadonlyMap<string, Linear>,
    private readonly embed: Linear, // (V, C)
    private readonly layers: Layer[],
    private readonly norm: GpuBuf,
    private readonly lmHead: Linear, // (V, C); the embedding itself when tied
    private readonly invFreq: GpuBuf,
  ) {
    super(gpu, spec, arena, params, linears);
  }

  /**
   * Load config.json and the safetensors weights one tensor at a time. With a quantized
   * precision, each linear layer's weight is quantized on the host as it is read and only
   * its blocks reach the GPU, and so do the embedding's and an untied head's (unless
   * opts.quantizeEmbeddings is false); norms and biases stay f32.
   */
  static async load(gpu: Gpu, files: ModelFiles, opts: LoadOptions = {}): Promise<LlamaModel> {
    const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
    return LlamaModel.fromCheckpoint(gpu, files, spec, await Checkpoint.open(files), opts);
  }

  static async fromCheckpoint(gpu: Gpu, files: ModelFiles, spec: ModelSpec, ckpt: Checkpoint, opts: LoadOptions): Promise<LlamaModel> {
    if (spec.family !== 'llama' || !spec.rope) throw new Error(`${files.name}: ${spec.architecture} is not a Llama-family model`);
    const arena = gpu.arena.child();
    try {
      const w = new WeightLoader(gpu, ckpt, arena, files.name, spec.architecture, opts);
      const { hidden: C, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = spec;
      const embed = await w.embedding('model.embed_tokens', V, C);
      const layers: Layer[] = [];
      for (let i = 0; i < spec.layers; i++) {
        const p = `model.layers.${i}`;
        layers.push({
          attnNorm: await w.tensor(`${p}.input_layernorm.weight`, [C]),
          q: await w.linear(`${p}.self_attn.q_proj`, heads * D, C, spec.qkvBias),
          k: await w.linear(`${p}.self_attn.k_proj`, kvHeads * D, C, spec.qkvBias),
          v: await w.linear(`${p}.self_attn.v_proj`, kvHeads * D, C, spec.qkvBias),
          o: await w.linear(`${p}.self_attn.o_proj`, C, heads * D, spec.oBias),
          mlpNorm: await w.tensor(`${p}.post_attention_layernorm.weight`, [C]),
          gate: await w.linear(`${p}.mlp.gate_proj`, I, C, spec.mlpBias),
          up: await w.linear(`${p}.mlp.up_proj`, I, C, spec.mlpBias),
          down: await w.linear(`${p}.mlp.down_proj`, C, I, spec.mlpBias),
        });
      }
      const norm = await w.tensor('model.norm.weight', [C]);
      // Tied when the config says so, or when the checkpoint simply has no lm_head.
      const tied = spec.tieEmbeddings || !w.has('lm_head.weight');
      const lmHead = tied ? embed : await w.linear('lm_head', V, C, false, 'out-in', opts.quantizeEmbeddings !== false);
      const inv = ropeInvFreq(spec.rope.theta, spec.rope.rotaryDim, spec.rope.scaling);
      const invFreq = await gpu.upload('weights', inv, 'rope.inv_freq', arena);
      return new LlamaModel(gpu, spec, arena, w.params, w.linears, embed, layers, norm, lmHead, invFreq);
    } catch (e) {
      arena.dispose();
      throw e;
    }
  }

  protected async forward(run: Arena, ids: ArrayLike<number>, B: number, T: number, save: boolean, cache?: KvCache): Promise<LlamaForward> {
    const s = this.spec;
    const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I } = s;
    const { idsBuf, start: pos } = await this.begin(run, ids, B, T, save, cache);
    const g = this.gpu;
    const N = B * T;
    const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
    const pc = { gpu: g, run, save };
    const x = await act(N * C, 'x'); // (B·T, C) residual stream
    const rope = { B, T, D, R: s.rope?.rotaryDim ?? D, posOffset: pos };
    // Without `save`, one set of buffers serves every layer.
    const layerBuffers = async (): Promise<Saved> => ({
      xIn: await act(N * C, 'x.in'),
      rstd1: await act(N, 'rstd1'),
      h1: await act(N * C, 'h1'),
      q: await act(N * Hq * D, 'q'),
      k: await act(N * Hkv * D, 'k'),
      v: await act(N * Hkv * D, 'v'),
      o: await act(N * Hq * D, 'o'),
      lse: await act(B * Hq * T, 'lse'),
      y: await act(N * C, 'y'),
      xMid: await act(N * C, 'x.mid'),
      rstd2: await act(N, 'rstd2'),
      h2: await act(N * C, 'h2'),
      gate: await act(N * I, 'gate'),
      up: await act(N * I, 'up'),
      mlp: await act(N * I, 'mlp'),
    });
    const saved: Saved[] = [];
    let a = await layerBuffers();
    embedLookup(g, this.embed, idsBuf, x, N);
    for (const [li, L] of this.layers.entries()) {
      if (save) {
        if (saved.length > 0) a = await layerBuffers();
        saved.push(a);
        g.copy(x, a.xIn);
      }
      rmsNormForward(g, x, L.attnNorm, a.h1, a.rstd1, N, C, s.normEps);
      await linearForward(pc, a.h1, L.q, a.q, N);
      await linearForward(pc, a.h1, L.k, a.k, N);
      await linearForward(pc, a.h1, L.v, a.v, N);
      ropeForward(g, this.invFreq, a.q, { ...rope, H: Hq });
      ropeForward(g, this.invFreq, a.k, { ...rope, H: Hkv });
      this.attend(li, a.q, a.k, a.v, a.o, a.lse, B, T, cache);
      await linearForward(pc, a.o, L.o, a.y, N);
      axpby(g, a.y, x, N * C, 1, 1);
      if (save) g.copy(x, a.xMid);
      rmsNormForward(g, x, L.mlpNorm, a.h2, a.rstd2, N, C, s.normEps);
      await linearForward(pc, a.h2, L.gate, a.gate, N);
      await linearForward(pc, a.h2, L.up, a.up, N);
      swigluForward(g, a.gate, a.up, a.mlp, N * I);
      await linearForward(pc, a.mlp, L.down, a.y, N);
      axpby(g, a.y, x, N * C, 1, 1);
    }
    const hF = await act(N * C, 'h.final');
    const rstdF = await act(N, 'rstd.final');
    rmsNormForward(g, x, this.norm, hF, rstdF, N, C, s.normEps);
    const logits = await this.head(run, hF, this.lmHead, N, T, cache);
    return { ids: idsBuf, xF: x, hF, rstdF, logits, saved };
  }

  protected async backward(f: LlamaForward, dlogits: GpuBuf, ctx: BackwardContext): Promise<void> {
    const s = this.spec;
    const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = s;
    const { run, pass, grads, ones, B, T } = ctx;
    const g = this.gpu;
    const N = B * T;
    const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
    const lin = (l: Linear, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, beta = 0) => linearBackward(pass, l, x, dy, dx, N, grads, ones, beta);
    const dx = await act(N * C, 'dx'); // gradient of the residual stream
    const dh = await act(N * C, 'dh');
    const dn = await act(N * C, 'dnorm');
    const tied = this.lmHead === this.embed;
    // logits = hF·Wlmᵀ
    await lin(this.lmHead, f.hF, dlogits, dh);
    rmsNormBackward(g, dh, f.xF, this.norm, f.rstdF, dx, await grads.get('model.norm.weight', C), N, C);

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
      await lin(L.down, a.mlp, dx, dmlp);
      swigluBackward(g, dmlp, a.gate, a.up, dgate, dup, N * I);
      await lin(L.gate, a.h2, dgate, dh);
      await lin(L.up, a.h2, dup, dh, 1);
      rmsNormBackward(g, dh, a.xMid, L.mlpNorm, a.rstd2, dn, await grads.get(`${p}.post_attention_layernorm.weight`, C), N, C);
      axpby(g, dn, dx, N * C, 1, 1);
      // x += o_proj(attention(rope(q(h1)), rope(k(h1)), v(h1))),  h1 = rmsnorm(xIn)
      await lin(L.o, a.o, dx, dO);
      attentionBackward(g, a.q, a.k, a.v, a.o, dO, a.lse, drow, dq, dk, dv, { B, T, Tk: T, Hq, Hkv, D });
      ropeBackward(g, this.invFreq, dq, { ...rope, H: Hq });
      ropeBackward(g, this.invFreq, dk, { ...rope, H: Hkv });
      await lin(L.q, a.h1, dq, dh);
      await lin(L.k, a.h1, dk, dh, 1);
      await lin(L.v, a.h1, dv, dh, 1);
      rmsNormBackward(g, dh, a.xIn, L.attnNorm, a.rstd1, dn, await grads.get(`${p}.input_layernorm.weight`, C), N, C);
      axpby(g, dn, dx, N * C, 1, 1);
    }
    // x = embed(ids): scatter-add into the embedding gradient (after the tied head's part).
    const name = 'model.embed_tokens.weight';
    if (this.embed.w.kind !== 'f32' || !grads.wanted(name)) return;
    const dEmbed = tied ? grads.map.get(name) : await grads.get(name, V * C);
    if (dEmbed) embeddingBackward(g, f.ids, dx, dEmbed, N, C, V, tied ? 1 : 0);
  }
}
