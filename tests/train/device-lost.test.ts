// A lost GPU is survivable (issue 15, item 5): the device is destroyed in the middle of a
// run; the run manager gets a new device from its host, reloads the base, restores the run's
// last checkpoint and continues. The user is told (a notice on the run), and the loss curve
// and the exported adapter equal those of a run that was never interrupted.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import '../../src/engine/methods/all.ts';
import { loadTokenizer } from '../../src/engine/data/tokenizer.ts';
import { Gpu } from '../../src/engine/gpu/gpu.ts';
import { nodeHost } from '../../src/engine/gpu/host-node.ts';
import { nodeModelDir } from '../../src/engine/io/node-dir.ts';
import { loadModel } from '../../src/engine/model/load.ts';
import { RunManager, type LoadedBase, type RunEvent, type RunRequestData } from '../../src/engine/runs.ts';

const MODEL = new URL('../../public/models/tiny-kjv', import.meta.url).pathname;
const DATA = readFileSync(new URL('../../public/datasets/kjv-verse-ref.jsonl', import.meta.url).pathname, 'utf8');

/** A host like the worker's: one device at a time, re-acquired by recover(). */
async function host(loseAfterStep?: number) {
  const files = nodeModelDir(MODEL);
  let gpu = await Gpu.create(nodeHost());
  const devices = [gpu];
  let base: LoadedBase | undefined;
  const load = async () => {
    base?.model.dispose();
    const model = await loadModel(gpu, files, { precision: 'f32' });
    base = { model, tokenizer: await loadTokenizer(files, model.spec.eosTokenIds), name: 'tiny-kjv', precision: 'f32', source: files };
  };
  await load();
  let queue: Promise<unknown> = Promise.resolve();
  const events: RunEvent[] = [];
  let lost = false;
  const runs = new RunManager({
    gpu: async () => gpu,
    exclusive<T>(job: () => Promise<T>): Promise<T> {
      const r = queue.then(job, job);
      queue = r.catch(() => undefined);
      return r;
    },
    emit: (e) => {
      events.push(e);
      // The GPU goes away in the middle of the run (a driver reset, another tab, the browser).
      if (!lost && e.type === 'train' && e.event.type === 'step' && e.event.step === loseAfterStep) {
        lost = true;
        gpu.device.destroy();
      }
    },
    base: () => base,
    reloadBase: load,
    async recover() {
      gpu = await Gpu.create(nodeHost());
      devices.push(gpu);
      await load();
    },
  });
  return { runs, events, devices, idle: () => queue, dispose: () => devices.at(-1)?.destroy() };
}

const request = (datasetId: string): RunRequestData => ({
  datasetId, method: 'lora', methodConfig: { rank: 4, targets: 'q_proj,v_proj' }, trainer: { steps: 6, evalEvery: 0, lr: 1e-2, schedule: 'cosine' }, B: 2, T: 16, seed: 4,
  data: { evalFraction: 0.1, maskPrompt: true, pack: false, metricRows: 0 }, checkpointEvery: 2,
});

async function trainOnce(loseAfterStep?: number) {
  const h = await host(loseAfterStep);
  const ds = h.runs.addDataset('kjv-verse-ref.jsonl', DATA);
  const id = h.runs.start(request(ds.id));
  await h.idle();
  // The curve as the page draws it: a restart replaces the steps after its checkpoint.
  const curve = new Map<number, number>();
  for (const e of h.events) {
    if (e.type === 'run' && e.restartedAt !== undefined) for (const s of [...curve.keys()]) if (s > e.restartedAt) curve.delete(s);
    if (e.type === 'train' && e.event.type === 'step') curve.set(e.event.step, e.event.loss);
  }
  const runEvents = h.events.filter((e): e is Extract<RunEvent, { type: 'run' }> => e.type === 'run');
  const files = runEvents.at(-1)?.phase === 'done' ? await h.runs.exportRun(id) : [];
  const adapter = files.find((f) => f.name === 'adapter_model.safetensors')?.bytes;
  h.dispose();
  return { curve: [...curve.entries()], runEvents, adapter, devices: h.devices.length };
}

describe('device loss', () => {
  it('device.destroy() mid-run: a new device, the base reloaded, the checkpoint restored, the same curve and adapter', async () => {
    const plain = await trainOnce();
    const lost = await trainOnce(3);
    expect(lost.devices).toBe(2);
    expect(lost.runEvents.map((e) => e.phase)).toEqual(['queued', 'running', 'running', 'done']);
    const notice = lost.runEvents[2];
    expect(notice.restartedAt).toBe(2);
    expect(notice.notice).toMatch(/The GPU device was lost .*got a new device, reloaded tiny-kjv and continues run-\d+ from its checkpoint at step 2/);
    expect(lost.curve).toEqual(plain.curve);
    expect(lost.curve.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lost.adapter && plain.adapter && Buffer.from(lost.adapter).equals(Buffer.from(plain.adapter))).toBe(true);
  }, 300_000);
});
