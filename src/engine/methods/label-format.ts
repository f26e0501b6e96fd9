// A number as run labels show it: "8", "2e-3", "0.5".
export const short = (n: unknown): string => (typeof n === 'number' ? (Math.abs(n) < 1e-2 && n !== 0 ? n.toExponential(0) : String(n)) : String(n));
