// Browser host (page or worker): navigator.gpu and the WGSL files bundled as text by Vite.

import type { GpuHost } from './host.ts';

const sources = import.meta.glob<string>('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
const byName = new Map<string, string>();
for (const [path, text] of Object.entries(sources)) {
  const name = path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length);
  byName.set(name, text);
}

export function browserHost(): GpuHost {
  return {
    kind: 'browser',
    gpu() {
      return typeof navigator !== 'undefined' && 'gpu' in navigator ? navigator.gpu : undefined;
    },
    loadShader(name: string): string {
      const text = byName.get(name);
      if (text === undefined) throw new Error(`shader ${name}.wgsl is not in the bundle (have: ${[...byName.keys()].join(', ')})`);
      return text;
    },
    missingAdvice:
      'This browser does not expose WebGPU. Use Chrome or Edge 113 or newer on Windows, macOS or ChromeOS, ' +
      'Chrome 121+ on Android, or Safari 26+; on Linux start Chrome with --enable-unsafe-webgpu ' +
      '(and --enable-features=Vulkan), or enable chrome://flags/#enable-unsafe-webgpu. Firefox 141+ has it on Windows. ' +
      'The page must be served over https or from localhost.',
    noAdapterAdvice:
      'The browser may have blocklisted this GPU or its driver, or hardware acceleration is off. Check chrome://gpu ' +
      '(WebGPU should say "Hardware accelerated"), turn on "Use graphics acceleration when available" in the settings, ' +
      'update the GPU driver, or on Linux start Chrome with --enable-unsafe-webgpu --enable-features=Vulkan.',
  };
}
