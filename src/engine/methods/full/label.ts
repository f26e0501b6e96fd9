// The run label of a full fine-tune.
export function label(_cfg: Record<string, unknown>): string {
  return 'full';
}
