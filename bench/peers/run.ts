// Peers, side by side in the same run (issue 10 item 7), kept out of the studio's own
// `npm ci`: bench/peers is its own package with its own lockfile, installed here on first use
// with `npm ci --omit=optional` (TensorFlow.js core + WebGPU backend; node-llama-cpp 3.21.1 and
// only its linux-x64 CPU binary). Each peer runs in its own process (bundled by esbuild) and
// prints one JSON line; each result carries its ratio to webtune's row of the same run.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { modelFiles, type DecodeBenchRow, type SuiteHost, type TrainBenchRow } from '../../src/engine/bench/suite.ts';
import type { Gpu } from '../../src/engine/gpu/gpu.ts';
import { readText } from '../../src/engine/io/model-files.ts';
import { parseModelConfig } from '../../src/engine/model/config.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export interface PeerResult {
  peer: string;
  /** webtune's configuration it stands beside. */
  config: string;
  ok: boolean;
  summary: string;
  /** The peer's ms per step or token. */
  ms?: number;
  /** peer ms ÷ webtune ms (> 1: webtune is faster). */
  ratio?: number;
}

function ensureInstalled(): void {
  if (existsSync(join(HERE, 'node_modules/@tensorflow/tfjs-backend-webgpu')) && existsSync(join(HERE, 'node_modules/@node-llama-cpp/linux-x64'))) return;
  process.stderr.write('… installing bench/peers (npm ci --omit=optional)\n');
  execFileSync('npm', ['ci', '--omit=optional', '--no-audit', '--no-fund'], { cwd: HERE, stdio: 'inherit', env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' } });
}

async function bundle(name: string, external: string[]): Promise<string> {
  const outfile = join(HERE, '.build', `${name}.mjs`);
  await build({
    entryPoints: [join(HERE, `${name}.ts`)], bundle: true, platform: 'node', format: 'esm', mainFields: ['module', 'main'], external, outfile, logLevel: 'warning',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return outfile;
}

/** Run a bundled peer with one JSON argument; its last stdout line is its JSON answer. */
function runPeer(file: string, arg: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [file, JSON.stringify(arg)], { cwd: HERE, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += String(d)));
    p.stderr.on('data', (d) => (err += String(d)));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (line) {
        try {
          const v: unknown = JSON.parse(line);
          if (typeof v === 'object' && v !== null) return resolve(Object.fromEntries(Object.entries(v)));
        } catch {
          // fall through to the error below
        }
      }
      resolve({ ok: false, error: code === null ? `timed out after ${timeoutMs / 1000} s` : `exit ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}` });
    });
  });
}

/** TensorFlow.js (WebGPU backend on Dawn) for each LoRA row on an f32 base. */
export async function runTfjsPeer(rows: readonly TrainBenchRow[], _gpu: Gpu, host: SuiteHost): Promise<PeerResult[]> {
  const lora = rows.filter((r) => r.method === 'lora' && r.precision === 'f32');
  if (lora.length === 0) return [];
  ensureInstalled();
  const file = await bundle('tfjs-lora', ['webgpu']);
  const results: PeerResult[] = [];
  for (const r of lora) {
    host.onProgress?.(`peer TensorFlow.js: ${r.label}`);
    const s = parseModelConfig(await readText(modelFiles(host, r.model), 'config.json'));
    const shape = { hidden: s.hidden, intermediate: s.intermediate, layers: s.layers, heads: s.heads, kvHeads: s.kvHeads, vocab: s.vocab, ropeTheta: s.rope?.theta ?? 10000, B: r.B, T: r.T, rank: 8, warmup: 1, steps: 1 };
    const v = await runPeer(file, shape, 20 * 60_000);
    const ms = typeof v.msPerStep === 'number' ? v.msPerStep : undefined;
    results.push(ms === undefined
      ? { peer: 'tfjs-webgpu', config: r.label, ok: false, summary: `TensorFlow.js did not finish: ${String(v.error ?? 'no result')}` }
      : { peer: 'tfjs-webgpu', config: r.label, ok: true, ms, ratio: ms / r.msPerStep,
          summary: `${r.label}: TensorFlow.js ${ms.toFixed(0)} ms/step vs webtune ${r.msPerStep.toFixed(0)} ms/step → webtune ${(ms / r.msPerStep).toFixed(2)}× faster (${String(v.adapter)})` });
  }
  return results;
}

/** What the merged-model GGUF writer (another branch) gives this harness, when it has landed. */
type GgufWriter = (gpu: Gpu, files: SuiteHost, row: DecodeBenchRow) => Promise<Uint8Array>;

async function findGgufWriter(): Promise<GgufWriter | string> {
  const path = '../../src/engine/export/gguf-merged.ts';
  if (!existsSync(join(HERE, path))) return 'webtune has no merged-model GGUF writer on this branch yet (src/engine/export/gguf-merged.ts); llama.cpp needs the model as GGUF';
  return 'the merged-model GGUF writer is present but not wired into this harness yet';
}

/** llama.cpp (node-llama-cpp, CPU) on the same model as GGUF, for each decode row. */
export async function runLlamaCppPeer(rows: readonly DecodeBenchRow[], gpu: Gpu, host: SuiteHost): Promise<PeerResult[]> {
  if (rows.length === 0) return [];
  ensureInstalled();
  const writer = await findGgufWriter();
  if (typeof writer === 'string') return rows.map((r) => ({ peer: 'llama.cpp', config: r.label, ok: false, summary: `llama.cpp peer missing: ${writer}` }));
  const file = await bundle('llama-decode', ['node-llama-cpp']);
  const results: PeerResult[] = [];
  const dir = join(tmpdir(), 'webtune-bench-gguf');
  mkdirSync(dir, { recursive: true });
  for (const r of rows) {
    host.onProgress?.(`peer llama.cpp: ${r.label}`);
    const gguf = join(dir, `${r.label.replace(/[^a-z0-9]+/gi, '-')}.gguf`);
    writeFileSync(gguf, await writer(gpu, host, r));
    const v = await runPeer(file, { gguf, prompt: r.promptIds ?? [], tokens: r.tokens }, 15 * 60_000);
    const ms = typeof v.msPerToken === 'number' && Number.isFinite(v.msPerToken) ? v.msPerToken : undefined;
    results.push(ms === undefined
      ? { peer: 'llama.cpp', config: r.label, ok: false, summary: `llama.cpp did not finish: ${String(v.error ?? 'no result')}` }
      : { peer: 'llama.cpp', config: r.label, ok: true, ms, ratio: r.msPerToken / ms,
          summary: `${r.label}: llama.cpp ${ms.toFixed(1)} ms/token vs webtune ${r.msPerToken.toFixed(1)} ms/token → webtune takes ${(r.msPerToken / ms).toFixed(1)}× llama.cpp's time` });
  }
  return results;
}
