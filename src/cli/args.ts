// A small flag parser for the CLI: --name value, --flag (boolean), with typed reads and
// errors that name the flag and what it should be.

export class UsageError extends Error {
  override name = 'UsageError';
  /** Whether the CLI prints its usage after the message (not for a refused output folder). */
  showUsage = true;
}

export class Flags {
  private readonly values = new Map<string, string | true>();
  private readonly used = new Set<string>();

  constructor(argv: readonly string[], booleans: readonly string[] = ['json']) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}" (flags look like --name value)`);
      const name = a.slice(2);
      if (booleans.includes(name)) this.values.set(name, true);
      else {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        this.values.set(name, v);
      }
    }
  }

  string(name: string, fallback?: string): string {
    this.used.add(name);
    const v = this.values.get(name);
    if (typeof v === 'string') return v;
    if (fallback !== undefined) return fallback;
    throw new UsageError(`--${name} is required`);
  }

  number(name: string, fallback: number, check: (n: number) => boolean = Number.isFinite, what = 'a number'): number {
    this.used.add(name);
    const v = this.values.get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (typeof v !== 'string' || !check(n)) throw new UsageError(`--${name} should be ${what}, got "${String(v)}"`);
    return n;
  }

  /** The value of --name, or undefined when it was not given. */
  optional(name: string): string | undefined {
    this.used.add(name);
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  bool(name: string): boolean {
    this.used.add(name);
    return this.values.get(name) === true;
  }

  /** Throws on flags nobody asked for (typos). Call after reading every flag. */
  finish(): void {
    const extra = [...this.values.keys()].filter((k) => !this.used.has(k));
    if (extra.length) throw new UsageError(`unknown flag${extra.length > 1 ? 's' : ''}: ${extra.map((e) => `--${e}`).join(', ')}`);
  }
}
