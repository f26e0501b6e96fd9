// ../shared/models/stories260K (test data beside the project, see its CARD.md) for the specs
// that load it: they run whenever it is there and say in one line when it is not; under
// CI=true (`.ci/run`, which always has ../shared) a missing folder fails instead.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { test as base } from '@playwright/test';

export const STORIES = resolve(import.meta.dirname, '../../shared/models/stories260K');
export const HAVE_STORIES = existsSync(`${STORIES}/reference.json`);

/** Call at the top of a spec file whose tests all read stories260K. */
export function needStories(test: typeof base): void {
  if (HAVE_STORIES) return;
  if (process.env.CI && process.env.CI !== 'false') throw new Error(`CI=true but ${STORIES} is missing: the stories260K specs must run in CI`);
  console.warn(`[webtune] stories260K specs not run: ${STORIES} is not there (a clone without ../shared beside it)`);
  test.skip(true, `${STORIES} is not there`);
}
