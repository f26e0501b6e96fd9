// The kernel registry: WGSL modules by file name, compute pipelines cached by
// (file, entry point, override constants). Layouts are explicit, so an entry point that
// leaves a binding unused still takes the same bind group.
//
// Binding convention for every kernel: @group(0) @binding(0) is the uniform `Params`
// struct; storage buffers follow at bindings 1..n in the order of `KernelSpec.bindings`.

import { ShaderCompileError } from './errors.ts';
import { SHADER_STAGE_COMPUTE } from './usage.ts';

export type StorageAccess = 'read' | 'rw';
export type Overrides = Readonly<Record<string, number>>;

export interface KernelSpec {
  /** shaders/<shader>.wgsl */
  readonly shader: string;
  readonly entry: string;
  /** Storage bindings 1..n: read-only or read-write. */
  readonly bindings: readonly StorageAccess[];
}

export class KernelRegistry {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Error-scope results of pipeline creations not yet checked (see `Gpu.flush`). */
  private pending: Promise<void>[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly load: (name: string) => string,
  ) {}

  get pipelineCount(): number {
    return this.pipelines.size;
  }

  layout(bindings: readonly StorageAccess[]): GPUBindGroupLayout {
    const key = bindings.join(',');
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: SHADER_STAGE_COMPUTE, buffer: { type: 'uniform' } },
        ...bindings.map((a, i) => ({
          binding: i + 1,
          visibility: SHADER_STAGE_COMPUTE,
          buffer: { type: a === 'read' ? ('read-only-storage' as const) : ('storage' as const) },
        })),
      ];
      l = this.device.createBindGroupLayout({ label: `layout(${key})`, entries });
      this.layouts.set(key, l);
    }
    return l;
  }

  pipeline(spec: KernelSpec, overrides: Overrides = {}): GPUComputePipeline {
    const key = `${spec.shader}:${spec.entry}:${JSON.stringify(Object.entries(overrides).sort())}:${spec.bindings.join(',')}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    this.device.pushErrorScope('validation');
    const module = this.module(spec.shader);
    const layout = this.device.createPipelineLayout({ bindGroupLayouts: [this.layout(spec.bindings)] });
    p = this.device.createComputePipeline({
      label: `${spec.shader}.${spec.entry}`,
      layout,
      compute: { module, entryPoint: spec.entry, constants: { ...overrides } },
    });
    const scope = this.device.popErrorScope();
    this.pending.push(
      scope.then(async (err) => {
        if (!err) return;
        this.pipelines.delete(key);
        const info = await module.getCompilationInfo();
        const msgs = info.messages
          .filter((m) => m.type === 'error')
          .map((m) => `  shaders/${spec.shader}.wgsl:${m.lineNum}:${m.linePos} ${m.message}`)
          .join('\n');
        throw new ShaderCompileError(
          `Kernel ${spec.shader}.${spec.entry} (overrides ${JSON.stringify(overrides)}) failed to build: ${err.message}` +
            (msgs ? `\n${msgs}` : ''),
        );
      }),
    );
    this.pipelines.set(key, p);
    return p;
  }

  /** Await the error scopes of pipelines built since the last call; throws the first failure. */
  async check(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }

  private module(name: string): GPUShaderModule {
    let m = this.modules.get(name);
    if (!m) {
      m = this.device.createShaderModule({ label: `${name}.wgsl`, code: this.load(name) });
      this.modules.set(name, m);
    }
    return m;
  }
}
