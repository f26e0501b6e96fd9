// A model in Hugging Face layout, from any place that can open its files by name: a folder
// on disk (Node), files the user picked or dropped (browser), the Hub, or public/.
// Weights come from model.safetensors or the shards named by model.safetensors.index.json.

import type { ByteSource } from './bytes.ts';
import { SafetensorsError, SafetensorsFile, type TensorInfo } from './safetensors.ts';

export interface ModelFiles {
  /** Shown in errors: a folder, a repo id. */
  readonly name: string;
  has(file: string): Promise<boolean>;
  open(file: string): Promise<ByteSource>;
}

export async function readText(files: ModelFiles, file: string): Promise<string> {
  const src = await files.open(file);
  return new TextDecoder().decode(await src.read(0, src.size));
}

/** All tensors of a checkpoint, whether in one file or sharded. */
export class Checkpoint {
  private constructor(private readonly where: Map<string, SafetensorsFile>) {}

  static async open(files: ModelFiles): Promise<Checkpoint> {
    const where = new Map<string, SafetensorsFile>();
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

  get names(): string[] {
    return [...this.where.keys()];
  }

  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor "${name}"`);
    return f;
  }
}
