/** Debian's chromium driven by playwright-core (never a downloaded browser). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const NO_CHROMIUM_REASON = `skipped: ${CHROMIUM} is not installed (apt-get install chromium; npm test installs it when run as root)`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/**
 * How long a browser test waits for a state (a viewer drawn, a link settled, a tab closed). Only a
 * bound against a hang: the tests poll for the state and go on as soon as it is there, so this is
 * generous enough for a machine loaded by other work.
 */
export const STATE_TIMEOUT = 90_000;

export const ARTIFACTS = path.resolve(import.meta.dirname, '..', '..', 'test-results');

/** Waits until every client:load island of the page has hydrated (Astro drops their `ssr` attribute). */
export async function waitForIslands(page: import('playwright-core').Page, timeout = STATE_TIMEOUT): Promise<void> {
  await page.waitForFunction(() => document.querySelectorAll('astro-island[ssr][client="load"]').length === 0, undefined, { timeout });
}
