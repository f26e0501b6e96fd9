// The run manager the worker serves: datasets, estimates, queued runs with events,
// pause / stop, exports, generation with a finished run applied, and the base left as it was.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { loadTokenizer } from '../../src/engine/data/tokenizer.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { RunManager, type LoadedBase, type RunEvent, type RunRequestData } from '../../src/engine/runs.ts';
import { testGpu } from '../helpers/gpu.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const DATA = new URL('../../public/datasets/kjv-verse-ref.jsonl', import.meta.url).pathname;

async function setup() {
  const gpu = await testGpu();
  const files = nodeModelDir(MODEL);
  let base: LoadedBase | undefined;
  let reloads = 0;
  const load = async () => {
    base?.model.dispose();
    const model = await loadModel(gpu, files, { precision: 'f32' });
    base = { model, tokenizer: await loadTokenizer(files, model.spec.eosTokenIds), name: 'tiny-kjv', precision: 'f32', source: files };
  };
  await load();
  let queue: Promise<unknown> = Promise.resolve();
  const events: RunEvent[] = [];
  const runs = new RunManager({
    gpu: async () => gpu,
    exclusive<T>(job: () => Promise<T>): Promise<T> {
      const r = queue.then(job, job);
      queue = r.catch(() => undefined);
      return r;
    },
    emit: (e) => events.push(e),
    base: () => base,
    async reloadBase() {
      reloads++;
      await load();
    },
  });
  const idle = () => runs.estimate(request('x')).then(() => queue);
  return { gpu, runs, events, base: () => base, reloads: () => reloads, idle, dispose: () => base?.model.dispose() };
}

function request(datasetId: string, over: Partial<RunRequestData> = {}): RunRequestData {
  return {
    datasetId, method: 'lora', methodConfig: { rank: 4 }, trainer: { steps: 3, evalEvery: 0, lr: 1e-2 }, B: 4, T: 24, seed: 1,
    data: { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 2 }, ...over,
  };
}

describe('run manager', () => {
  it('queues a LoRA run and a MeZO run, streams their events, exports, and leaves the base as it was', async () => {
    const s = await setup();
    const ds = s.runs.addDataset('kjv-verse-ref.jsonl', readFileSync(DATA, 'utf8'));
    expect(ds.rows).toBe(480);
    expect(ds.kinds.prompt).toBe(480);
    const ids = [1, 100, 200, 300];
    const before = await s.base()?.model.logits(ids, 1, 4);
    const est = await s.runs.estimate(request(ds.id));
    expect(est.ok).toBe(true);
    expect(est.bytes.total).toBeGreaterThan(est.bytes.weights);
    const a = s.runs.start(request(ds.id));
    const b = s.runs.start(request(ds.id, { method: 'mezo', methodConfig: {}, trainer: { steps: 3, lr: 1e-5 } }));
    await s.idle();
    const phases = (id: string) => s.events.filter((e) => e.type === 'run' && e.id === id).map((e) => (e.type === 'run' ? e.phase : ''));
    expect(phases(a)).toEqual(['queued', 'running', 'done']);
    expect(phases(b)).toEqual(['queued', 'running', 'done']);
    const steps = s.events.filter((e) => e.type === 'train' && e.id === a && e.event.type === 'step');
    expect(steps).toHaveLength(3);
    const evals = s.events.filter((e) => e.type === 'train' && e.id === a && e.event.type === 'eval');
    expect(evals).toHaveLength(1);
    const files = await s.runs.exportRun(a);
    expect(files.map((f) => f.name).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(JSON.parse(new TextDecoder().decode(files.find((f) => f.name === 'adapter_config.json')?.bytes)).r).toBe(4);
    // Beside the method's PEFT adapter: a llama.cpp GGUF adapter and the merged model.
    const done = s.events.filter((e) => e.type === 'run' && e.id === a).at(-1);
    expect(done?.type === 'run' && done.exportFormats).toEqual(['peft', 'gguf', 'merged', 'gguf-merged']);
    const gguf = await s.runs.exportRun(a, 'gguf');
    expect(new TextDecoder().decode(gguf[0].bytes.subarray(0, 4))).toBe('GGUF');
    expect(new TextDecoder().decode(gguf.find((f) => f.name === 'Modelfile')?.bytes)).toMatch(/^FROM \.\/base\.gguf\nADAPTER \.\/adapter\.gguf\nPARAMETER stop "<\/s>"$/m);
    const ggufMerged = await s.runs.exportRun(a, 'gguf-merged');
    expect(ggufMerged.map((f) => f.name)).toEqual(['model.gguf', 'Modelfile']);
    expect(new TextDecoder().decode(ggufMerged[0].bytes.subarray(0, 4))).toBe('GGUF');
    const merged = await s.runs.exportRun(a, 'merged');
    expect(merged.map((f) => f.name)).toEqual(expect.arrayContaining(['model.safetensors', 'config.json', 'tokenizer.json']));
    await expect(s.runs.exportRun(b, 'gguf')).rejects.toThrow(/PEFT|LoRA|adapter/);
    // MeZO trained the weights in place: the base was reloaded after it; LoRA came off by itself.
    expect(s.reloads()).toBe(1);
    expect(Array.from((await s.base()?.model.logits(ids, 1, 4)) ?? [])).toEqual(Array.from(before ?? []));
    // The run's adapter applied for one job, then taken off again.
    const withA = await s.runs.withRun(a, (_state, base) => base.model.logits(ids, 1, 4));
    expect(Array.from(withA)).not.toEqual(Array.from(before ?? []));
    expect(Array.from((await s.base()?.model.logits(ids, 1, 4)) ?? [])).toEqual(Array.from(before ?? []));
    s.dispose();
  });

  it('bad requests fail at start, before any GPU work; a stop before the start drops a queued run', async () => {
    const s = await setup();
    const ds = s.runs.addDataset('bad.jsonl', '{"prompt":"a","completion":" b"}\nnot json\n{"prompt":"c","completion":" d"}\n');
    expect(ds.rows).toBe(2);
    expect(ds.errors.map((e) => e.line)).toEqual([2]);
    expect(() => s.runs.start(request(ds.id, { method: 'nope' }))).toThrow(/unknown method "nope"/);
    expect(() => s.runs.start(request(ds.id, { methodConfig: { rank: 1000 } }))).toThrow(/--rank 1000 is larger than/);
    expect(() => s.runs.start(request(ds.id, { methodConfig: { targets: 'c_attn' } }))).toThrow(/no module "c_attn"/);
    expect(() => s.runs.start(request(ds.id, { methodConfig: { bogus: 1 } }))).toThrow(/--bogus is not an option/);
    expect(() => s.runs.start(request(ds.id, { method: 'shira', methodConfig: { fraction: 1.5 } }))).toThrow(/fraction/);
    const huge = await s.runs.estimate(request(ds.id, { B: 4096, T: 256 }));
    expect(huge.ok).toBe(false);
    expect(huge.error?.message).toMatch(/lower --batch or --seq/);
    const blocker = s.runs.start(request(ds.id, { trainer: { steps: 2 } }));
    const queued = s.runs.start(request(ds.id));
    s.runs.stop(queued);
    await s.idle();
    const last = (id: string) => s.events.filter((e) => e.type === 'run' && e.id === id).at(-1);
    expect(last(blocker)).toMatchObject({ phase: 'done' });
    expect(last(queued)).toMatchObject({ phase: 'stopped' });
    s.dispose();
  });
});
