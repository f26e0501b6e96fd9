// The real llama.cpp (node-llama-cpp's prebuilt CPU build) behind a line protocol, so that
// a test starts one process for all its questions. Each stdin line is a JSON request; each
// stdout line the JSON answer with the same id:
//   {id, op: "greedy", model, lora?, prompt: [ids], n, top?}
//     → {id, tokens: [n ids], probs: [n × [[id, p], ... the `top` most likely (default 5)]],
//        logprobs?: [n × [V log-probabilities]] when full: true}
//     (temperature 0: each next token is the argmax; p is the softmax of llama.cpp's logits)
//   {id, op: "tokenize", model, text, special?}  → {id, tokens}
//   {id, op: "detokenize", model, tokens}        → {id, text}
//   {id, op: "meta", model}                      → {id, arch, chatTemplate}
// Errors answer {id, error}. Run by tests/helpers/llama-cpp.ts; installed by
// scripts/ensure-llama-cpp.sh.
import { createInterface } from 'node:readline';
import { getLlama } from 'node-llama-cpp';

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
const models = new Map();
async function model(path) {
  if (!models.has(path)) models.set(path, await llama.loadModel({ modelPath: path, gpuLayers: 0 }));
  return models.get(path);
}

async function greedy(req) {
  const m = await model(req.model);
  const ctx = await m.createContext({
    contextSize: Math.max(32, req.prompt.length + req.n + 8),
    sequences: 1,
    threads: 1,
    // llama.cpp's defaults round attention to F16 (flash attention, which node-llama-cpp
    // turns on by default on the CPU, and an F16 KV cache): p then differs from webtune's f32
    // by ~2e-3. Off / F32, the two agree within 1e-4: the tests compare the model, not that.
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
    ...(req.lora ? { lora: { adapters: [{ filePath: req.lora, scale: req.loraScale ?? 1 }] } } : {}),
  });
  try {
    const seq = ctx.getSequence();
    const tokens = [];
    const probs = [];
    const logprobs = [];
    const it = seq.evaluateWithMetadata(req.prompt, { probabilities: true }, { temperature: 0 });
    for await (const out of it) {
      tokens.push(out.token);
      const all = [...out.probabilities.entries()];
      all.sort((a, b) => b[1] - a[1]);
      probs.push(all.slice(0, req.top ?? 5));
      if (req.full) {
        const row = new Array(all.length).fill(null);
        for (const [id, p] of all) row[id] = Math.log(p);
        logprobs.push(row);
      }
      if (tokens.length >= req.n) break;
    }
    return { tokens, probs, ...(req.full ? { logprobs } : {}) };
  } finally {
    await ctx.dispose();
  }
}

async function handle(req) {
  switch (req.op) {
    case 'greedy':
      return greedy(req);
    case 'tokenize': {
      const m = await model(req.model);
      return { tokens: m.tokenize(req.text, req.special ?? false) };
    }
    case 'detokenize': {
      const m = await model(req.model);
      return { text: m.detokenize(req.tokens) };
    }
    case 'meta': {
      const m = await model(req.model);
      return { arch: m.fileInfo.metadata.general.architecture, chatTemplate: m.fileInfo.metadata.tokenizer?.chat_template ?? null };
    }
    case 'unload': {
      const m = models.get(req.model);
      if (m) await m.dispose();
      models.delete(req.model);
      return {};
    }
  }
  throw new Error(`unknown op ${req.op}`);
}

const rl = createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  chain = chain.then(async () => {
    let req;
    try {
      req = JSON.parse(line);
      const res = await handle(req);
      process.stdout.write(JSON.stringify({ id: req.id, ...res }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ id: req?.id, error: e instanceof Error ? e.message : String(e) }) + '\n');
    }
  });
});
rl.on('close', () => {
  chain.then(async () => {
    for (const m of models.values()) await m.dispose();
    await llama.dispose();
    process.exit(0);
  });
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
