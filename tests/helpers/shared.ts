// Test data kept beside the project, not in it: ../shared/models/stories260K (a real
// pretrained tiny Llama with llama2.c's reference logits; its CARD.md says why it is not
// copied in). A clone with nothing beside it passes `npm test` without these tests and is
// told so in one line; CI (CI=true, `.ci/run`) always has ../shared, so there a missing
// folder fails the run instead of quietly running less.

import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';

export const STORIES = new URL('../../../shared/models/stories260K', import.meta.url).pathname;
export const HAVE_STORIES = existsSync(`${STORIES}/reference.json`);

let told = false;
function tell(): void {
  if (HAVE_STORIES || told) return;
  told = true;
  if (process.env.CI && process.env.CI !== 'false') {
    throw new Error(`CI=true but ${STORIES} is missing: the stories260K tests must run in CI (put the test data beside the project)`);
  }
  console.warn(`[webtune] stories260K tests not run: ${STORIES} is not there (a clone without ../shared beside it)`);
}

/** `it` for a test that reads stories260K: runs when ../shared is there. */
export function itStories(name: string, fn: () => Promise<void> | void, timeout?: number): void {
  tell();
  it.runIf(HAVE_STORIES)(name, fn, timeout);
}

/** `describe` for a block of tests that all read stories260K. */
export function describeStories(name: string, fn: () => void): void {
  tell();
  describe.runIf(HAVE_STORIES)(name, fn);
}

/** A file of stories260K, read only when it is there (module-level fixtures). */
export function storiesPath(file: string): string {
  return `${STORIES}/${file}`;
}
