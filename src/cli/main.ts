// webtune CLI (Node, Dawn's WebGPU bindings): the same engine as the page, headless.
//   npm run cli -- info [--json]     the adapter, its features and limits, and a kernel self-check
//   npm run cli -- generate --model M --prompt "…" [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--quant f32|q8|q4|nf4] [--json]
//   npm run cli -- eval --model M --data FILE [--seq T] [--batch B] [--quant …] [--json]
// M is a model folder, hf:<owner>/<name>[@revision] or builtin:<name>.

import { Gpu } from '../engine/gpu/gpu.ts';
import { nodeHost } from '../engine/gpu/host-node.ts';
import { fmtBytes } from '../engine/gpu/arena.ts';
import { kernelSelfTest } from '../engine/selftest.ts';
import { windows } from '../engine/data/corpus.ts';
import { batches as makeBatches, encodeRows, parseDataset } from '../engine/data/dataset.ts';
import { loadTokenizer } from '../engine/data/tokenizer.ts';
import { loadModel } from '../engine/model/load.ts';
import { ConfigError } from '../engine/config/schema.ts';
import { TextStream } from '../engine/data/text-stream.ts';
import { Flags, UsageError } from './args.ts';
import { precisionFlag, progressPrinter } from './common.ts';
import { estimate, methodsCommand, readDataFile, trainCommand } from './train.ts';
import { resolveModel } from './sources.ts';
import { applyAdapterDir, exportCommand } from './export.ts';

const USAGE = `usage: npm run cli -- <command> [flags]

commands:
  info [--json]      show the WebGPU adapter Node sees (features, limits) and run a kernel self-check
  generate           --model M --prompt "text" [--max-tokens 64] [--temperature 0] [--top-k 0] [--top-p 1]
                     [--seed 0] [--quant f32|q8|q4|nf4] [--adapter DIR] [--json]
  eval               --model M --data FILE(.txt|.jsonl) [--seq 128] [--batch 4] [--quant …] [--adapter DIR] [--json]
                     mean loss and perplexity over the file, and the pass's peak GPU bytes
                     --adapter DIR: a PEFT adapter folder (LoRA, DoRA or SHiRA) put on the base first
  train              --model M --data FILE|builtin:NAME --method full|lora|mezo|… [method flags]
                     [--quant f32|q8|q4|nf4] [--steps 100] [--seq 64] [--batch 8] [--seed 0] [--out DIR] [--json]
                     trainer: [--lr] [--schedule constant|linear|cosine] [--warmup N] [--optimizer adamw|sgd]
                     [--weight-decay] [--max-grad-norm 1] [--accum 1] [--eval-every N] [--eval-batches 4]
                     data: [--eval-fraction 0.1] [--pack] [--train-on-prompt] [--metric-rows 32]
                     [--adapter DIR]: continue training a PEFT LoRA / DoRA / SHiRA adapter folder
                     method flags, e.g. lora: --rank 8 --alpha 16 --targets q_proj,v_proj [--rslora];
                     mezo: --eps 1e-3 --samples 1 --trainable all|lora (npm run cli -- methods lists all)
  estimate           the train flags: GPU bytes per ledger category the run will need, before any GPU work
  methods [--json]   every method with its flags, defaults and help
  export             --run DIR --format peft|gguf|merged|report|squeeze|lora|recipe --out OUTDIR [--model M]
                     [--gguf-type f32|f16] [--rank R] [--alpha A] [--json]
                     a train --out folder as a PEFT adapter, a llama.cpp LoRA GGUF, the merged model
                     (Hugging Face folder, the base's dtypes), a report (config, environment, metrics CSV/JSON),
                     a LoRA squeezed to --rank R, a SHiRA / full run as a rank-R LoRA, or a recipe to continue
                     at scale (Axolotl YAML + TRL script + the dataset)

M: a Hugging Face model folder, hf:<owner>/<name>[@revision] (HF_TOKEN for gated repos), or builtin:<name>
`;

async function openModel(f: Flags, json: boolean) {
  const files = resolveModel(f.string('model'), progressPrinter(json));
  const precision = precisionFlag(f);
  const gpu = await Gpu.create(nodeHost());
  try {
    const model = await loadModel(gpu, files, { precision });
    const adapter = f.optional('adapter');
    if (adapter) await applyAdapterDir(model, adapter, precision);
    const tokenizer = await loadTokenizer(files, model.spec.eosTokenIds);
    return { gpu, model, tokenizer };
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}

async function generate(argv: string[]): Promise<void> {
  const f = new Flags(argv);
  const json = f.bool('json');
  const prompt = f.string('prompt');
  const opts = {
    maxNewTokens: f.number('max-tokens', 64, (n) => Number.isInteger(n) && n > 0, 'a positive integer'),
    temperature: f.number('temperature', 0, (n) => n >= 0, 'a number >= 0'),
    topK: f.number('top-k', 0, (n) => Number.isInteger(n) && n >= 0, 'an integer >= 0'),
    topP: f.number('top-p', 1, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    seed: f.number('seed', 0, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer'),
  };
  const { gpu, model, tokenizer } = await openModel(f, json);
  f.finish();
  try {
    const ids = tokenizer.encode(prompt);
    const t0 = performance.now();
    // The continuation decoded over the whole sequence, as the studio's worker does.
    const stream = new TextStream((x) => tokenizer.decode(x), ids);
    const out = await model.generate(ids, {
      ...opts,
      onToken: (id) => {
        const text = stream.push(id);
        if (json) console.log(JSON.stringify({ type: 'token', id, text }));
        else process.stdout.write(text);
      },
    });
    const ms = performance.now() - t0;
    const rest = stream.finish();
    if (json && rest) console.log(JSON.stringify({ type: 'token', text: rest }));
    else if (!json) process.stdout.write(rest);
    const text = stream.text;
    if (json) console.log(JSON.stringify({ type: 'done', prompt, text, tokens: out.length, ms, tokensPerSec: (out.length / ms) * 1000 }));
    else process.stdout.write(`\n[${out.length} tokens, ${((out.length / ms) * 1000).toFixed(1)} tokens/s]\n`);
  } finally {
    model.dispose();
    gpu.destroy();
  }
}

async function evaluate(argv: string[]): Promise<void> {
  const f = new Flags(argv);
  const json = f.bool('json');
  const dataPath = f.string('data');
  const T = f.number('seq', 128, (n) => Number.isInteger(n) && n > 1, 'an integer > 1');
  const B = f.number('batch', 4, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
  const { name: dataName, content } = readDataFile(dataPath);
  const parsed = parseDataset(dataName, content);
  const errors = parsed.errors;
  for (const e of errors) {
    if (json) console.log(JSON.stringify({ type: 'row-error', file: dataPath, ...e }));
    else process.stderr.write(`${dataPath}:${e.line}: ${e.message} (skipped)\n`);
  }
  // Text rows are scored as one stream of documents joined by EOS; prompt and chat rows on
  // their completions / assistant turns, one row per sequence.
  const texts = parsed.rows.flatMap((r) => (r.kind === 'text' ? [r.text] : []));
  const others = parsed.rows.filter((r) => r.kind !== 'text');
  if (parsed.rows.length === 0) throw new UsageError(`--data ${dataPath}: no rows to evaluate`);
  const { gpu, model, tokenizer } = await openModel(f, json);
  f.finish();
  try {
    const seq = Math.min(T, model.spec.maxPositions);
    const batchesToScore: { ids: ArrayLike<number>; targets: ArrayLike<number>; mask: ArrayLike<number>; B: number; T: number }[] = [];
    const wins = windows(texts.map((t) => tokenizer.encode(t)), seq, tokenizer.eosIds[0]);
    for (let i = 0; i < wins.length; i += B) {
      const batch = wins.slice(i, i + B);
      const len = Math.max(...batch.map((w) => w.length)) - 1;
      const ids: number[] = [];
      const targets: number[] = [];
      const mask: number[] = [];
      for (const w of batch) {
        for (let t = 0; t < len; t++) {
          const ok = t + 1 < w.length;
          ids.push(ok ? w[t] : 0);
          targets.push(ok ? w[t + 1] : 0);
          mask.push(ok ? 1 : 0);
        }
      }
      batchesToScore.push({ ids, targets, mask, B: batch.length, T: len });
    }
    if (others.length) {
      const { examples } = encodeRows(others, tokenizer, { maxTokens: seq + 1, maskPrompt: true, useChatTemplate: true });
      for (const b of makeBatches(examples, B, seq, { pack: false, padId: tokenizer.eosIds[0] ?? 0 })) if (b.tokens > 0) batchesToScore.push({ ...b, B, T: seq });
    }
    let lossSum = 0;
    let tokens = 0;
    gpu.ledger.resetPeak();
    const t0 = performance.now();
    for (const [i, b] of batchesToScore.entries()) {
      const r = await model.loss(b.ids, b.targets, b.mask, b.B, b.T);
      lossSum += r.loss * r.tokens;
      tokens += r.tokens;
      if (json) console.log(JSON.stringify({ type: 'progress', batches: i + 1, of: batchesToScore.length }));
    }
    const loss = lossSum / Math.max(1, tokens);
    const ms = performance.now() - t0;
    const peakBytes = gpu.ledger.snapshot().totalPeak;
    if (json) console.log(JSON.stringify({ type: 'eval', loss, perplexity: Math.exp(loss), tokens, batches: batchesToScore.length, skippedRows: errors.length, ms, peakBytes }));
    else console.log(`loss ${loss.toFixed(4)}  perplexity ${Math.exp(loss).toFixed(2)}  over ${tokens} tokens in ${batchesToScore.length} batches of up to ${B}×${seq} (${(ms / 1000).toFixed(1)} s), peak ${(peakBytes / 2 ** 20).toFixed(2)} MiB`);
  } finally {
    model.dispose();
    gpu.destroy();
  }
}

async function info(json: boolean): Promise<void> {
  const gpu = await Gpu.create(nodeHost());
  try {
    const { n, maxAbsError } = await kernelSelfTest(gpu, 1);
    if (json) {
      console.log(JSON.stringify({ type: 'info', adapter: gpu.adapter, selfCheck: { n, maxAbsError } }));
      return;
    }
    const a = gpu.adapter;
    console.log(`adapter         ${a.vendor} / ${a.architecture}${a.description ? ` (${a.description})` : ''}${a.isFallbackAdapter ? ' [fallback]' : ''}`);
    console.log(`host            ${a.host}`);
    for (const f of ['shader-f16', 'subgroups', 'timestamp-query']) console.log(`${f.padEnd(16)}${a.features.includes(f) ? 'yes' : 'no'}`);
    for (const [k, v] of Object.entries(a.limits)) console.log(`${k.padEnd(36)}${k.endsWith('Size') ? fmtBytes(v) : v}`);
    console.log(`self-check      axpby on ${n} values: max |gpu - ref| = ${maxAbsError.toExponential(2)}`);
  } finally {
    gpu.destroy();
  }
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'info':
      await info(rest.includes('--json'));
      return 0;
    case 'generate':
      await generate(rest);
      return 0;
    case 'eval':
      await evaluate(rest);
      return 0;
    case 'methods':
      await methodsCommand(rest.includes('--json'));
      return 0;
    case 'train':
      await trainCommand(rest);
      return 0;
    case 'estimate':
      await estimate(rest);
      return 0;
    case 'export':
      await exportCommand(rest);
      return 0;
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command "${cmd}"\n${USAGE}`);
      return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`${err.name}: ${err.message}\n`);
    if (err instanceof UsageError && err.showUsage) process.stderr.write(USAGE);
    // Bad flags or options (the method and trainer schemas' ConfigError) are usage errors too.
    process.exit(err instanceof UsageError || err instanceof ConfigError ? 2 : 1);
  },
);
