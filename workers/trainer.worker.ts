// The engine behind a comlink API (src/engine/api.ts): one device per worker, model loading
// generation, dataset loading and training runs (src/engine/runs.ts) queued on it.

import { expose } from 'comlink';
import {
  DEFAULT_HUB_ENDPOINT, errorInfo, type EngineApi, type EngineEvent, type GenerateRequest, type GenerateResult, type ModelSummary, type ProbeResult, type SelfTestResult,
} from '../src/engine/api.ts';
import { loadTokenizer, type TextTokenizer } from '../src/engine/data/tokenizer.ts';
import { pickedFiles } from '../src/engine/io/browser-files.ts';
import { hubModelFiles } from '../src/engine/io/hub.ts';
import { loadHubParquet } from '../src/engine/data/hub-dataset.ts';
import { parseParquet } from '../src/engine/data/parquet.ts';
import type { ModelFiles } from '../src/engine/io/model-files.ts';
import { opfsCache, type OpfsCache } from '../src/engine/io/opfs-cache.ts';
import { urlModelFiles } from '../src/engine/io/url-files.ts';
import type { BasePrecision } from '../src/engine/model/decoder.ts';
import { parameterCount } from '../src/engine/model/config.ts';
import { weightBytes } from '../src/engine/model/memory.ts';
import { loadModel, type CausalLM } from '../src/engine/model/load.ts';
import { Gpu } from '../src/engine/gpu/gpu.ts';
import { browserHost } from '../src/engine/gpu/host-browser.ts';
import { kernelSelfTest } from '../src/engine/selftest.ts';
import '../src/engine/methods/all.ts';
import { RunManager } from '../src/engine/runs.ts';
import { TextStream } from '../src/engine/data/text-stream.ts';
import { isTuned, tuneKernels } from '../src/engine/tune.ts';

let gpu: Promise<Gpu> | undefined;
let loaded: { model: CausalLM; tokenizer: TextTokenizer; name: string; precision: BasePrecision; source: ModelFiles } | undefined;
/** One job on the device at a time: loads and generations queue here. */
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(job: () => Promise<T>): Promise<T> {
  const run = queue.then(job, job);
  queue = run.catch(() => undefined);
  return run;
}
const listeners = new Set<(e: EngineEvent) => void>();

function emit(e: EngineEvent): void {
  for (const l of listeners) l(e);
}

function device(): Promise<Gpu> {
  if (!gpu) {
    gpu = Gpu.create(browserHost()).then((g) => {
      g.on(emit);
      g.ledger.subscribe((ledger) => emit({ type: 'ledger', ledger }));
      return g;
    });
    gpu.catch(() => (gpu = undefined)); // a later probe may try again
  }
  return gpu;
}

let hubCache: OpfsCache | undefined;
const cache = () => (hubCache ??= opfsCache());

function endpointUrl(endpoint: string | undefined): string {
  const e = endpoint?.trim() || DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(e);
  } catch {
    throw new TypeError(`Hub endpoint "${e}" is not a URL (expected e.g. ${DEFAULT_HUB_ENDPOINT})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`Hub endpoint "${e}" is not an http(s) URL`);
  return url.href.replace(/\/+$/, '');
}

function load(src: ModelFiles, precision: BasePrecision, cleanup?: () => Promise<void>): Promise<ModelSummary> {
  return exclusive(async () => {
    try {
      return await loadNow(src, precision);
    } finally {
      await cleanup?.();
    }
  });
}

async function loadNow(src: ModelFiles, precision: BasePrecision): Promise<ModelSummary> {
  const g = await device();
  loaded?.model.dispose();
  loaded = undefined;
  const before = g.ledger.snapshot().live.weights;
  const model = await loadModel(g, src, { precision, onProgress: (p) => emit({ type: 'load', ...p }) });
  try {
    const tokenizer = await loadTokenizer(src, model.spec.eosTokenIds);
    loaded = { model, tokenizer, name: src.name, precision, source: src };
  } catch (e) {
    model.dispose();
    throw e;
  }
  const s = model.spec;
  return {
    name: src.name, architecture: s.architecture, parameters: parameterCount(s), layers: s.layers, hidden: s.hidden, vocab: s.vocab,
    precision, weightBytes: g.ledger.snapshot().live.weights - before,
    bytesByPrecision: { f32: weightBytes(s, 'f32'), q8: weightBytes(s, 'q8'), q4: weightBytes(s, 'q4'), nf4: weightBytes(s, 'nf4') },
  };
}

const runs = new RunManager({
  gpu: device,
  exclusive,
  emit,
  base: () => loaded,
  async reloadBase() {
    if (loaded) await loadNow(loaded.source, loaded.precision);
  },
  async beforeRun() {
    const g = await device();
    if (!isTuned(g)) await tuneKernels(g);
  },
});

async function generateWith(req: GenerateRequest): Promise<GenerateResult> {
  if (!loaded) throw new Error('No model is loaded: pick a model folder first.');
  const { model, tokenizer } = loaded;
  const t0 = performance.now();
  // Text deltas of the continuation decoded over the whole sequence (data/text-stream.ts,
  // shared with the CLI): single tokens do not decode to their share of the text.
  const promptIds = tokenizer.encode(req.prompt);
  const stream = new TextStream((ids) => tokenizer.decode(ids), promptIds);
  const tag = req.tag === undefined ? {} : { tag: req.tag };
  const out = await model.generate(promptIds, {
    ...req,
    onToken: (id) => {
      emit({ type: 'token', id, text: stream.push(id), ...tag });
    },
  });
  const rest = stream.finish();
  if (rest) emit({ type: 'token', id: out[out.length - 1] ?? -1, text: rest, ...tag });
  return { text: stream.text, tokens: out.length, ms: performance.now() - t0 };
}

const api: EngineApi = {
  async probe(): Promise<ProbeResult> {
    try {
      const g = await device();
      return { ok: true, adapter: g.adapter, ledger: g.ledger.snapshot() };
    } catch (e) {
      return { ok: false, error: errorInfo(e) };
    }
  },

  async selfTest(): Promise<SelfTestResult> {
    const g = await device();
    const check = await kernelSelfTest(g, Date.now() % 2 ** 32);
    return { ...check, ledger: g.ledger.snapshot() };
  },

  subscribe(listener) {
    listeners.add(listener);
  },

  loadModel(files, precision, name) {
    const folder = name || files[0]?.webkitRelativePath.split('/')[0] || 'picked files';
    return load(pickedFiles(files, folder), precision);
  },

  loadHub(req, precision) {
    let endpoint: string;
    try {
      endpoint = endpointUrl(req.endpoint);
    } catch (e) {
      return Promise.reject(e);
    }
    const c = cache();
    const src = hubModelFiles(req.repo.trim(), {
      revision: req.revision?.trim() || 'main',
      token: req.token?.trim() || undefined,
      endpoint,
      cache: c,
      onProgress: (p) => emit({ type: 'download', ...p }),
    });
    return load(src, precision, () => c.close()); // a broken-off download's write handle
  },

  cacheUsage() {
    return cache().usage();
  },

  clearCache() {
    return exclusive(() => cache().clear());
  },

  loadBuiltin(name, precision) {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) return Promise.reject(new Error(`"${name}" is not a built-in model name`));
    return load(urlModelFiles(new URL(`/models/${name}/`, self.location.origin).href, `builtin:${name}`), precision);
  },

  generate(req) {
    return exclusive(() => (req.runId ? runs.withRun(req.runId, () => generateWith(req)) : generateWith(req)));
  },

  async listMethods() {
    return runs.methods();
  },

  async loadDataset(name, content, mapping) {
    return runs.addDataset(name, content, mapping);
  },

  async loadDatasetFile(name, bytes, mapping) {
    if (name.toLowerCase().endsWith('.parquet')) return runs.addParsed(name, await parseParquet(name, bytes, mapping));
    return runs.addDataset(name, new TextDecoder().decode(bytes), mapping);
  },

  async loadHubDataset(req, mapping) {
    const endpoint = endpointUrl(req.endpoint);
    const c = cache();
    try {
      const { name, parsed } = await loadHubParquet(req, { endpoint, token: req.token?.trim() || undefined, cache: c, onProgress: (p) => emit({ type: 'download', ...p, target: 'dataset' }) }, mapping);
      return runs.addParsed(name, parsed);
    } finally {
      await c.close(); // a broken-off download's write handle
    }
  },

  async previewDataset(datasetId, settings) {
    return runs.preview(datasetId, settings);
  },

  async loadBuiltinDataset(name) {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`"${name}" is not a built-in dataset name`);
    const url = new URL(`/datasets/${name}.jsonl`, self.location.origin).href;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`built-in dataset ${name}: ${url} answered ${res.status}`);
    return runs.addDataset(`${name}.jsonl`, await res.text());
  },

  estimateRun(req) {
    return runs.estimate(req);
  },

  async fitRun(req) {
    return runs.fitToBase(req);
  },

  async startRun(req) {
    return runs.start(req);
  },

  async pauseRun(id) {
    runs.pause(id);
  },

  async resumeRun(id) {
    runs.resume(id);
  },

  async stopRun(id) {
    runs.stop(id);
  },

  exportRun(id, format) {
    return runs.exportRun(id, format);
  },

  async restoreRun(id, req, baseName, files, exportFormats, basePrecision) {
    runs.restore(id, req, baseName, files, exportFormats, basePrecision);
  },
};

expose(api);
