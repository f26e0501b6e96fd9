// The Llama-family decoder (Llama, SmolLM, TinyLlama, Qwen2, Mistral) on the engine's
// kernels: forward to logits with f32 weights. Backward, quantized bases, the KV cache
// and GPT-2 come with the models issue; this file is the first composition of the kernels.
//
//   x = embed(ids)                                     (B·T, C)
//   per layer:  h = rmsnorm(x);  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ (+ bias)
//               rope(q), rope(k);  o = attention(q, k, v);  x += o·Woᵀ (+ bias)
//               h = rmsnorm(x);  x += (silu(h·Wgᵀ) ⊙ h·Wuᵀ)·Wdᵀ
//   logits = rmsnorm(x)·Wlmᵀ                            (B·T, V); Wlm = embed when tied

import type { Arena, GpuBuf } from '../gpu/arena.ts';
import type { Gpu } from '../gpu/gpu.ts';
import { swigluForward } from '../kernels/activation.ts';
import { attentionForward } from '../kernels/attention.ts';
import { axpby, biasAdd } from '../kernels/elementwise.ts';
import { embeddingForward, validateTokenIds } from '../kernels/embedding.ts';
import { matmul } from '../kernels/matmul.ts';
import { rmsNormForward } from '../kernels/norm.ts';
import { ropeForward, ropeInvFreq } from '../kernels/rope.ts';
import { Checkpoint, readText, type ModelFiles } from '../io/model-files.ts';
import { parseModelConfig, type ModelSpec } from './config.ts';

interface Linear {
  w: GpuBuf; // (out, in)
  b?: GpuBuf; // (out)
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
  ) {}

  /** Load config.json and the safetensors weights (f32 on the GPU, one tensor at a time). */
  static async load(gpu: Gpu, files: ModelFiles): Promise<LlamaModel> {
    const spec = parseModelConfig(await readText(files, 'config.json'), `${files.name}/config.json`);
    if (spec.family !== 'llama' || !spec.rope) throw new Error(`${files.name}: ${spec.architecture} is not a Llama-family model`);
    const ckpt = await Checkpoint.open(files);
    const arena = gpu.arena.child();
    try {
      const tensor = async (name: string, shape: number[]): Promise<GpuBuf> => {
        if (!ckpt.has(name)) throw new Error(`${files.name}: the checkpoint has no tensor "${name}" that ${spec.architecture} needs`);
        const got = ckpt.info(name).shape;
        if (got.join(',') !== shape.join(',')) {
          throw new Error(`${files.name}: tensor "${name}" has shape [${got}], the config implies [${shape}]`);
        }
        return gpu.upload('weights', await ckpt.readF32(name), name, arena);
      };
      const { hidden: C, heads, kvHeads, headDim: D, intermediate: I, vocab: V } = spec;
      const linear = async (name: string, out: number, inp: number, bias: boolean): Promise<Linear> => ({
        w: await tensor(`${name}.weight`, [out, inp]),
        b: bias ? await tensor(`${name}.bias`, [out]) : undefined,
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
      return new LlamaModel(gpu, spec, arena, embed, layers, norm, lmHead, invFreq);
    } catch (e) {
      arena.dispose();
      throw e;
    }
  }

  /** Logits for every position: ids (B·T) → (B·T, V) on the host. */
  async logits(ids: ArrayLike<number>, B: number, T: number): Promise<Float32Array> {
    const s = this.spec;
    const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = s;
    if (ids.length !== B * T) throw new RangeError(`logits: ${ids.length} ids for B=${B} T=${T}`);
    validateTokenIds(ids, V);
    const g = this.gpu;
    const run = this.arena.child();
    try {
      const N = B * T;
      const act = (n: number, label: string) => run.alloc('activations', n * 4, label);
      const idsBuf = await g.upload('activations', Uint32Array.from(ids), 'ids', run);
      const x = await act(N * C, 'x'); // (B·T, C) residual stream
      const h = await act(N * C, 'h');
      const rstd = await act(N, 'rstd');
      const q = await act(N * Hq * D, 'q'); // (B, T, Hq, D)
      const k = await act(N * Hkv * D, 'k'); // (B, T, Hkv, D)
      const v = await act(N * Hkv * D, 'v');
      const o = await act(N * Hq * D, 'o');
      const lse = await act(B * Hq * T, 'lse');
      const y = await act(N * C, 'y');
      const gate = await act(N * I, 'gate'); // (B·T, I)
      const up = await act(N * I, 'up');
      const mlp = await act(N * I, 'mlp'); // silu(gate) ⊙ up
      const logits = await act(N * V, 'logits'); // (B·T, V)
      const lin = (inp: GpuBuf, l: Linear, out: GpuBuf, outF: number, inF: number) => {
        matmul(g, inp, l.w, out, { layout: 'NT', M: N, N: outF, K: inF });
        if (l.b) biasAdd(g, l.b, out, N, outF);
      };
      const rope = { B, T, D, R: s.rope?.rotaryDim ?? D, posOffset: 0 };
      embeddingForward(g, idsBuf, this.embed, x, N, C, V);
      for (const L of this.layers) {
        rmsNormForward(g, x, L.attnNorm, h, rstd, N, C, s.normEps);
        lin(h, L.q, q, Hq * D, C);
        lin(h, L.k, k, Hkv * D, C);
        lin(h, L.v, v, Hkv * D, C);
        ropeForward(g, this.invFreq, q, { ...rope, H: Hq });
        ropeForward(g, this.invFreq, k, { ...rope, H: Hkv });
        attentionForward(g, q, k, v, o, lse, { B, T, Tk: T, Hq, Hkv, D });
        lin(o, L.o, y, C, Hq * D);
        axpby(g, y, x, N * C, 1, 1);
        rmsNormForward(g, x, L.mlpNorm, h, rstd, N, C, s.normEps);
        lin(h, L.gate, gate, I, C);
        lin(h, L.up, up, I, C);
        swigluForward(g, gate, up, mlp, N * I);
        lin(mlp, L.down, y, C, I);
        axpby(g, y, x, N * C, 1, 1);
      }
      rmsNormForward(g, x, this.norm, h, rstd, N, C, s.normEps);
      matmul(g, h, this.lmHead, logits, { layout: 'NT', M: N, N: V, K: C });
      return await g.readF32(logits);
    } finally {
      run.dispose();
    }
  }

  /** Greedy continuation of one prompt, stopping at an EOS id or after `maxNew` tokens.
   *  Recomputes the whole sequence per token (the KV cache comes with the models issue). */
  async greedy(prompt: readonly number[], maxNew: number): Promise<number[]> {
    const seq = [...prompt];
    const V = this.spec.vocab;
    for (let t = 0; t < maxNew; t++) {
      const logits = await this.logits(seq, 1, seq.length);
      const last = logits.subarray((seq.length - 1) * V, seq.length * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (last[j] > last[best]) best = j;
      seq.push(best);
      if (this.spec.eosTokenIds.includes(best)) break;
    }
    return seq.slice(prompt.length);
  }

  dispose(): void {
    this.arena.dispose();
  }
}
