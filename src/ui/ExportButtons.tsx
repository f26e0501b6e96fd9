import { useState } from 'react';
import { buildReport } from '../engine/export/report.ts';
import { errorInfo } from '../engine/api.ts';
import type { ExportFile } from '../engine/methods/types.ts';
import { getEngine } from './engine.ts';
import { downloadBytes, exportDownload, formatBytes } from './persist.ts';
import { useStore } from './store/index.ts';
import { runUsable } from './store/persistSlice.ts';
import { reportHtml } from './report-html.ts';

/** Where the page runs, for reports. */
export function environment(adapter: unknown): Record<string, unknown> {
  return { host: 'browser', userAgent: navigator.userAgent, adapter: adapter ?? null };
}

/**
 * One button per export format of a finished run (RunView.exportFormats): the worker writes
 * the files (exportRun), and they download as the file itself when there is one, or as one
 * STORE-only zip when there are several (PEFT: adapter_config.json + adapter_model.safetensors).
 * The default format also comes from the browser's storage when the worker cannot make it
 * (after a reload, before the run's model is loaded again).
 */
export function ExportButtons({ runId }: { runId: string }) {
  const label = useStore((s) => s.runs[runId]?.label ?? runId);
  const formats = useStore((s) => s.runs[runId]?.exportFormats);
  const finished = useStore((s) => s.runs[runId]?.phase === 'done' || s.runs[runId]?.phase === 'stopped');
  const usable = useStore((s) => runUsable(s, runId));
  const stored = useStore((s) => !!s.runs[runId]?.stored);
  const modelName = useStore((s) => s.runs[runId]?.model.name);
  const precision = useStore((s) => s.runs[runId]?.model.precision);
  const storedFiles = useStore((s) => s.storedFiles);
  const adapter = useStore((s) => s.adapter);
  const [busy, setBusy] = useState<string | undefined>();
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>();
  if (!finished || !formats?.length) return null;

  /** The run report (config, environment, metrics as JSON and CSV) from what the page keeps. */
  const report = (): ExportFile[] => {
    const v = useStore.getState().runs[runId];
    if (!v) throw new Error(`no run ${runId}`);
    const events = [
      ...v.steps.map((p) => ({ type: 'step', step: p.step, loss: p.loss, lr: p.lr, tokensPerSec: p.tokensPerSec, wallMs: p.wallMs, gradNorm: p.gradNorm, memory: p.memory })),
      ...v.evals.map((e) => ({ type: 'eval', step: e.step, loss: e.loss, metric: e.metric, wallMs: e.wallMs, ms: e.ms })),
    ];
    const config = { label: v.label, model: v.model.name, precision: v.model.precision, dataset: v.datasetName, ...v.request };
    return buildReport(config, events.map((e) => JSON.stringify(e)).join('\n'), environment(adapter));
  };

  const run = async (format: string, isDefault: boolean) => {
    setBusy(format);
    setMessage(undefined);
    try {
      let files: ExportFile[];
      if (format === 'report') files = report();
      else if (format === 'html') {
        const v = useStore.getState().runs[runId];
        if (!v) throw new Error(`no run ${runId}`);
        files = [{ name: 'report.html', bytes: new TextEncoder().encode(reportHtml([v], environment(adapter))) }];
      }
      else if (usable) files = await getEngine().exportRun(runId, format);
      else {
        const f = isDefault ? await storedFiles(runId) : undefined;
        if (!f) throw new Error(`load ${modelName} to export ${format}`);
        files = f.files;
      }
      const d = exportDownload(label, format, files);
      downloadBytes(d.name, d.bytes, d.type);
      setMessage({ ok: true, text: `${d.name} (${formatBytes(d.bytes.byteLength)})` });
    } catch (e) {
      setMessage({ ok: false, text: errorInfo(e).message });
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <span className="export-buttons" role="group" aria-label={`Export ${label}`} style={{ display: 'inline-flex', flexWrap: 'wrap', gap: '0.35rem', alignItems: 'center' }}>
      {[...formats, 'report', 'html'].map((f, i) => {
        const can = usable || (i === 0 && stored) || f === 'report' || f === 'html';
        return (
          <button
            key={f}
            type="button"
            data-testid={`export-${runId}-${f}`}
            aria-label={`Export ${label} as ${f}`}
            title={f === 'html' ? 'One HTML file with the charts, config, environment and numbers (opens offline)' : can ? `Download ${f}` : `Load ${modelName} (${precision}) to export ${f}`}
            disabled={!can || busy !== undefined}
            onClick={() => void run(f, i === 0)}
            style={{ padding: '0.2rem 0.6rem' }}
          >
            {busy === f ? 'Exporting…' : f === 'html' ? 'HTML report' : f}
          </button>
        );
      })}
      <span aria-live="polite" className={message?.ok === false ? 'problem' : 'muted'} data-testid={`export-msg-${runId}`} style={{ fontSize: '0.85rem' }}>
        {message?.text}
      </span>
    </span>
  );
}
