// GPU bytes of a model and of one pass, from the spec alone: what `estimateMemory` adds up
// before anything is allocated. Each figure mirrors the allocations of llama.ts / gpt2.ts /
// decoder.ts buffer by buffer (tests/methods/memory.test.ts holds them to the ledger).

import { sizeClass } from '../gpu/arena.ts';
import { quantBytes } from '../quant/block.ts';
import type { ModelSpec } from './config.ts';
import type { BasePrecision } from './decoder.ts';

/** A linear layer of the model by module name, with its shape. */
export interface LinearShape {
  name: string;
  /** The module's last name part: q_proj, c_attn, … (what `--targets` matches). */
  kind: string;
  out: number;
  in: number;
  bias: boolean;
  layer: number;
  /** Storage order of the f32 checkpoint weight (GPT-2's Conv1D is in-out). */
  layout: 'out-in' | 'in-out';
}

/** Every linear layer, in load order, named as in the checkpoint. */
export function linearShapes(s: ModelSpec, prefix = s.family === 'gpt2' ? '' : 'model.'): LinearShape[] {
  const out: LinearShape[] = [];
  const { hidden: C, intermediate: I, headDim: D } = s;
  for (let l = 0; l < s.layers; l++) {
    const add = (path: string, o: number, i: number, bias: boolean, layout: LinearShape['layout'] = 'out-in') =>
      out.push({ name: path, kind: path.slice(path.lastIndexOf('.') + 1), out: o, in: i, bias, layer: l, layout });
    if (s.family === 'gpt2') {
      const p = `${prefix}h.${l}`;
      add(`${p}.attn.c_attn`, 3 * C, C, true, 'in-out');
      add(`${p}.attn.c_proj`, C, C, true, 'in-out');
      add(`${p}.mlp.c_fc`, I, C, true, 'in-out');
      add(`${p}.mlp.c_proj`, C, I, true, 'in-out');
    } else {
      const p = `${prefix}layers.${l}`;
      add(`${p}.self_attn.q_proj`, s.heads * D, C, s.qkvBias);
      add(`${p}.self_attn.k_proj`, s.kvHeads * D, C, s.qkvBias);
      add(`${p}.self_attn.v_proj`, s.kvHeads * D, C, s.qkvBias);
      add(`${p}.self_attn.o_proj`, C, s.heads * D, s.oBias);
      add(`${p}.mlp.gate_proj`, I, C, s.mlpBias);
      add(`${p}.mlp.up_proj`, I, C, s.mlpBias);
      add(`${p}.mlp.down_proj`, C, I, s.mlpBias);
    }
  }
  return out;
}

const f32 = (n: number) => 4 * Math.max(1, n);

/** Logits the fused LM head + cross-entropy forms at once at most, in floats (16 MiB): a
 *  Qwen2.5 vocabulary (151,936) at B·T = 512 takes 27 rows at a time instead of 311 MB. */
export const HEAD_CHUNK_FLOATS = 1 << 22;

/** Rows per chunk of the fused head + loss over N rows and a V-word vocabulary: all of them
 *  when N·V fits `budget` floats, else as many as fit (at least one). */
export function headChunkRows(N: number, V: number, budget = HEAD_CHUNK_FLOATS): number {
  return N * V <= budget ? N : Math.max(1, Math.floor(budget / V));
}

/** Bytes of the loaded model's weights on the GPU ('weights'). */
export function weightBytes(s: ModelSpec, precision: BasePrecision, quantizeEmbeddings = true): number {
  const { hidden: C, vocab: V } = s;
  const table = precision === 'f32' || !quantizeEmbeddings ? f32(V * C) : quantBytes(V, C, precision);
  let total = table; // embedding (and tied head)
  if (s.family === 'gpt2') total += f32(s.maxPositions * C) + 2 * f32(C) * (2 * s.layers + 1);
  else {
    total += f32(C) * (2 * s.layers + 1); // norms
    if (!s.tieEmbeddings) total += table; // untied head
    total += f32((s.rope?.rotaryDim ?? s.headDim) / 2); // rope inverse frequencies
  }
  for (const l of linearShapes(s)) {
    total += precision === 'f32' ? f32(l.out * l.in) : quantBytes(l.out, l.in, precision);
    if (l.bias) total += f32(l.out);
  }
  return total;
}

/**
 * Activation bytes of one pass over (B, T): forward only (`loss`, an eval) or forward with
 * saved activations, the loss and the full backward (`lossAndGrads`). `extraPerToken`
 * adds what a method's adapters keep per token (LoRA: its rank per adapted layer, twice).
 * The logits are counted a chunk at a time (headChunkRows), as the fused head + loss forms them.
 */
export function activationBytes(s: ModelSpec, B: number, T: number, train: boolean, extraPerToken = 0, headChunkFloats = HEAD_CHUNK_FLOATS): number {
  const N = B * T;
  const { hidden: C, intermediate: I, heads: Hq, kvHeads: Hkv, headDim: D, vocab: V } = s;
  const layerSets = train ? s.layers : 1;
  let bytes = f32(N); // ids
  let perLayer: number;
  let head: number;
  let back = 0;
  if (s.family === 'gpt2') {
    bytes += f32(N) + 2 * f32(N * C); // positions, x, x.pos
    perLayer = 8 * f32(N * C) + f32(3 * N * C) + 4 * f32(N) + f32(B * Hq * T) + 2 * f32(N * I);
    head = f32(N * C) + 2 * f32(N);
    if (train) back = 7 * f32(N * C) + 2 * f32(N * I) + f32(3 * N * C) + f32(B * Hq * T);
  } else {
    bytes += f32(N * C); // x
    perLayer = 5 * f32(N * C) + 2 * f32(N) + 2 * f32(N * Hq * D) + 2 * f32(N * Hkv * D) + f32(B * Hq * T) + 3 * f32(N * I);
    head = f32(N * C) + f32(N);
    if (train) back = 3 * f32(N * C) + 3 * f32(N * I) + 2 * f32(N * Hq * D) + 2 * f32(N * Hkv * D) + f32(B * Hq * T);
  }
  // The fused head + loss (decoder.ts headLoss): targets, mask and loss rows (N); per chunk
  // of Nc rows the state (3Nc), lse, logits (Nc, V) and, when chunked, the chunk's copies of
  // h, targets, mask and loss; training adds dlogits (Nc, V), ones (N) and dh's chunk (dh
  // itself, (N, C), is counted with the family's backward buffers, which reuse it).
  const Nc = headChunkRows(N, V, headChunkFloats);
  const chunked = Nc < N;
  const loss = 3 * f32(N) + f32(3 * Nc) + f32(Nc) + f32(Nc * V) + (chunked ? f32(Nc * C) + 3 * f32(Nc) : 0);
  const grad = train ? f32(Nc * V) + f32(N) + (chunked ? f32(Nc * C) : 0) : 0;
  return bytes + layerSets * perLayer + head + loss + grad + back + (train ? 2 : 1) * extraPerToken * N * 4;
}

/** Bytes of one uniform ring (gpu.ts: 512 dispatch slots of 256 B). */
export const RING_BYTES = 512 * 256;

/**
 * The device's uniform rings, real memory on the ledger ('scratch'): one per 512 dispatches
 * recorded between two submits, and a steady-state step records all of its dispatches
 * before one submit (about 64 per layer, counted on tiny-kjv by bench:train), up to 16.
 */
export function ringBytes(s: ModelSpec): number {
  return Math.max(1, Math.min(16, Math.ceil((64 * s.layers + 64) / 512))) * RING_BYTES;
}

/**
 * Scratch a training step holds at its peak: the gradients of frozen norm weights (their
 * kernels write one anyway; `frozenNorms` defaults to all of them) and the loss readback.
 */
export function frozenGradScratch(s: ModelSpec, B: number, T: number, frozenNorms = s.family === 'gpt2' ? 2 * (2 * s.layers + 1) : 2 * s.layers + 1): number {
  return frozenNorms * sizeClass(s.hidden * 4) + sizeClass(B * T * 4);
}
