// Float64 reference of the Llama-family forward loss, composed of the kernels' plain-loop
// references. It defines what LlamaModel computes; tests check the GPU loss against it and
// the GPU gradients against its finite differences.

import { swigluRef } from '../kernels/activation.ref.ts';
import { attentionRef } from '../kernels/attention.ref.ts';
import { biasAddRef } from '../kernels/elementwise.ref.ts';
import { embeddingRef } from '../kernels/embedding.ref.ts';
import { matmulRef } from '../kernels/matmul.ref.ts';
import { rmsNormRef } from '../kernels/norm.ref.ts';
import { ropeInvFreq } from '../kernels/rope.ts';
import { ropeRef } from '../kernels/rope.ref.ts';
import { xentRef } from '../kernels/xent.ref.ts';
import type { ModelSpec } from './config.ts';

export type RefWeights = Map<string, ArrayLike<number>>;

/** Mean cross-entropy over counted positions. ids, targets, mask: (B·T). */
export function llamaLossRef(
  s: ModelSpec, w: RefWeights, ids: readonly number[], targets: readonly number[], mask: readonly number[], B: number, T: number,
): number {
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: no weight ${n}`);
    return t;
  };
  const { hidden: C, heads: Hq, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = s;
  const N = B * T;
  const inv = ropeInvFreq(s.rope?.theta ?? 10000, s.rope?.rotaryDim ?? D, s.rope?.scaling);
  const zeros = (n: number) => new Float64Array(n);
  const lin = (x: ArrayLike<number>, name: string, out: number, inp: number, bias: boolean) => {
    const y = matmulRef(x, get(`${name}.weight`), zeros(N * out), { layout: 'NT', M: N, N: out, K: inp });
    return bias ? biasAddRef(get(`${name}.bias`), y, out) : y;
  };
  let x = embeddingRef(ids, get('model.embed_tokens.weight'), C, V);
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNormRef(x, get(`${p}.input_layernorm.weight`), N, C, s.normEps).y;
    const rope = { B, T, D, R: s.rope?.rotaryDim ?? D, posOffset: 0 };
    const q = ropeRef(lin(h, `${p}.self_attn.q_proj`, Hq * D, C, s.qkvBias), inv, { ...rope, H: Hq });
    const k = ropeRef(lin(h, `${p}.self_attn.k_proj`, Hkv * D, C, s.qkvBias), inv, { ...rope, H: Hkv });
    const v = lin(h, `${p}.self_attn.v_proj`, Hkv * D, C, s.qkvBias);
    const o = attentionRef(q, k, v, { B, T, Tk: T, Hq, Hkv, D }).o;
    const a = lin(o, `${p}.self_attn.o_proj`, C, Hq * D, s.oBias);
    x = x.map((xv, i) => xv + a[i]);
    const h2 = rmsNormRef(x, get(`${p}.post_attention_layernorm.weight`), N, C, s.normEps).y;
    const mlp = swigluRef(lin(h2, `${p}.mlp.gate_proj`, I, C, s.mlpBias), lin(h2, `${p}.mlp.up_proj`, I, C, s.mlpBias));
    const d = lin(mlp, `${p}.mlp.down_proj`, C, I, s.mlpBias);
    x = x.map((xv, i) => xv + d[i]);
  }
  const hf = rmsNormRef(x, get('model.norm.weight'), N, C, s.normEps).y;
  const head = w.has('lm_head.weight') && !s.tieEmbeddings ? get('lm_head.weight') : get('model.embed_tokens.weight');
  const logits = matmulRef(hf, head, zeros(N * V), { layout: 'NT', M: N, N: V, K: C });
  const { loss } = xentRef(logits, targets, mask, N, V);
  const count = mask.reduce((a, b) => a + b, 0);
  return loss.reduce((a, b) => a + b, 0) / Math.max(1, count);
}
