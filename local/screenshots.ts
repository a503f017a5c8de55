// `npm run screenshots`: the landing page, a refusal page and a passphrase-protected link's
// page after a wrong try, as a person sees them, in
// headless Debian chromium, light and dark, phone-sized, written to docs/ for the README.
import { join, resolve } from 'node:path';
import { chromiumMissing, launchChromium } from './browser';
import { startLocalDeployment } from './deployment';

const OUT = resolve(__dirname, '..', 'docs');

async function main(): Promise<void> {
  // Without a browser there is nothing to render: say so in one line, before starting anything.
  const missing = chromiumMissing();
  if (missing) {
    process.stderr.write(`screenshots: ${missing}\n`);
    process.exit(1);
  }
  const d = await startLocalDeployment({ objects: { 'reports/q4.pdf': Buffer.from('%PDF-1.7 quarterly report\n') }, publicApi: true, landingPage: true });
  const browser = await launchChromium();
  try {
    const mint = async (fields: Record<string, unknown> = {}) => {
      const body = JSON.stringify({ key: 'reports/q4.pdf', ...fields });
      const res = await fetch(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return ((await res.json()) as { url: string }).url;
    };
    for (const colorScheme of ['light', 'dark'] as const) {
      // A fresh link each: a link opens as its page only while it has uses left.
      const url = await mint();
      const options = { viewport: { width: 390, height: 520 }, deviceScaleFactor: 2, colorScheme, acceptDownloads: true };
      const context = await browser.newContext(options);
      const page = await context.newPage();
      await page.goto(url);
      await page.screenshot({ path: join(OUT, `landing-page-${colorScheme}.png`) });
      if (colorScheme === 'light') {
        await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
        // Another browser opens the spent link and is told at once (this one would continue its download).
        const other = await browser.newContext(options);
        const used = await other.newPage();
        await used.goto(url);
        await used.screenshot({ path: join(OUT, 'link-used.png') });
        await other.close();
      }
      await context.close();
    }
    // A passphrase-protected link after a wrong try: the notice, the tries left, the field.
    const context = await browser.newContext({ viewport: { width: 390, height: 620 }, deviceScaleFactor: 2, colorScheme: 'light' });
    const page = await context.newPage();
    await page.goto(await mint({ passphrase: 'correct horse battery staple' }));
    await page.getByLabel('Passphrase').fill('not the passphrase');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Download' }).click()]);
    await page.screenshot({ path: join(OUT, 'passphrase-wrong.png') });
    await context.close();
    process.stderr.write(`screenshots: wrote ${OUT}/landing-page-light.png, landing-page-dark.png, link-used.png, passphrase-wrong.png\n`);
  } finally {
    await browser.close();
    await d.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`screenshots: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
