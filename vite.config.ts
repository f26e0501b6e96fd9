import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The studio is a static site: the page, one module worker (workers/trainer.worker.ts)
// and the WGSL files in shaders/, which the browser host imports as text (`?raw`).
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  server: { port: 5173, strictPort: true, host: 'localhost' },
  preview: { port: 4173, strictPort: true, host: 'localhost' },
  build: { target: 'es2022', sourcemap: true },
});
