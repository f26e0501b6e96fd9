// npm run bench:train [-- --only LoRA] [-- --quick] [-- --no-peers]
// Training steps per configuration (tiny-kjv full / LoRA / QLoRA q4 / MeZO, a SmolLM2-135M-
// shaped random model with LoRA r=8 on q,v at B=1, T=128, f32 and q4): ms per step, tokens/s,
// per-step device counts in steady state, achieved matmul GFLOPS and the fraction of this
// run's matmul roofline; then the TensorFlow.js peer (bench/peers) on the same Dawn adapter
// for the same LoRA step. Writes bench/results/train.json.

import { benchTrain, copyBandwidth, TRAIN_CONFIGS, type MatmulBench } from '../src/engine/bench/suite.ts';
import { runTfjsPeer } from './peers/run.ts';
import { has, pick, setup, table, writeResult } from './suite-node.ts';

const { gpu, host } = await setup();
const copy = await copyBandwidth(gpu);
const roof = new Map<string, MatmulBench>();
const rows = [];
for (const c of pick(TRAIN_CONFIGS)) rows.push(await benchTrain(gpu, host, c, roof));
console.log(`\nadapter: ${gpu.adapterKey}; copy kernel ${copy.gbps.toFixed(2)} GB/s\n`);
console.log(table(rows.map((r) => ({
  config: r.label, 'B×T': `${r.B}×${r.T}`, 'ms/step': r.msPerStep, 'tok/s': r.tokensPerSec, GFLOPS: r.gflops, 'roofline': r.rooflineFraction,
  dispatches: r.dispatches, submits: r.submits, 'buffers created': r.bufferCreations, 'awaited scopes': r.awaitedErrorScopes, readbacks: r.readbacks,
}))));
const peers = has('no-peers') ? [] : await runTfjsPeer(rows, gpu, host);
for (const p of peers) console.log(`peer ${p.peer}: ${p.summary}`);
gpu.destroy();
console.log(`\nwrote ${writeResult('train.json', { adapter: gpu.adapterKey, date: new Date().toISOString(), copy, matmul: [...roof.values()], train: rows, peers })}`);
