// `export` and `--adapter` as a user runs them: a LoRA run on the built-in model exported as
// PEFT, GGUF (re-read by @huggingface/gguf), a merged folder that evaluates like the base
// with --adapter, and a report; bad input refused with a clear message.

import { gguf } from '@huggingface/gguf';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, lines } from '../helpers/cli.ts';
import { bytesSource } from '../../src/engine/io/bytes.ts';
import { SafetensorsFile, writeSafetensors } from '../../src/engine/io/safetensors.ts';

const TMP = mkdtempSync(join(tmpdir(), 'webtune-export-'));
const RUN = join(TMP, 'run');
const TEXT = join(TMP, 'eval.txt');

beforeAll(async () => {
  writeFileSync(TEXT, 'And God said, Let there be light: and there was light. And God saw the light, that it was good.');
  const t = await cli('train', '--model', 'builtin:tiny-kjv', '--data', 'builtin:kjv-verse-ref', '--seq', '24', '--batch', '4', '--seed', '3',
    '--method', 'lora', '--rank', '4', '--alpha', '8', '--targets', 'q_proj,k_proj,v_proj,down_proj', '--steps', '3', '--lr', '0.02', '--metric-rows', '0', '--out', RUN, '--json');
  expect(t.code, t.stderr).toBe(0);
}, 240_000);

const evalLoss = async (...args: string[]) => {
  const r = await cli('eval', '--data', TEXT, '--seq', '32', '--json', ...args);
  expect(r.code, r.stderr).toBe(0);
  return Number(lines(r.stdout).find((o) => o.type === 'eval')?.loss);
};

describe('CLI export', () => {
  it('--format peft copies the adapter; gguf writes a llama.cpp LoRA that @huggingface/gguf reads', async () => {
    const peft = join(TMP, 'peft');
    const p = await cli('export', '--run', RUN, '--format', 'peft', '--out', peft);
    expect(p.code, p.stderr).toBe(0);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) expect(readFileSync(join(peft, f))).toEqual(readFileSync(join(RUN, f)));
    const g = await cli('export', '--run', RUN, '--format', 'gguf', '--out', join(TMP, 'gguf'), '--json');
    expect(g.code, g.stderr).toBe(0);
    const line = lines(g.stdout).find((o) => o.type === 'export');
    expect(line).toMatchObject({ format: 'gguf', arch: 'llama', alpha: 8 });
    const parsed = await gguf(join(TMP, 'gguf', 'adapter.gguf'), { allowLocalFile: true });
    const md = parsed.metadata as unknown as Record<string, unknown>;
    expect([md['general.type'], md['adapter.type'], md['adapter.lora.alpha']]).toEqual(['adapter', 'lora', 8]);
    const names = parsed.tensorInfos.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['blk.0.attn_q.weight.lora_a', 'blk.0.attn_q.weight.lora_b', 'blk.0.attn_k.weight.lora_b', 'blk.0.ffn_down.weight.lora_a']));
    expect(names.length).toBe(Number(line?.tensors));
  }, 120_000);

  it('--format merged evaluates like the base with --adapter RUN, and generate takes --adapter too', async () => {
    const merged = join(TMP, 'merged');
    const m = await cli('export', '--run', RUN, '--format', 'merged', '--out', merged, '--json');
    expect(m.code, m.stderr).toBe(0);
    expect(lines(m.stdout).find((o) => o.type === 'export')).toMatchObject({ kind: 'lora', files: expect.arrayContaining(['model.safetensors', 'config.json', 'tokenizer.json']) });
    const [base, adapted, folded] = [await evalLoss('--model', 'builtin:tiny-kjv'), await evalLoss('--model', 'builtin:tiny-kjv', '--adapter', RUN), await evalLoss('--model', merged)];
    expect(Math.abs(folded - adapted)).toBeLessThan(1e-4);
    expect(Math.abs(base - adapted)).toBeGreaterThan(1e-3); // the adapter did something
    const g = await cli('generate', '--model', 'builtin:tiny-kjv', '--adapter', RUN, '--prompt', 'And God said', '--max-tokens', '4', '--json');
    expect(g.code, g.stderr).toBe(0);
    expect(lines(g.stdout).filter((o) => o.type === 'token').length).toBeGreaterThan(0);
  }, 180_000);

  it('--format report: config, environment, metrics as JSON and CSV', async () => {
    const out = join(TMP, 'report');
    const r = await cli('export', '--run', RUN, '--format', 'report', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(report.config).toMatchObject({ model: 'builtin:tiny-kjv', method: 'lora', methodConfig: { rank: 4, alpha: 8 } });
    expect(report.environment.node).toBe(process.version);
    expect(report.environment.adapter).toHaveProperty('vendor');
    expect(report.summary).toMatchObject({ steps: 3 });
    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('type,step,loss,lr,tokensPerSec,wallMs,gradNorm,metric,memoryTotal,memoryPeak');
    expect(csv.filter((l) => l.startsWith('step,')).length).toBe(3);
    expect((JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as unknown[]).length).toBe(readFileSync(join(RUN, 'metrics.jsonl'), 'utf8').trim().split('\n').length);
  }, 60_000);

  it('bad input: unknown format, a folder without run.json, DoRA to GGUF, a full run to PEFT', async () => {
    const f = await cli('export', '--run', RUN, '--format', 'onnx', '--out', join(TMP, 'x'));
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/--format should be one of peft, gguf, merged, gguf-merged, report, squeeze, lora, recipe, got "onnx"/);
    const n = await cli('export', '--run', TMP, '--format', 'peft', '--out', join(TMP, 'x'));
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/no run\.json/);
    const dora = join(TMP, 'dora');
    mkdirSync(dora);
    for (const x of ['run.json', 'adapter_model.safetensors']) copyFileSync(join(RUN, x), join(dora, x));
    const cfg = JSON.parse(readFileSync(join(RUN, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dora, 'adapter_config.json'), JSON.stringify({ ...cfg, use_dora: true }));
    const d = await cli('export', '--run', dora, '--format', 'gguf', '--out', join(TMP, 'x'));
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/DoRA adapters \(use_dora\) cannot go to llama\.cpp/);
    const full = join(TMP, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'run.json'), JSON.stringify({ model: 'builtin:tiny-kjv', method: 'full' }));
    writeFileSync(join(full, 'model.safetensors'), writeSafetensors([]));
    const p = await cli('export', '--run', full, '--format', 'peft', '--out', join(TMP, 'x'));
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/the full run has model\.safetensors, not a PEFT adapter/);
    expect(existsSync(join(TMP, 'x'))).toBe(false);
  }, 120_000);

  it('--adapter with a wrong tensor shape or no adapter files says which', async () => {
    const bad = join(TMP, 'bad-adapter');
    mkdirSync(bad);
    copyFileSync(join(RUN, 'adapter_config.json'), join(bad, 'adapter_config.json'));
    const st = await SafetensorsFile.open(bytesSource(new Uint8Array(readFileSync(join(RUN, 'adapter_model.safetensors')))));
    const tensors = [];
    for (const name of st.names) {
      const data = await st.readF32(name);
      const shape = st.info(name).shape;
      const first = name === st.names[0];
      tensors.push({ name, dtype: 'F32' as const, shape: first ? [shape[0] + 1, shape[1]] : shape, data: first ? new Float32Array((shape[0] + 1) * shape[1]) : data });
    }
    writeFileSync(join(bad, 'adapter_model.safetensors'), writeSafetensors(tensors));
    const r = await cli('eval', '--model', 'builtin:tiny-kjv', '--data', TEXT, '--adapter', bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`"${st.names[0]}" has shape`);
    const none = await cli('eval', '--model', 'builtin:tiny-kjv', '--data', TEXT, '--adapter', join(TMP, 'nowhere'));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--adapter .*nowhere: no adapter_config\.json/);
  }, 120_000);
});
