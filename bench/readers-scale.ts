// How tokenizing one dataset row grows with its size: a 1 / 5 / 10 MB text row and a chat of
// 400 / 800 turns, each encoded as training encodes it (encodeRows with maxTokens = T + 1,
// prompt masking on) with the built-in model's tokenizer (byte-fallback BPE, no
// pre-tokenizer: a row is one BPE word, the worst case). Each case runs in its own child
// process so that its peak resident memory (maxRSS) is its own.
//   npm run bench:readers [-- --cases text-1mb,chat-800] [--timeout 300]
// Writes bench/results/readers-scale.json.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CASES: Record<string, { kind: 'text'; mb: number } | { kind: 'chat'; turns: number }> = {
  'text-1mb': { kind: 'text', mb: 1 },
  'text-5mb': { kind: 'text', mb: 5 },
  'text-10mb': { kind: 'text', mb: 10 },
  'chat-400': { kind: 'chat', turns: 400 },
  'chat-800': { kind: 'chat', turns: 800 },
};
const T = 256;

async function child(name: string): Promise<void> {
  const { TextTokenizer } = await import('../src/engine/data/tokenizer.ts');
  const { encodeRows } = await import('../src/engine/data/dataset.ts');
  const dir = join(ROOT, 'public/models/tiny-kjv');
  const tok = TextTokenizer.load(readFileSync(join(dir, 'tokenizer.json'), 'utf8'), readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  const c = CASES[name];
  const words = 'and the lord spake unto moses saying speak unto the children of israel'.split(' ');
  let s = 12345;
  const word = () => words[(s = (s * 1103515245 + 12345) >>> 0) % words.length];
  const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
  let rows;
  if (c.kind === 'text') {
    let text = '';
    while (text.length < c.mb * 1e6) text += sentence(200) + '. ';
    rows = [{ kind: 'text' as const, text: text.slice(0, c.mb * 1e6) }];
  } else {
    const messages = Array.from({ length: c.turns }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: sentence(12) }));
    rows = [{ kind: 'chat' as const, messages }];
  }
  const t0 = performance.now();
  const { examples, truncated } = encodeRows(rows, tok, { maxTokens: T + 1, maskPrompt: true, useChatTemplate: true });
  const ms = performance.now() - t0;
  const trained = examples[0].loss.reduce((a, b) => a + b, 0);
  process.stdout.write(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024, tokens: examples[0].tokens.length, trained, truncated }) + '\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1]);
  const pick = args.indexOf('--cases') >= 0 ? args[args.indexOf('--cases') + 1].split(',') : Object.keys(CASES);
  const timeout = args.indexOf('--timeout') >= 0 ? Number(args[args.indexOf('--timeout') + 1]) : 300;
  const results: Record<string, unknown>[] = [];
  for (const name of pick) {
    if (!CASES[name]) throw new Error(`unknown case ${name} (cases: ${Object.keys(CASES).join(', ')})`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', name], { cwd: ROOT, encoding: 'utf8', timeout: timeout * 1000, maxBuffer: 1 << 20 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    const row: Record<string, unknown> = r.status === 0 && line ? { case: name, ...JSON.parse(line) } : { case: name, failed: r.error ? `timed out after ${timeout} s` : (r.stderr || '').trim().split('\n').slice(-3).join(' '), wallMs: Date.now() - t0 };
    results.push(row);
    console.log(JSON.stringify(row));
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/readers-scale.json'), JSON.stringify({ date: new Date().toISOString(), T, results }, null, 2) + '\n');
}

await main();
