// `export`: a finished run's folder (what `train --out DIR` wrote) in the formats the
// ecosystem loads, and `--adapter DIR` for eval / generate.
//   npm run cli -- export --run DIR --format peft|gguf|merged|report --out OUTDIR [--model M] [--gguf-type f32|f16] [--json]
//     peft    adapter_config.json + adapter_model.safetensors (Hugging Face PEFT; LoRA, DoRA, SHiRA runs)
//     gguf    adapter.gguf, a llama.cpp LoRA adapter (llama-cli -m base.gguf --lora adapter.gguf)
//     merged  the base with the run folded in, a Hugging Face model folder in the base's names and dtypes
//     report  report.json (config, environment, summary), metrics.json, metrics.csv
//     squeeze a LoRA run compressed to --rank r' by SVD of each B·A (energy kept per module in squeeze.json)
//     lora    a SHiRA or full fine-tune run converted to a LoRA of --rank k by randomized SVD (lora.json: error per module)
//     recipe  continue at scale: axolotl.yaml, train_trl.py, the dataset as JSONL, the run's adapter in adapter/
// The model defaults to run.json's; --model names the base when it has moved.

import { mkdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseDataset } from '../engine/data/dataset.ts';
import { continueAtScale } from '../engine/export/recipe.ts';
import { squeezeLora } from '../engine/export/squeeze.ts';
import { fullToLora, shiraToLora } from '../engine/export/to-lora.ts';
import { Checkpoint, readText } from '../engine/io/model-files.ts';
import { bytesSource } from '../engine/io/bytes.ts';
import { nodeFileSource } from '../engine/io/node-file.ts';
import { SafetensorsFile } from '../engine/io/safetensors.ts';
import { GGUF_MAGIC, GGUF_VERSION } from '../engine/export/gguf.ts';
import { folderEntries, OutputRefused, refuseOverlap, StagedFolder, writeFileAtomic } from './files.ts';
import { readDataFile } from './train.ts';
import { peftLoraToGguf } from '../engine/export/lora-gguf.ts';
import { writeMergedModel, type OutFolder } from '../engine/export/merged.ts';
import { buildReport } from '../engine/export/report.ts';
import { Gpu } from '../engine/gpu/gpu.ts';
import { nodeHost } from '../engine/gpu/host-node.ts';
import { parseModelConfig } from '../engine/model/config.ts';
import type { BasePrecision } from '../engine/model/decoder.ts';
import type { CausalLM } from '../engine/model/load.ts';
import { formatOwner } from '../engine/methods/registry.ts';
import { ConfigError } from '../engine/config/schema.ts';
import type { ExportFile, MethodDef, Trainable } from '../engine/methods/types.ts';
import { trainerConfig } from '../engine/config/trainer.ts';
import { Flags, UsageError } from './args.ts';
import { progressPrinter } from './common.ts';
import { loadMethods } from './methods.ts';
import { BUILTIN_MODELS, resolveModel } from './sources.ts';

export const EXPORT_FORMATS = ['peft', 'gguf', 'merged', 'report', 'squeeze', 'lora', 'recipe'] as const;

/** Files a run folder may hold as its method's export (train writes the default format). */
const EXPORT_FILE_NAMES = ['adapter_config.json', 'adapter_model.safetensors', 'model.safetensors', 'qzo_scales.safetensors', 'qzo_config.json'];

function readRunJson(dir: string): Record<string, unknown> {
  const p = join(dir, 'run.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--run ${dir}: not a folder`);
  if (!existsSync(p)) throw new UsageError(`--run ${dir}: no run.json (give a folder that npm run cli -- train --out DIR wrote)`);
  try {
    const v: unknown = JSON.parse(readFileSync(p, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`${p} is not a JSON object (${e instanceof Error ? e.message : String(e)})`);
  }
}

function readExportFiles(dir: string): ExportFile[] {
  return EXPORT_FILE_NAMES.filter((n) => existsSync(join(dir, n))).map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
}

/** A folder on disk as an OutFolder (files written in pieces, each under a temporary name
 *  renamed when it is closed); `written` counts the bytes of each file for verifyFolder. */
export function nodeOutFolder(dir: string, written = new Map<string, number>()): OutFolder {
  mkdirSync(dir, { recursive: true });
  return {
    async create(name) {
      const final = join(dir, name);
      mkdirSync(dirname(final), { recursive: true });
      const tmp = `${final}.partial`;
      const fh = await open(tmp, 'w');
      let n = 0;
      return {
        async write(b) {
          let at = 0;
          while (at < b.length) at += (await fh.write(b, at, b.length - at)).bytesWritten;
          n += b.length;
        },
        async close() {
          await fh.sync();
          await fh.close();
          await rename(tmp, final);
          written.set(name, n);
        },
      };
    },
  };
}

/** Check what an export wrote before it is reported: every file is there with the bytes
 *  written, safetensors headers parse and tile their files, JSON parses, a GGUF starts with
 *  its magic and version. Throws naming the file. */
export async function verifyFolder(dir: string, written: ReadonlyMap<string, number>): Promise<void> {
  for (const [name, size] of written) {
    const p = join(dir, name);
    const fail = (why: string) => new Error(`the export's ${name} did not verify (${why}); nothing was put at the output`);
    if (!existsSync(p)) throw fail('it is missing');
    const got = statSync(p).size;
    if (got !== size) throw fail(`${got} bytes on disk, ${size} written`);
    if (name.endsWith('.safetensors')) {
      try {
        await SafetensorsFile.open(nodeFileSource(p));
      } catch (e) {
        throw fail(e instanceof Error ? e.message : String(e));
      }
    } else if (name.endsWith('.json')) {
      try {
        JSON.parse(readFileSync(p, 'utf8'));
      } catch (e) {
        throw fail(`not JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else if (name.endsWith('.gguf')) {
      const head = readFileSync(p).subarray(0, 8);
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      if (head.length < 8 || dv.getUint32(0, true) !== GGUF_MAGIC || dv.getUint32(4, true) !== GGUF_VERSION) throw fail('no GGUF v3 header');
    }
  }
}

function peftFiles(files: readonly ExportFile[], method: string): ExportFile[] {
  const cfg = files.find((f) => f.name === 'adapter_config.json');
  const st = files.find((f) => f.name === 'adapter_model.safetensors');
  if (!cfg || !st) {
    const have = files.map((f) => f.name).join(', ') || 'no export files';
    throw new ConfigError(`the ${method} run has ${have}, not a PEFT adapter (adapter_config.json + adapter_model.safetensors); PEFT and GGUF exports need a lora, DoRA, ZO-LoRA or shira run — try --format merged`);
  }
  return [cfg, st];
}

async function environment(): Promise<Record<string, unknown>> {
  const env: Record<string, unknown> = { node: process.version, platform: process.platform, arch: process.arch, webtune: readPackageVersion() };
  try {
    const gpu = await Gpu.create(nodeHost());
    env.adapter = gpu.adapter;
    gpu.destroy();
  } catch (e) {
    env.adapter = { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  return env;
}

function readPackageVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The PEFT files of a run, checked whole: the config parses, the safetensors header parses
 *  and its tensors fill the file exactly (a truncated copy fails here). */
async function checkAdapterFiles(files: readonly ExportFile[], runDir: string): Promise<void> {
  for (const x of files) {
    try {
      if (x.name.endsWith('.safetensors')) await SafetensorsFile.open(bytesSource(x.bytes, x.name));
      else JSON.parse(new TextDecoder().decode(x.bytes));
    } catch (e) {
      throw new ConfigError(`--run ${runDir}: ${x.name} is damaged (${e instanceof Error ? e.message : String(e)}); export refused. Resume the run (train --resume ${runDir}) to write it again.`);
    }
  }
}

export async function exportCommand(argv: string[]): Promise<void> {
  await loadMethods(); // the formats, merges and recipes are the methods' (methods/<m>/)
  const f = new Flags(argv, ['json', 'overwrite']);
  const json = f.bool('json');
  const runDir = f.string('run');
  const format = f.string('format');
  const outDir = f.string('out');
  const modelFlag = f.optional('model');
  const ggufType = f.string('gguf-type', 'f32');
  const rankFlag = f.optional('rank');
  const alphaFlag = f.optional('alpha');
  const overwrite = f.bool('overwrite');
  f.finish();
  if (!EXPORT_FORMATS.includes(format as (typeof EXPORT_FORMATS)[number])) throw new UsageError(`--format should be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  if (ggufType !== 'f32' && ggufType !== 'f16') throw new UsageError(`--gguf-type should be f32 or f16, got "${ggufType}"`);
  const run = readRunJson(runDir);
  const method = typeof run.method === 'string' ? run.method : 'unknown';
  const modelSpec = modelFlag ?? (typeof run.model === 'string' ? run.model : undefined);
  // Refused before anything is opened: an output over an input, or over an earlier export.
  const folder = modelSpec === undefined ? undefined : modelSpec.startsWith('builtin:') ? join(BUILTIN_MODELS, modelSpec.slice(8)) : modelSpec.startsWith('hf:') ? undefined : modelSpec;
  const dataSpec = typeof run.data === 'string' && !run.data.startsWith('builtin:') ? run.data : undefined;
  refuseOverlap({ flag: '--out', path: outDir }, [
    { flag: `--run ${runDir}`, path: runDir },
    folder ? { flag: modelFlag ? `--model ${modelFlag}` : `the run's base model ${modelSpec}`, path: folder } : undefined,
    dataSpec && format === 'recipe' ? { flag: `the run's data ${dataSpec}`, path: dataSpec } : undefined,
  ]);
  const there = folderEntries(outDir);
  if (there.length && !overwrite) throw new OutputRefused(`--out ${outDir} is not empty (${there.slice(0, 4).join(', ')}${there.length > 4 ? ', …' : ''}): pass --overwrite to replace it, or choose another folder`);
  // Written into a hidden sibling, verified, then put in place: a failed export leaves what was there.
  const stage = new StagedFolder(outDir);
  const written = new Map<string, number>();
  const said: [Record<string, unknown>, string][] = [];
  try {
    await writeExport({ json, runDir, format, outDir, dir: stage.path, written, modelSpec, modelFlag, ggufType, rankFlag, alphaFlag, run, method }, (o, text) => said.push([o, text]));
    await verifyFolder(stage.path, written);
    stage.commit();
  } catch (e) {
    stage.abandon();
    throw e;
  }
  for (const [o, text] of said) json ? console.log(JSON.stringify({ type: 'export', format, ...o })) : console.log(text);
}

interface ExportContext {
  json: boolean;
  runDir: string;
  format: string;
  /** Where the export will be (shown in messages). */
  outDir: string;
  /** Where it is written now. */
  dir: string;
  written: Map<string, number>;
  modelSpec?: string;
  modelFlag?: string;
  ggufType: string;
  rankFlag?: string;
  alphaFlag?: string;
  run: Record<string, unknown>;
  method: string;
}

async function writeExport(c: ExportContext, say: (o: Record<string, unknown>, text: string) => void): Promise<void> {
  const { json, runDir, format, outDir, modelSpec, ggufType, rankFlag, alphaFlag, run, method } = c;
  const put = (name: string, bytes: Uint8Array) => {
    writeFileAtomic(join(c.dir, name), bytes);
    c.written.set(name, bytes.length);
  };
  if (format === 'report') {
    const metricsPath = join(runDir, 'metrics.jsonl');
    const metrics = existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8') : '';
    const exported = readExportFiles(runDir).map((x) => ({ name: x.name, bytes: x.bytes.length }));
    const files = buildReport(run, metrics, { ...(await environment()), exportFiles: exported });
    for (const x of files) put(x.name, x.bytes);
    say({ out: outDir, files: files.map((x) => x.name) }, `report of ${runDir} written to ${outDir}: ${files.map((x) => x.name).join(', ')}`);
    return;
  }

  const files = readExportFiles(runDir);
  if (!files.length) throw new UsageError(`--run ${runDir}: no export files (${EXPORT_FILE_NAMES.join(', ')}); was it trained with --out?`);
  // The run's files are checked before they are used: a truncated or damaged file is refused.
  await checkAdapterFiles(files, runDir);
  if (format === 'peft') {
    const peft = peftFiles(files, method);
    for (const x of peft) put(x.name, x.bytes);
    say({ out: outDir, files: peft.map((x) => x.name) }, `PEFT adapter written to ${outDir}`);
    return;
  }
  const writeAll = (out: readonly { name: string; bytes: Uint8Array }[]) => {
    for (const x of out) put(x.name, x.bytes);
  };
  const rank = () => {
    const r = Number(rankFlag);
    if (rankFlag === undefined || !Number.isInteger(r) || r < 1) throw new UsageError(`--format ${format} needs --rank, a positive integer${rankFlag === undefined ? '' : ` (got "${rankFlag}")`}`);
    return r;
  };
  const alpha = alphaFlag === undefined ? undefined : Number(alphaFlag);
  if (alpha !== undefined && !(alpha > 0)) throw new UsageError(`--alpha should be a positive number, got "${alphaFlag}"`);
  if (format === 'squeeze') {
    const res = await squeezeLora(peftFiles(files, method), { rank: rank(), alpha });
    writeAll([...res.files, { name: 'squeeze.json', bytes: new TextEncoder().encode(JSON.stringify({ energy: res.energy, alpha: res.alpha, modules: res.report }, null, 2) + '\n') }]);
    say({ out: outDir, energy: res.energy, alpha: res.alpha }, `LoRA squeezed to rank ${rank()} (energy kept ${(100 * res.energy).toFixed(2)} %) written to ${outDir}`);
    return;
  }
  if (format === 'recipe') {
    const dataSpec = typeof run.data === 'string' ? run.data : undefined;
    if (!dataSpec) throw new UsageError(`${runDir}/run.json names no dataset`);
    const { name: dataName, content } = readDataFile(dataSpec);
    const d = typeof run.dataSettings === 'object' && run.dataSettings !== null ? (run.dataSettings as Record<string, unknown>) : {};
    const recipe = continueAtScale(JSON.stringify(run), parseDataset(dataName, content).rows, {
      evalFraction: typeof d.evalFraction === 'number' ? d.evalFraction : undefined, pack: d.pack === true, trainOnPrompt: d.trainOnPrompt === true,
    });
    const adapter = files.filter((x) => x.name.startsWith('adapter_')).map((x) => ({ name: `adapter/${x.name}`, bytes: x.bytes }));
    writeAll([...recipe.files.map((x) => ({ name: x.name, bytes: new TextEncoder().encode(x.text) })), ...adapter]);
    for (const n of recipe.notes) if (!json) console.log(`note: ${n}`);
    say({ out: outDir, files: recipe.files.map((x) => x.name), notes: recipe.notes }, `recipe (${recipe.kind}) written to ${outDir}: accelerate launch ${join(outDir, 'train_trl.py')}, or axolotl train ${join(outDir, 'axolotl.yaml')}`);
    return;
  }
  if (!modelSpec) throw new UsageError('--model is required: run.json names no model');
  const base = resolveModel(modelSpec, progressPrinter(json));
  if (format === 'lora') {
    const spec = parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`);
    const opts = { rank: rank(), alpha, baseModel: modelSpec };
    const res = method === 'shira' ? await shiraToLora(files, spec, opts) : await fullToLora(files, await Checkpoint.open(base), spec, opts);
    writeAll([...res.files, { name: 'lora.json', bytes: new TextEncoder().encode(JSON.stringify({ energy: res.energy, modules: res.report, dropped: res.dropped }, null, 2) + '\n') }]);
    say({ out: outDir, energy: res.energy, dropped: res.dropped.length }, `${method} run as a rank-${rank()} LoRA (energy kept ${(100 * res.energy).toFixed(2)} %${res.dropped.length ? `; ${res.dropped.length} tensors LoRA cannot carry are listed in lora.json` : ''}) written to ${outDir}`);
    return;
  }
  if (format === 'gguf') {
    const spec = parseModelConfig(await readText(base, 'config.json'), `${base.name}/config.json`);
    const res = await peftLoraToGguf(peftFiles(files, method), spec, { type: ggufType === 'f16' ? 'F16' : 'F32' });
    put('adapter.gguf', res.bytes);
    const out = join(outDir, 'adapter.gguf');
    say({ out, arch: res.arch, alpha: res.alpha, tensors: 2 * res.weights.length, bytes: res.bytes.length }, `llama.cpp LoRA adapter (${res.arch}, alpha ${res.alpha}, ${res.weights.length} weights) written to ${out}`);
    return;
  }
  // merged
  const precision = (typeof run.precision === 'string' ? run.precision : 'f32') as BasePrecision;
  const summary = await writeMergedModel(base, files, nodeOutFolder(c.dir, c.written), {
    precision,
    onProgress: json ? (p) => console.log(JSON.stringify({ type: 'progress', ...p })) : undefined,
  });
  say(
    { out: outDir, kind: summary.kind, merged: summary.merged.length, dequantized: summary.dequantized.length, files: summary.files },
    `merged model (${summary.kind}, ${summary.merged.length} tensors changed${summary.dequantized.length ? `, ${summary.dequantized.length} through ${precision} as the run saw them` : ''}) written to ${outDir}: ${summary.files.join(', ')}`,
  );
}

/** Put the PEFT adapter in `dir` on `model` through the method whose peft_type it is
 *  (LoRA / DoRA: lora, SHiRA: shira); a mismatched name or shape is a ConfigError naming the tensor. */
export async function applyAdapterDir(model: CausalLM, dir: string, precision: BasePrecision, trainer = trainerConfig(), expectMethod?: string): Promise<Trainable> {
  const cfgPath = join(dir, 'adapter_config.json');
  const stPath = join(dir, 'adapter_model.safetensors');
  for (const p of [cfgPath, stPath]) if (!existsSync(p)) throw new UsageError(`--adapter ${dir}: no ${p.slice(dir.length + 1)} (expected a PEFT adapter folder)`);
  const files: ExportFile[] = [cfgPath, stPath].map((p) => ({ name: p.slice(dir.length + 1), bytes: new Uint8Array(readFileSync(p)) }));
  await loadMethods();
  // The method whose format this is (its peft_type, declared in methods/<m>/).
  let m: MethodDef | undefined;
  try {
    m = formatOwner(files);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--adapter ${dir}: ${e.message}`);
    throw e;
  }
  if (!m?.importFiles) throw new UsageError(`--adapter ${dir}: not an adapter webtune loads`);
  const peftType = m.format?.peftType;
  if (expectMethod && expectMethod !== m.name) throw new ConfigError(`--adapter ${dir} is a ${String(peftType)} adapter: continue it with --method ${m.name}, not ${expectMethod}`);
  return m.importFiles(model, files, { seed: 0, trainer, shape: { B: 1, T: 1, precision }, baseModel: '' });
}
