import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { contentSecurityPolicy, cspPlugin } from './scripts/csp.ts';

// The studio is a static site: the page, one module worker (workers/trainer.worker.ts)
// and the WGSL files in shaders/, which the browser host imports as text (`?raw`).
export default defineConfig({
  plugins: [react(), cspPlugin()],
  worker: { format: 'es' },
  server: { port: 5173, strictPort: true, host: 'localhost' },
  preview: { port: 4173, strictPort: true, host: 'localhost', headers: { 'Content-Security-Policy': contentSecurityPolicy() } },
  build: { target: 'es2022', sourcemap: true },
});
