// What a host (browser worker, Node, tests) gives the engine: a WebGPU entry point and the
// text of the WGSL files in shaders/. Everything else in the engine is host-free.

export interface GpuHost {
  readonly kind: 'browser' | 'node';
  /** The WebGPU entry point, or undefined where this host has none. */
  gpu(): GPU | undefined;
  /** Source of shaders/<name>.wgsl. */
  loadShader(name: string): string;
  /** Where a person can get WebGPU when `gpu()` is missing: one or two plain sentences. */
  readonly missingAdvice: string;
  /** What to try when WebGPU exists but offers no adapter. */
  readonly noAdapterAdvice: string;
}
