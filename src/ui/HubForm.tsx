import { useEffect, useId, useState, type FormEvent } from 'react';
import { DEFAULT_HUB_ENDPOINT } from '../engine/api.ts';
import { fmtBytes } from '../engine/gpu/arena.ts';
import type { BasePrecision } from '../engine/model/decoder.ts';
import { useStore } from './store/index.ts';

/** The access token lives only in this browser's localStorage (and is sent only to the endpoint). */
const TOKEN_KEY = 'webtune.hub-token';

export function savedToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return ''; // storage blocked: the token is then kept for this page only
  }
}

function saveToken(token: string | undefined): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage blocked: nothing to remember or forget
  }
}

/** Load a model by Hugging Face Hub repo id into the browser's cache, with progress per file. */
export function HubForm({ precision }: { precision: BasePrecision }) {
  const busy = useStore((s) => s.modelStatus === 'loading');
  const loadHub = useStore((s) => s.loadHub);
  const [repo, setRepo] = useState('');
  const [revision, setRevision] = useState('main');
  const [token, setToken] = useState(savedToken);
  const [remembered, setRemembered] = useState(() => savedToken() !== '');
  const [endpoint, setEndpoint] = useState(DEFAULT_HUB_ENDPOINT);
  const id = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (t) {
      saveToken(t);
      setRemembered(true);
    }
    void loadHub({ repo: repo.trim(), revision: revision.trim() || 'main', token: t || undefined, endpoint: endpoint.trim() || DEFAULT_HUB_ENDPOINT }, precision);
  };
  const forget = () => {
    saveToken(undefined);
    setToken('');
    setRemembered(false);
  };

  return (
    <form className="hub-form" aria-labelledby={`${id}-title`} onSubmit={submit} data-testid="hub-form">
      <h3 id={`${id}-title`}>From the Hugging Face Hub</h3>
      <label className="field">
        Repo id{' '}
        <input
          value={repo}
          required
          placeholder="HuggingFaceTB/SmolLM2-135M"
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setRepo(e.target.value)}
        />
      </label>
      <label className="field">
        Revision <input value={revision} size={10} spellCheck={false} onChange={(e) => setRevision(e.target.value)} />
      </label>
      <label className="field">
        Access token{' '}
        <input
          type="password"
          value={token}
          placeholder="optional, for gated repos"
          autoComplete="off"
          aria-describedby={`${id}-token-help`}
          onChange={(e) => setToken(e.target.value)}
        />
      </label>
      <button type="button" className="secondary" disabled={!remembered && !token} onClick={forget}>
        Forget token
      </button>
      <p className="muted" id={`${id}-token-help`}>
        A token is kept only in this browser&apos;s local storage and sent only to the Hub endpoint.
        {remembered ? ' One is remembered now.' : ''}
      </p>
      <details>
        <summary>Advanced</summary>
        <label className="field block">
          Endpoint
          <input type="url" value={endpoint} spellCheck={false} onChange={(e) => setEndpoint(e.target.value)} />
        </label>
        <p className="muted">A Hub mirror or a self-hosted server in the Hub&apos;s URL layout (/&lt;owner&gt;/&lt;name&gt;/resolve/&lt;revision&gt;/&lt;file&gt;).</p>
      </details>
      <div className="row-buttons">
        <button type="submit" disabled={busy}>
          Load from Hub
        </button>
      </div>
      <Downloads />
      <CacheUsage />
    </form>
  );
}

/** One row per Hub file of the current load. */
function Downloads() {
  const files = useStore((s) => s.downloadFiles);
  if (files.length === 0) return null;
  return (
    <ul className="downloads" aria-label="Hub downloads" data-testid="downloads" style={{ listStyle: 'none', padding: 0, margin: '0.5rem 0' }}>
      {files.map((f) => (
        <DownloadRow key={f} file={f} />
      ))}
    </ul>
  );
}

function DownloadRow({ file }: { file: string }) {
  const loaded = useStore((s) => s.downloads[file]?.loaded ?? 0);
  const total = useStore((s) => s.downloads[file]?.total);
  const fromCache = useStore((s) => s.downloads[file]?.fromCache ?? false);
  const done = total !== undefined && loaded >= total;
  return (
    <li data-testid="download" data-file={file} style={{ marginBottom: '0.3rem' }}>
      <code style={{ overflowWrap: 'anywhere' }}>{file}</code>{' '}
      <span className="muted">
        {fmtBytes(loaded)}
        {total !== undefined ? ` of ${fmtBytes(total)}` : ''}
        {fromCache ? ' (from cache)' : done ? ' (downloaded)' : ''}
      </span>
      <progress value={total ? loaded : undefined} max={total || undefined} aria-label={`${file} download`} style={{ display: 'block', width: '100%' }} />
    </li>
  );
}

/** Bytes of Hub files cached in this browser (Origin Private File System) and a way to drop them. */
function CacheUsage() {
  const bytes = useStore((s) => s.cacheBytes);
  const error = useStore((s) => s.cacheError);
  const busy = useStore((s) => s.modelStatus === 'loading');
  const refresh = useStore((s) => s.refreshCacheUsage);
  const clear = useStore((s) => s.clearCache);
  useEffect(() => {
    void refresh();
  }, [refresh]);
  return (
    <div className="row-buttons">
      <span data-testid="cache-usage">Cached Hub files: {bytes === undefined ? '…' : fmtBytes(bytes)}</span>
      <button type="button" className="secondary" disabled={busy || !bytes} onClick={() => void clear()}>
        Clear cache
      </button>
      {error && <span className="problem" role="alert">{`${error.name}: ${error.message}`}</span>}
    </div>
  );
}
