// Each method's run label (methods/<m>/label.ts), for the page: the glob finds the folders,
// so the studio names runs without importing the methods' GPU code or a list of names.

const found = import.meta.glob<{ label(cfg: Record<string, unknown>): string }>('./*/label.ts', { eager: true });

const byName = new Map(Object.entries(found).map(([path, m]) => [path.split('/')[1], m.label]));

/** "lora r=8", "shira 1 %", …: the method's own label of a config; its name when it has none. */
export function methodLabel(method: string, config: Record<string, unknown>): string {
  return byName.get(method)?.(config) ?? method;
}

/** Folders that have a label.ts (tests check every registered method has one). */
export function labelledMethods(): string[] {
  return [...byName.keys()].sort();
}
