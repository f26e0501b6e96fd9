// What the page was set to, kept in this browser (localStorage) so that a reload comes
// back the same: the method forms (method, each method's settings, trainer, batch, preset),
// the data settings and where the dataset came from (a built-in sample or a Hub dataset is
// loaded again; a file is named, its bytes are not kept), the base precision picked, and the
// runs ticked for the charts. The Hub access token is never part of it.

import type { DataSettings } from '../../engine/runs.ts';
import type { BasePrecision } from '../../engine/model/decoder.ts';
import type { DataChoice } from './dataSlice.ts';
import type { RawValues, Shape } from './draft.ts';
import type { Store } from './index.ts';

export const SESSION_KEY = 'webtune:session:v1';

export interface Session {
  method: string;
  configEdits: Record<string, RawValues>;
  trainerShared: RawValues;
  trainerOwn: Record<string, RawValues>;
  shape: Shape;
  presetId?: string;
  dataSettings: DataSettings;
  dataChoice?: DataChoice;
  basePrecision: BasePrecision;
  chartRuns: string[];
}

export function sessionOf(s: Store): Session {
  return {
    method: s.method, configEdits: s.configEdits, trainerShared: s.trainerShared, trainerOwn: s.trainerOwn, shape: s.shape,
    ...(s.presetId ? { presetId: s.presetId } : {}), dataSettings: s.dataSettings, ...(s.dataChoice ? { dataChoice: s.dataChoice } : {}),
    basePrecision: s.basePrecision, chartRuns: s.chartRuns,
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const PRECISIONS: readonly BasePrecision[] = ['f32', 'q8', 'q4', 'nf4'];

/** A stored session, checked field by field (a field of the wrong shape is left out). */
export function parseSession(text: string | null): Partial<Session> {
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObj(v)) return {};
  const out: Partial<Session> = {};
  const raw = (x: unknown): x is RawValues => isObj(x) && Object.values(x).every((y) => typeof y === 'string' || typeof y === 'boolean');
  const rawMap = (x: unknown): x is Record<string, RawValues> => isObj(x) && Object.values(x).every(raw);
  if (typeof v.method === 'string') out.method = v.method;
  if (rawMap(v.configEdits)) out.configEdits = v.configEdits;
  if (raw(v.trainerShared)) out.trainerShared = v.trainerShared;
  if (rawMap(v.trainerOwn)) out.trainerOwn = v.trainerOwn;
  const sh = v.shape;
  if (isObj(sh) && typeof sh.B === 'string' && typeof sh.T === 'string' && typeof sh.seed === 'string') out.shape = { B: sh.B, T: sh.T, seed: sh.seed };
  if (typeof v.presetId === 'string') out.presetId = v.presetId;
  const d = v.dataSettings;
  if (isObj(d) && typeof d.evalFraction === 'number' && typeof d.maskPrompt === 'boolean' && typeof d.pack === 'boolean' && typeof d.metricRows === 'number') {
    out.dataSettings = { evalFraction: d.evalFraction, maskPrompt: d.maskPrompt, pack: d.pack, metricRows: d.metricRows };
  }
  const c = v.dataChoice;
  if (isObj(c) && c.kind === 'builtin' && typeof c.name === 'string') out.dataChoice = { kind: 'builtin', name: c.name };
  else if (isObj(c) && c.kind === 'file' && typeof c.name === 'string') out.dataChoice = { kind: 'file', name: c.name };
  else if (isObj(c) && c.kind === 'hub' && isObj(c.req) && typeof c.req.repo === 'string') {
    const r = c.req;
    const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
    const mapping = isObj(c.mapping) ? Object.fromEntries(Object.entries(c.mapping).filter((e): e is [string, string] => typeof e[1] === 'string')) : undefined;
    out.dataChoice = {
      kind: 'hub',
      req: { repo: r.repo as string, config: str(r.config), split: str(r.split), revision: str(r.revision), endpoint: str(r.endpoint), maxRows: typeof r.maxRows === 'number' ? r.maxRows : undefined },
      ...(mapping ? { mapping } : {}),
    };
  }
  if (typeof v.basePrecision === 'string') {
    const p = PRECISIONS.find((x) => x === v.basePrecision);
    if (p) out.basePrecision = p;
  }
  if (Array.isArray(v.chartRuns) && v.chartRuns.every((x) => typeof x === 'string')) out.chartRuns = v.chartRuns as string[];
  return out;
}

/** Restore the stored session into the store now, and keep it saved as it changes. */
export function keepSession(store: { getState(): Store; setState(p: Partial<Store>): void; subscribe(l: (s: Store, prev: Store) => void): () => void }): Partial<Session> {
  let stored: Partial<Session> = {};
  try {
    stored = parseSession(localStorage.getItem(SESSION_KEY));
  } catch {
    return {}; // no storage (a sandboxed frame): nothing to restore or keep
  }
  store.setState(stored);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = JSON.stringify(sessionOf(store.getState()));
  store.subscribe(() => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      const now = JSON.stringify(sessionOf(store.getState()));
      if (now === last) return;
      last = now;
      try {
        localStorage.setItem(SESSION_KEY, now);
      } catch {
        // full or blocked storage: the session is simply not kept
      }
    }, 200);
  });
  return stored;
}
