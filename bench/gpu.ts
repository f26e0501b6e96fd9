// npm run bench:gpu [-- --quick]
// The set the GPU panel's "Benchmark this GPU" runs in the worker, here in Node on whatever
// adapter Dawn finds: copy bandwidth, the matmul roofline at the training shapes, and the
// training and decoding configurations (tiny-kjv only with --quick). No peers. Writes
// bench/results/gpu.json.

import { DECODE_CONFIGS, runSuite, TRAIN_CONFIGS } from '../src/engine/bench/suite.ts';
import { pick, setup, table, writeResult } from './suite-node.ts';

const { gpu, host } = await setup();
const r = await runSuite(gpu, host, { train: pick(TRAIN_CONFIGS), decode: pick(DECODE_CONFIGS) });
console.log(`\nadapter: ${r.adapter}; copy ${r.copy.gbps.toFixed(2)} GB/s\n`);
console.log(table(r.train.map((t) => ({ config: t.label, 'ms/step': t.msPerStep, 'tok/s': t.tokensPerSec, GFLOPS: t.gflops, roofline: t.rooflineFraction, submits: t.submits, 'buffers created': t.bufferCreations }))));
console.log();
console.log(table(r.decode.map((d) => ({ config: d.label, 'ms/token': d.msPerToken, 'tok/s': d.tokensPerSec, 'of copy bandwidth': d.bandwidthFraction, submits: d.submits, 'buffers created': d.bufferCreations }))));
gpu.destroy();
console.log(`\nwrote ${writeResult('gpu.json', { date: new Date().toISOString(), ...r })}`);
