// The TensorFlow.js peer of webtune's LoRA step: the same Llama (RMSNorm, rotate-half RoPE,
// grouped-query causal attention, SwiGLU, tied head), random frozen f32 weights, LoRA r on
// q_proj and v_proj, cross-entropy over every position, Adam, on @tensorflow/tfjs-backend-webgpu
// over Dawn (npm `webgpu`, the adapter webtune's bench uses). Run by bench/peers/run.ts in its
// own process: `tsx bench/peers/tfjs-lora.ts '<json shape>'`; prints one JSON line.

import type * as TF from '@tensorflow/tfjs-core';
import { create, globals } from 'webgpu';

interface Shape {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  ropeTheta: number;
  B: number;
  T: number;
  rank: number;
  warmup: number;
  steps: number;
}

const s: Shape = JSON.parse(process.argv[2] ?? '{}');
if (!process.env.VK_ICD_FILENAMES) process.env.VK_ICD_FILENAMES = '/usr/lib/chromium/vk_swiftshader_icd.json';
Object.assign(globalThis, globals); // GPUBufferUsage, GPUMapMode, … as a browser has them
const gpu = create([]);
Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: 'node' }, configurable: true });
// the backend registers itself on import only where navigator.gpu exists: import after it is set.
// run.ts bundles this file with esbuild (ES modules of tfjs-core, one engine for core, its
// gradients and the backend; the Node bundle of tfjs-core has no gradients).
const tf: typeof TF = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-core/dist/register_all_gradients');
await import('@tensorflow/tfjs-backend-webgpu');

await tf.setBackend('webgpu');
await tf.ready();
const adapter = await gpu.requestAdapter();
const { hidden: C, intermediate: I, layers: L, heads: H, kvHeads: Hkv, vocab: V, B, T, rank: r } = s;
const D = C / H;
const N = B * T;
const rnd = (shape: number[], scale = 0.05) => tf.randomUniform(shape, -scale, scale, 'float32', 1);

const embed = rnd([V, C]);
const layers = Array.from({ length: L }, () => ({
  n1: tf.ones([C]), n2: tf.ones([C]),
  q: rnd([H * D, C]), k: rnd([Hkv * D, C]), v: rnd([Hkv * D, C]), o: rnd([C, H * D]),
  g: rnd([I, C]), u: rnd([I, C]), d: rnd([C, I]),
  // LoRA on q and v: A (r, in) random, B (out, r) zero, as PEFT initialises them
  qa: tf.variable(rnd([r, C], 0.02)), qb: tf.variable(tf.zeros([H * D, r])),
  va: tf.variable(rnd([r, C], 0.02)), vb: tf.variable(tf.zeros([Hkv * D, r])),
}));
const normF = tf.ones([C]);
const scale = 16 / r; // alpha 16

// RoPE tables (T, D/2), rotate-half convention. Functional ops only: tfjs-core's Node bundle
// has no chained ops (those come with the full @tensorflow/tfjs package).
const inv = Array.from({ length: D / 2 }, (_, i) => 1 / Math.pow(s.ropeTheta, (2 * i) / D));
const ang = tf.tensor2d(Array.from({ length: T * (D / 2) }, (_, j) => Math.floor(j / (D / 2)) * inv[j % (D / 2)]), [T, D / 2]);
const cos = tf.reshape(tf.cos(ang), [1, T, 1, D / 2]);
const sin = tf.reshape(tf.sin(ang), [1, T, 1, D / 2]);
const causal = tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), 1), 1e9); // 0 on and below the diagonal, -1e9 above

const rms = (x: TF.Tensor, w: TF.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-5))), w);
const lin = (x: TF.Tensor, w: TF.Tensor) => tf.matMul(x, w, false, true);
const rope = (x: TF.Tensor, heads: number) => {
  const [a, b] = tf.split(tf.reshape(x, [B, T, heads, D]), 2, 3);
  return tf.concat([tf.sub(tf.mul(a, cos), tf.mul(b, sin)), tf.add(tf.mul(b, cos), tf.mul(a, sin))], 3);
};
const ids = tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7919 + 13) % V), 'int32');
const targets = tf.oneHot(tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 104729 + 7) % V), 'int32'), V);
const heads = (t: TF.Tensor, n: number) => tf.transpose(tf.reshape(t, [B, T, n, D]), [0, 2, 1, 3]); // (B, n, T, D)
const kvOf = tf.tensor1d(Array.from({ length: H }, (_, h) => Math.floor(h / (H / Hkv))), 'int32');
const repeatKv = (t: TF.Tensor) => tf.gather(t, kvOf, 1); // (B, Hkv, T, D) → (B, H, T, D)

function loss(): TF.Scalar {
  let x: TF.Tensor = tf.gather(embed, ids); // (N, C)
  for (const l of layers) {
    const h = rms(x, l.n1);
    const q = tf.add(lin(h, l.q), tf.mul(lin(lin(h, l.qa), l.qb), scale));
    const k = lin(h, l.k);
    const v = tf.add(lin(h, l.v), tf.mul(lin(lin(h, l.va), l.vb), scale));
    const qh = tf.transpose(rope(q, H), [0, 2, 1, 3]); // (B, H, T, D)
    const kh = repeatKv(tf.transpose(rope(k, Hkv), [0, 2, 1, 3]));
    const vh = repeatKv(heads(v, Hkv));
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(D)), causal), -1);
    const o = tf.reshape(tf.transpose(tf.matMul(att, vh), [0, 2, 1, 3]), [N, H * D]);
    x = tf.add(x, lin(o, l.o));
    const h2 = rms(x, l.n2);
    const gate = lin(h2, l.g);
    x = tf.add(x, lin(tf.mul(tf.mul(gate, tf.sigmoid(gate)), lin(h2, l.u)), l.d));
  }
  const logits = lin(rms(x, normF), embed);
  return tf.losses.softmaxCrossEntropy(targets, logits);
}

const vars = layers.flatMap((l) => [l.qa, l.qb, l.va, l.vb]);
const opt = tf.train.adam(1e-4);
const step = async () => {
  const l = opt.minimize(loss, true, vars);
  const v = (await l!.data())[0];
  l!.dispose();
  return v;
};
for (let i = 0; i < s.warmup; i++) await step();
const t0 = performance.now();
let last = 0;
for (let i = 0; i < s.steps; i++) last = await step();
const ms = (performance.now() - t0) / s.steps;
const info = adapter?.info;
console.log(JSON.stringify({ ok: true, backend: tf.getBackend(), adapter: `${info?.vendor ?? ''} ${info?.architecture ?? ''} ${info?.description ?? ''}`.trim(), msPerStep: ms, loss: last }));
process.exit(0);
