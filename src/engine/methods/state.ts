// What the methods' trained states share: host copies of trained tensors for checkpoints,
// and the base of every first-order state (an optimizer over named tensors whose gradients
// the model's backward forms, one shared step, checkpointed with the optimizer's state).

import type { Gpu } from '../gpu/gpu.ts';
import type { CausalLM } from '../model/load.ts';
import { firstOrderStep, type Optimizer } from '../optim/optimizer.ts';
import type { Batch, ExportFile, StepContext, StepResult, Trainable, TrainedTensor } from './types.ts';

/** Host copies of the tensors, by name. */
export async function readTensors(gpu: Gpu, tensors: readonly TrainedTensor[], into = new Map<string, Float32Array>()): Promise<Map<string, Float32Array>> {
  for (const t of tensors) into.set(t.name, await gpu.readF32(t.buf));
  return into;
}

/** Write checkpointed values back; a missing or mis-sized tensor is an error naming it. */
export function writeTensors(gpu: Gpu, tensors: readonly TrainedTensor[], state: ReadonlyMap<string, Float32Array>): void {
  for (const t of tensors) {
    const v = state.get(t.name);
    if (!v || v.length !== t.n) throw new Error(`checkpoint: "${t.name}" is missing or not ${t.n} values`);
    gpu.write(t.buf, v);
  }
}

export abstract class FirstOrderState implements Trainable {
  abstract readonly exportFormats: readonly string[];
  private readonly names: Set<string>;

  constructor(
    protected readonly model: CausalLM,
    protected readonly opt: Optimizer,
  ) {
    this.names = new Set(opt.params.map((p) => p.name));
  }

  tensors(): readonly TrainedTensor[] {
    return this.opt.params;
  }

  get trainableParams(): number {
    return this.opt.params.reduce((a, p) => a + p.n, 0);
  }

  step(batches: readonly Batch[], ctx: StepContext): Promise<StepResult> {
    return firstOrderStep(this.model, this.opt, batches, ctx, (n) => this.names.has(n));
  }

  abstract exportFiles(format?: string): Promise<ExportFile[]>;
  abstract merge(): Promise<void>;

  async saveState(): Promise<Map<string, Float32Array>> {
    const out = await readTensors(this.model.gpu, this.opt.params);
    await this.opt.save(out);
    return out;
  }

  async loadState(state: ReadonlyMap<string, Float32Array>): Promise<void> {
    writeTensors(this.model.gpu, this.opt.params, state);
    this.opt.load(state);
  }

  dispose(): void {
    this.opt.dispose();
  }
}
