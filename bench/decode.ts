// npm run bench:decode [-- --only 135M] [-- --quick] [-- --no-peers]
// Generation per configuration (tiny-kjv and a SmolLM2-135M-shaped random model, f32 and q4;
// 32 greedy tokens after a 16-token prompt): ms per token, tokens/s, per-token device counts
// in steady state, and the weight bytes a token reads per token time as a fraction of this
// run's copy-kernel bandwidth; then llama.cpp (node-llama-cpp in bench/peers) on the same
// model written as GGUF, same machine, same prompt. Writes bench/results/decode.json.

import { benchDecode, copyBandwidth, DECODE_CONFIGS } from '../src/engine/bench/suite.ts';
import { runLlamaCppPeer } from './peers/run.ts';
import { has, pick, setup, table, writeResult } from './suite-node.ts';

const { gpu, host } = await setup();
const copy = await copyBandwidth(gpu);
const rows = [];
for (const c of pick(DECODE_CONFIGS)) rows.push(await benchDecode(gpu, host, c, copy));
console.log(`\nadapter: ${gpu.adapterKey}; copy kernel ${copy.gbps.toFixed(2)} GB/s\n`);
console.log(table(rows.map((r) => ({
  config: r.label, 'ms/token': r.msPerToken, 'tok/s': r.tokensPerSec, 'weight MB/token': r.weightBytesPerToken / 1e6, 'of copy bandwidth': r.bandwidthFraction,
  dispatches: r.dispatches, submits: r.submits, 'buffers created': r.bufferCreations, 'awaited scopes': r.awaitedErrorScopes, 'bytes read back': r.readbackBytes,
}))));
const peers = has('no-peers') ? [] : await runLlamaCppPeer(rows, gpu, host);
for (const p of peers) console.log(`peer ${p.peer}: ${p.summary}`);
gpu.destroy();
console.log(`\nwrote ${writeResult('decode.json', { adapter: gpu.adapterKey, date: new Date().toISOString(), copy, decode: rows, peers })}`);
