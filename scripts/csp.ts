// The studio's Content-Security-Policy (issue 15, item 8: nothing leaves the machine unasked).
// Scripts, workers, styles, images and fonts come only from the app itself; no plugins,
// frames, forms or <base>. Network requests (connect-src) go to the app itself and to the
// Hugging Face Hub, and nowhere else, with one honest exception: the Hub forms accept a
// custom endpoint (a mirror, or a local server), which a policy fixed at build time cannot
// name, and the Hub sends large files through CDN hosts. So connect-src allows https: in
// general (and http to this machine) unless the build names its endpoints:
//   WEBTUNE_CONNECT_SRC="https://huggingface.co https://*.huggingface.co https://*.hf.co" npm run build
// The access token itself never depends on the policy: io/hub.ts attaches it only to https
// requests to the one configured endpoint (or to localhost).
//
// Delivered twice: a <meta> tag in the built index.html (covers the page wherever it is
// hosted) and a response header from `vite preview` / `vite dev` (a worker script gets its
// policy from its own response, not from the page's meta tag).

import type { Plugin } from 'vite';

export function contentSecurityPolicy(connect = process.env.WEBTUNE_CONNECT_SRC?.trim() || 'https:'): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ${connect} http://localhost:* http://127.0.0.1:*`,
    "object-src 'none'",
    "frame-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The policy as a meta tag in the built page (not in dev: Vite's dev client injects inline scripts). */
export function cspPlugin(): Plugin {
  return {
    name: 'webtune-csp',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy() }, injectTo: 'head-prepend' }],
  };
}
