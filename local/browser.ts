// Headless Debian chromium driven by playwright-core (no browser download). `.ci/run` and the
// CI workflows install it (`apt-get install -y chromium`); without it the browser tests skip
// outside CI (test/util/browser.ts) and `npm run screenshots` stops with one line.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Why no browser can be launched here, in one line; undefined when chromium is there. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined
    : `no chromium at ${CHROMIUM}: apt-get update && apt-get install -y chromium, or set CHROMIUM_PATH to a chromium binary`;
}

export async function launchChromium(): Promise<Browser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // The machine's network is closed: no background connections, no QUIC, no sandbox as root.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-features=Translate,OptimizationHints,MediaRouter'],
  });
}
