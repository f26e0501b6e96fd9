// The llama.cpp peer of webtune's decode benchmark: node-llama-cpp 3.21.1 (its prebuilt CPU
// binary only) on the GGUF that webtune's merged-model writer made of the same model, the
// same prompt ids, greedy, on the same machine. Run by bench/peers/run.ts in its own process:
// `node .build/llama-decode.mjs '<json>'`; prints one JSON line.

import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';

interface Job {
  gguf: string;
  prompt: number[];
  tokens: number;
  threads?: number;
}

const job: Job = JSON.parse(process.argv[2] ?? '{}');
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: job.gguf, gpuLayers: 0 });
const context = await model.createContext({ contextSize: job.prompt.length + job.tokens + 8, threads: job.threads ?? 0 });
const seq = context.getSequence();
const marks: number[] = [];
const out: number[] = [];
for await (const token of seq.evaluate(job.prompt.map((t) => t as Token), { temperature: 0 })) {
  marks.push(performance.now());
  out.push(token);
  if (out.length >= job.tokens) break;
}
// tokens 3.. as in webtune's row (the first comes from the prompt's pass)
const first = 2;
const n = marks.length - 1 - first;
const msPerToken = n > 0 ? (marks[marks.length - 1] - marks[first]) / n : Number.NaN;
console.log(JSON.stringify({ ok: n > 0, msPerToken, tokens: out.length, ids: out, threads: context.currentThreads ?? null }));
await context.dispose();
await model.dispose();
process.exit(0);
