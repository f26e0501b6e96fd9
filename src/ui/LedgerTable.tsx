import { fmtBytes } from '../engine/gpu/arena.ts';
import { LEDGER_CATEGORIES } from '../engine/gpu/ledger.ts';
import { useStore } from './store/index.ts';

export function LedgerTable() {
  const ledger = useStore((s) => s.ledger);
  if (!ledger) return null;
  return (
    <section className="panel" aria-labelledby="ledger-title">
      <h2 id="ledger-title">GPU memory</h2>
      <p className="muted">Every GPU buffer the engine allocates is counted here by category.</p>
      <table data-testid="ledger">
        <thead>
          <tr>
            <th scope="col">Category</th>
            <th scope="col">Live</th>
            <th scope="col">Peak</th>
          </tr>
        </thead>
        <tbody>
          {LEDGER_CATEGORIES.map((c) => (
            <tr key={c}>
              <th scope="row">{c}</th>
              <td>{fmtBytes(ledger.live[c])}</td>
              <td>{fmtBytes(ledger.peak[c])}</td>
            </tr>
          ))}
          <tr className="total">
            <th scope="row">total</th>
            <td>{fmtBytes(ledger.totalLive)}</td>
            <td>{fmtBytes(ledger.totalPeak)}</td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}
