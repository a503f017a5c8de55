// The landing page in a real browser: a person opens the link, sees the page, clicks, and
// gets the file's exact bytes; a browser that loads the page and runs it without clicking
// (as some mail scanners do) spends nothing.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../local/browser';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeInBrowser } from './util/browser';
import { http } from './util/http';

const CONTENT = randomBytes(200_000);
let d: LocalDeployment;
let browser: Browser;
let shots: string;

async function mint(maxUses = 1): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', maxUses }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}
const usesOf = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;

beforeAll(async () => {
  shots = mkdtempSync(join(tmpdir(), 'otp-browser-'));
  d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true, landingPage: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await d?.close();
  rmSync(shots, { recursive: true, force: true });
});

describeInBrowser('a landing-page link in headless chromium', () => {
  it('shows the page, downloads the exact bytes on click, and says "used" when reopened', async () => {
    const link = await mint();
    const context = await browser.newContext({ acceptDownloads: true });
    try {
      const page = await context.newPage();
      const opened = await page.goto(link.url);
      expect(opened?.status()).toBe(200);
      await expect(page.title()).resolves.toBe('A file was shared with you');
      const button = page.getByRole('button', { name: 'Download' });
      expect(await button.isVisible()).toBe(true);
      await page.screenshot({ path: join(shots, 'landing.png') });
      expect(statSync(join(shots, 'landing.png')).size).toBeGreaterThan(1000);
      expect(await usesOf(link.id)).toBe(0);

      // Keyboard only: focus the button and press Enter.
      const [download] = await Promise.all([page.waitForEvent('download'), button.focus().then(() => page.keyboard.press('Enter'))]);
      const file = await download.path();
      expect(readFileSync(file).equals(CONTENT)).toBe(true);
      expect(await usesOf(link.id)).toBe(1);

      // The same browser opening the link again continues its own download (a re-request).
      const reopened = await context.newPage();
      // goto rejects when the navigation turns into a download; the download is what counts.
      const [redownload] = await Promise.all([reopened.waitForEvent('download'), reopened.goto(link.url).catch(() => undefined)]);
      expect(readFileSync(await redownload.path()).equals(CONTENT)).toBe(true);
      expect(await usesOf(link.id)).toBe(1);

      // Another browser opening it is told at once that it was used: no button to press.
      const other = await browser.newContext();
      try {
        const again = await other.newPage();
        const response = await again.goto(link.url);
        expect(response?.status()).toBe(403);
        expect(await again.locator('h1').textContent()).toBe('This link cannot be used');
        expect(await again.locator('p').textContent()).toMatch(/already been used/);
        expect(await again.locator('button').count()).toBe(0);
      } finally {
        await other.close();
      }
      expect(await usesOf(link.id)).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('spends nothing when a browser loads the page, runs it for seconds and follows every reference without clicking', async () => {
    const link = await mint();
    const context = await browser.newContext({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' });
    try {
      const page = await context.newPage();
      const violations: string[] = [];
      page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
      await page.goto(link.url, { waitUntil: 'networkidle' });
      await page.waitForTimeout(3000);
      // Runs in the page (the project's tsconfig has no DOM types, hence a string).
      const refs = await page.evaluate('Array.from(document.querySelectorAll("[href],[src]")).map((e) => e.getAttribute("href") || e.getAttribute("src"))') as string[];
      for (const ref of refs) if (ref) await page.goto(new URL(ref, link.url).toString());
      await page.reload({ waitUntil: 'networkidle' });
      expect(violations).toEqual([]);
      expect(await usesOf(link.id)).toBe(0);
    } finally {
      await context.close();
    }
  });
});
