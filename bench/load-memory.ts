// npm run bench:load-memory [-- --precision q4]
// Host memory while loading a SmolLM2-135M-shaped model (random weights, written to a temp
// folder tensor by tensor) with a quantized base: the loader should hold about one f32
// tensor in flight plus its quantized copy, never the whole model in f32. Memory is sampled
// after every tensor reaches the GPU (the load's progress callback; a timer cannot fire
// during the synchronous quantization), before garbage collection can free the tensor, so
// the figures are upper bounds. Reports peak JS ArrayBuffer bytes (the host's tensor data)
// and peak RSS growth (which on SwiftShader also holds the "GPU" buffers), and writes
// bench/results/load-memory.json.

import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { llamaTensorShapes } from '../src/engine/bench/synthetic.ts';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../src/engine/gpu/gpu.ts';
import { nodeHost } from '../src/engine/gpu/host-node.ts';
import { nodeModelDir } from '../src/engine/io/node-dir.ts';
import { LlamaModel } from '../src/engine/model/llama.ts';
import type { BasePrecision } from '../src/engine/model/decoder.ts';
import { parameterCount, parseModelConfig } from '../src/engine/model/config.ts';

const args = process.argv.slice(2);
const at = args.indexOf('--precision');
const precision: BasePrecision = at >= 0 && ['f32', 'q8', 'q4', 'nf4'].includes(args[at + 1]) ? (args[at + 1] as BasePrecision) : 'q4';

const config = {
  architectures: ['LlamaForCausalLM'], hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9,
  num_key_value_heads: 3, vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: true,
};
const spec = parseModelConfig(config);
const shapes = llamaTensorShapes(config);

// Write the checkpoint one tensor at a time (the header first, then each tensor's bytes).
const dir = mkdtempSync(join(tmpdir(), 'webtune-load-'));
writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
let offset = 0;
const header: Record<string, unknown> = {};
for (const [name, shape] of shapes) {
  const bytes = shape.reduce((a, b) => a * b, 1) * 4;
  header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let h = JSON.stringify(header);
h += ' '.repeat((8 - (Buffer.byteLength(h) % 8)) % 8);
const fd = openSync(join(dir, 'model.safetensors'), 'w');
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(Buffer.byteLength(h)));
writeSync(fd, len);
writeSync(fd, h);
let seed = 1;
for (const [, shape] of shapes) {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.1;
  writeSync(fd, new Uint8Array(t.buffer));
}
closeSync(fd);
const f32Bytes = offset;

globalThis.gc?.();
const base = process.memoryUsage();
let peakAB = 0;
let peakRss = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakAB = Math.max(peakAB, m.arrayBuffers - base.arrayBuffers);
  peakRss = Math.max(peakRss, m.rss - base.rss);
};
const gpu = await Gpu.create(nodeHost());
const t0 = performance.now();
const model = await LlamaModel.load(gpu, nodeModelDir(dir), { precision, onProgress: sample });
const ms = performance.now() - t0;
sample();
const weights = gpu.ledger.snapshot().live.weights;
const largest = Math.max(...shapes.map(([, s]) => s.reduce((a, b) => a * b, 1) * 4));
const result = {
  model: 'SmolLM2-135M-shaped (random)', parameters: parameterCount(spec), precision, f32Bytes, gpuWeightBytes: weights,
  largestTensorF32Bytes: largest, peakHostArrayBufferBytes: peakAB, peakRssDeltaBytes: peakRss, loadMs: Math.round(ms),
};
const MB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
console.log(`parameters ${result.parameters}, checkpoint f32 ${MB(f32Bytes)}, largest tensor ${MB(largest)}`);
console.log(`${precision}: GPU weights (ledger) ${MB(weights)}; peak host ArrayBuffers ${MB(peakAB)}; peak RSS growth ${MB(peakRss)} (includes SwiftShader's "GPU" memory); ${result.loadMs} ms`);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'load-memory.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
model.dispose();
gpu.destroy();
rmSync(dir, { recursive: true, force: true });
