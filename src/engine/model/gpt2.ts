// GPT-2 (GPT2LMHeadModel) on the engine's kernels, f32 weights.
//
//   x = wte[ids] + wpe[positions]                       (B·T, C)
//   per layer:  h = ln_1(x);  q | k | v = h·c_attn (+ b)   (Conv1D: W stored (in, out))
//               o = attention(q, k, v);  x += o·c_proj (+ b)
//               h = ln_2(x);  x += gelu_tanh(h·c_fc + b)·mlp.c_proj (+ b)
//   logits = ln_f(x)·wteᵀ                               (B·T, V), always tied
// Checkpoint names with or without the "transformer." prefix; the attn.bias mask buffers of
// old checkpoints are ignored. Conv1D weights keep their (in, out) storage, so gradients
// come back in the checkpoint's own layout.

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { geluBackward, geluForward } from '../kernels/activation.ts';
import { attentionBackward } from '../kernels/attention.ts';
import { axpby, copy2d } from '../kernels/elementwise.ts';
import { embeddingBackward, embeddingForward } from '../kernels/embedding.ts';
import { layerNormBackward, layerNormForward } from '../kernels/norm.ts';
import type { Checkpoint, ModelFiles } from '../io/model-files.ts';
import type { ModelSpec } from './config.ts';
import {
  DecoderLM, embedLookup, linearBackward, linearForward, WeightLoader,
  type BackwardContext, type ForwardResult, type KvCache, type Linear, type LoadOptions,
} from './decoder.ts';

interface Norm {
  name: string;
  w: GpuBuf;
  b: GpuBuf;
}

interface Layer {
  ln1: Norm;
  attn: Linear; // c_attn: C → 3C
  proj: Linear; // attn.c_proj: C → C
  ln2: Norm;
  fc: Linear; // mlp.c_fc: C → I
  out: Linear; // mlp.c_proj: I → C
}

interface Saved {
  xIn: GpuBuf;
  mean1: GpuBuf;
  rstd1: GpuBuf;
  h1: GpuBuf;
  qkv: GpuBuf; // (B·T, 3C)
  q: GpuBuf; // (B, T, H, D)
  k: GpuBuf;
  v: GpuBuf;
  o: GpuBuf;
  lse: GpuBuf;
  y: GpuBuf;
  xMid: GpuBuf;
  mean2: GpuBuf;
  rstd2: GpuBuf;
  h2: GpuBuf;
  f: GpuBuf; // (B·T, I) before GELU
  a: GpuBuf; // after GELU
}

interface Gpt2Forward extends ForwardResult {
  ids: GpuBuf;
  pos: GpuBuf;
  xF: GpuBuf;
  meanF: GpuBuf;
  rstdF: GpuBuf;
  hF: GpuBuf;
  saved: Saved[];
}

export class Gpt2Model extends DecoderLM<Gpt2Forward> {
  private constructor(
    gpu: Gpu,
    spec: ModelSpec,
    arena: Arena,
    params: ReadonlyMap<string, GpuBuf>,
    linears: ReadonlyMap<string, Linear>,
    private readonly prefix: string,
    private readonly wte: Linear, // (V, C), also the output head
    private readonly wpe: GpuBuf,
    private readonly layers: Layer[],
    private readonly lnF: Norm,
  ) {
    super(gpu, spec, arena, params, linears);
  }

  static async fromCheckpoint(gpu: Gpu, files: ModelFiles, spec: ModelSpec, ckpt: Checkpoint, opts: LoadOptions): Promise<Gpt2Model> {
    if (spec.family !== 'gpt2') throw new Error(`${files.name}: ${spec.architecture} is not GPT-2`);
    const arena = gpu.arena.child();
    try {
      const prefix = ckpt.has('transformer.wte.weight') ? 'transformer.' : '';
      const w = new WeightLoader(gpu, ckpt, arena, files.name, spec.architecture, opts);
      const { hidden: C, intermediate: I, vocab: V, maxPositions: P } = spec;
      const norm = async (name: string): Promise<Norm> => ({ name, w: await w.tensor(`${name}.weight`, [C]), b: await w.tensor(`${name}.bias`, [C]) });
      const wte = await w.embedding(`${prefix}wte`, V, C);
      const wpe = await w.tensor(`${prefix}wpe.weight`, [P, C]);
      const layers: Layer[] = [];
      for (let i = 0; i < spec.layers; i++) {
        const p = `${prefix}h.${i}`;
        layers.push({
          ln1: await norm(`${p}.ln_1`),
          attn: await w.linear(`${p}.attn.c_attn`, 3 * C, C, true, 'in-out'),
          proj: await w.linear(`${p}.attn.c_proj`, C, C, true, 'in-out'),
          ln2: await norm(`${p}.ln_2`),
          fc: await w.linear(`${p}.mlp.c_fc`, I, C, true, 'in-out'),
          out: await w.linear(`${p}.mlp.c_proj`, C, I, true, 'in-out'),
        });
      }
      const lnF = await norm(`${prefix}ln_f`);
      return new Gpt2Model(gpu, spec, arena, w.params, w.linears, prefix, wte, wpe, layers, lnF);
    } catch (e) {
      arena.dispose();
      throw e;
    }
  }

  protected async forward(run: Arena, ids: ArrayLike<number>, B: number, T: number, save: boolean, cache?: KvCache): Promise<Gpt2Forward> {
    const s = this.spec;
    const { hidden: C, heads: H, intermediate: I, maxPositions: P } = s;
    const { idsBuf, start } = await this.begin(run, ids, B, T, save, cache);
    const g = this.gpu;
    const N = B * T;
    const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
    const pc = { gpu: g, run, save };
    const posBuf = await g.upload('activations', Uint32Array.from({ length: N }, (_, i) => start + (i % T)), 'positions', run);
    const x = await act(N * C, 'x');
    const tmp = await act(N * C, 'x.pos');
    embedLookup(g, this.wte, idsBuf, x, N);
    embeddingForward(g, posBuf, this.wpe, tmp, N, C, P);
    axpby(g, tmp, x, N * C, 1, 1);
    const layerBuffers = async (): Promise<Saved> => ({
      xIn: await act(N * C, 'x.in'),
      mean1: await act(N, 'mean1'),
      rstd1: await act(N, 'rstd1'),
      h1: await act(N * C, 'h1'),
      qkv: await act(N * 3 * C, 'qkv'),
      q: await act(N * C, 'q'),
      k: await act(N * C, 'k'),
      v: await act(N * C, 'v'),
      o: await act(N * C, 'o'),
      lse: await act(B * H * T, 'lse'),
      y: await act(N * C, 'y'),
      xMid: await act(N * C, 'x.mid'),
      mean2: await act(N, 'mean2'),
      rstd2: await act(N, 'rstd2'),
      h2: await act(N * C, 'h2'),
      f: await act(N * I, 'fc'),
      a: await act(N * I, 'gelu'),
    });
    const saved: Saved[] = [];
    let a = await layerBuffers();
    for (const [li, L] of this.layers.entries()) {
      if (save) {
        if (saved.length > 0) a = await layerBuffers();
        saved.push(a);
        g.copy(x, a.xIn);
      }
      layerNormForward(g, x, L.ln1.w, L.ln1.b, a.h1, a.mean1, a.rstd1, N, C, s.normEps);
      await linearForward(pc, a.h1, L.attn, a.qkv, N);
      for (const [j, t] of [a.q, a.k, a.v].entries()) copy2d(g, a.qkv, t, { rows: N, cols: C, srcStride: 3 * C, srcOff: j * C, dstStride: C, dstOff: 0 });
      this.attend(li, a.q, a.k, a.v, a.o, a.lse, B, T, cache);
      await linearForward(pc, a.o, L.proj, a.y, N);
      axpby(g, a.y, x, N * C, 1, 1);
      if (save) g.copy(x, a.xMid);
      layerNormForward(g, x, L.ln2.w, L.ln2.b, a.h2, a.mean2, a.rstd2, N, C, s.normEps);
      await linearForward(pc, a.h2, L.fc, a.f, N);
      geluForward(g, a.f, a.a, N * I);
      await linearForward(pc, a.a, L.out, a.y, N);
      axpby(g, a.y, x, N * C, 1, 1);
    }
    const hF = await act(N * C, 'h.final');
    const meanF = await act(N, 'mean.final');
    const rstdF = await act(N, 'rstd.final');
    layerNormForward(g, x, this.lnF.w, this.lnF.b, hF, meanF, rstdF, N, C, s.normEps);
    const logits = await this.head(run, hF, this.wte, N, T, cache);
    return { ids: idsBuf, pos: posBuf, xF: x, meanF, rstdF, hF, logits, saved };
  }

  protected async backward(f: Gpt2Forward, dlogits: GpuBuf, ctx: BackwardContext): Promise<void> {
    const s = this.spec;
    const { hidden: C, heads: H, headDim: D, intermediate: I, vocab: V, maxPositions: P } = s;
    const { run, pass, grads, ones, B, T } = ctx;
    const g = this.gpu;
    const N = B * T;
    const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
    const lin = (l: Linear, x: GpuBuf, dy: GpuBuf, dx: GpuBuf | undefined, beta = 0) => linearBackward(pass, l, x, dy, dx, N, grads, ones, beta);
    const ln = async (n: Norm, dy: GpuBuf, x: GpuBuf, mean: GpuBuf, rstd: GpuBuf, dx: GpuBuf) =>
      layerNormBackward(g, dy, x, n.w, mean, rstd, dx, await grads.get(`${n.name}.weight`, C), await grads.get(`${n.name}.bias`, C), N, C);
    const dx = await act(N * C, 'dx');
    const dh = await act(N * C, 'dh');
    const dn = await act(N * C, 'dnorm');
    // logits = hF·wteᵀ
    await lin(this.wte, f.hF, dlogits, dh);
    const dWte = this.wte.w.kind === 'f32' ? grads.map.get(`${this.prefix}wte.weight`) : undefined;
    await ln(this.lnF, dh, f.xF, f.meanF, f.rstdF, dx);

    const da = await act(N * I, 'da');
    const df = await act(N * I, 'df');
    const dO = await act(N * C, 'do');
    const dq = await act(N * C, 'dq');
    const dk = await act(N * C, 'dk');
    const dv = await act(N * C, 'dv');
    const dqkv = await act(N * 3 * C, 'dqkv');
    const drow = await act(B * H * T, 'drow');
    for (let li = this.layers.length - 1; li >= 0; li--) {
      const L = this.layers[li];
      const a = f.saved[li];
      // x += gelu(h2·c_fc)·c_proj,  h2 = ln_2(xMid)
      await lin(L.out, a.a, dx, da);
      geluBackward(g, da, a.f, df, N * I);
      await lin(L.fc, a.h2, df, dh);
      await ln(L.ln2, dh, a.xMid, a.mean2, a.rstd2, dn);
      axpby(g, dn, dx, N * C, 1, 1);
      // x += attention(split(h1·c_attn))·c_proj,  h1 = ln_1(xIn)
      await lin(L.proj, a.o, dx, dO);
      attentionBackward(g, a.q, a.k, a.v, a.o, dO, a.lse, drow, dq, dk, dv, { B, T, Tk: T, Hq: H, Hkv: H, D });
      for (const [j, t] of [dq, dk, dv].entries()) copy2d(g, t, dqkv, { rows: N, cols: C, srcStride: C, srcOff: 0, dstStride: 3 * C, dstOff: j * C });
      await lin(L.attn, a.h1, dqkv, dh);
      await ln(L.ln1, dh, a.xIn, a.mean1, a.rstd1, dn);
      axpby(g, dn, dx, N * C, 1, 1);
    }
    // x = wte[ids] + wpe[positions]; the head's part of dWte is already there.
    if (dWte) embeddingBackward(g, f.ids, dx, dWte, N, C, V, 1);
    const wpeName = `${this.prefix}wpe.weight`;
    if (grads.wanted(wpeName)) embeddingBackward(g, f.pos, dx, await grads.get(wpeName, P * C), N, C, P, 0);
  }
}
