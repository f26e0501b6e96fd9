// A model in Hugging Face layout, from any place that can open its files by name: a folder
// on disk (Node), files the user picked or dropped (browser), the Hub, or public/.
// Weights come from model.safetensors or the shards named by model.safetensors.index.json.

import type { QuantFormat, QuantTensor } from '../quant/block.ts';
import type { ByteSource } from './bytes.ts';
import { SafetensorsError, SafetensorsFile, type TensorInfo } from './safetensors.ts';

/** Where a checkpoint's tensors come from: a safetensors file, or a GGUF file (io/gguf-model.ts). */
export interface TensorSource {
  info(name: string): TensorInfo;
  readF32(name: string): Promise<Float32Array>;
  /** The tensor as the engine's blocks without re-quantizing, when it is stored in that
   *  format (a GGUF Q8_0 → q8, Q4_0 → q4); undefined otherwise. */
  readBlocks?(name: string, format: QuantFormat): Promise<QuantTensor | undefined>;
}

export interface ModelFiles {
  /** Shown in errors: a folder, a repo id. */
  readonly name: string;
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
  /** A model that is one file holding its own weights (a GGUF): its tensors by Hugging
   *  Face name, instead of model.safetensors. */
  checkpoint?(): Promise<Map<string, TensorSource>>;
}

export async function readText(files: ModelFiles, file: string): Promise<string> {
  const src = await files.open(file);
  return new TextDecoder().decode(await src.read(0, src.size));
}

/** All tensors of a checkpoint, whether in one file or sharded. */
export class Checkpoint {
  private constructor(private readonly where: Map<string, TensorSource>) {}

  static async open(files: ModelFiles): Promise<Checkpoint> {
    if (files.checkpoint) return new Checkpoint(await files.checkpoint());
    const where = new Map<string, TensorSource>();
    if (await files.has('model.safetensors')) {
      const f = await SafetensorsFile.open(await files.open('model.safetensors'));
      for (const name of f.tensors.keys()) where.set(name, f);
      return new Checkpoint(where);
    }
    if (!(await files.has('model.safetensors.index.json'))) {
      throw new SafetensorsError(`${files.name}: no model.safetensors or model.safetensors.index.json (only safetensors weights are supported)`);
    }
    let index: unknown;
    try {
      index = JSON.parse(await readText(files, 'model.safetensors.index.json'));
    } catch (e) {
      throw new SafetensorsError(`${files.name}/model.safetensors.index.json is not JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const map = typeof index === 'object' && index !== null ? (index as { weight_map?: unknown }).weight_map : undefined;
    if (typeof map !== 'object' || map === null) throw new SafetensorsError(`${files.name}/model.safetensors.index.json has no "weight_map" object`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [tensor, shard] of Object.entries(map)) {
      if (typeof shard !== 'string') throw new SafetensorsError(`${files.name}/model.safetensors.index.json: "${tensor}" maps to ${JSON.stringify(shard)}, not a file name`);
      let f = shards.get(shard);
      if (!f) shards.set(shard, (f = await SafetensorsFile.open(await files.open(shard))));
      if (!f.tensors.has(tensor)) throw new SafetensorsError(`${files.name}/${shard} lacks "${tensor}" that the index places there`);
      where.set(tensor, f);
    }
    return new Checkpoint(where);
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): TensorInfo {
    return this.file(name).info(name);
  }

  readF32(name: string): Promise<Float32Array> {
    return this.file(name).readF32(name);
  }

  /** The tensor as engine blocks when its storage already is `format` (see TensorSource). */
  async readBlocks(name: string, format: QuantFormat): Promise<QuantTensor | undefined> {
    return this.file(name).readBlocks?.(name, format);
  }

  get names(): string[] {
    return [...this.where.keys()];
  }

  private file(name: string): TensorSource {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor "${name}"`);
    return f;
  }
}
