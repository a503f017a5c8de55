// The landing page in a real browser: a person opens the link, sees the page, clicks, and
// gets the file's exact bytes; a browser that loads the page and runs it without clicking
// (as some mail scanners do) spends nothing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser, Response } from 'playwright-core';
import { launchChromium } from '../local/browser';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeInBrowser } from './util/browser';
import { describeWithTools } from './util/clients';
import { http } from './util/http';

const CONTENT = randomBytes(200_000);
let d: LocalDeployment;
let browser: Browser;
let shots: string;
/**
 * The address the local CloudFront sees the browser at, per request: a test changes it, as a
 * network change does (loopback cannot).
 */
let viewerAddress: (method: string) => string = () => '203.0.113.7';

async function mint(maxUses = 1, key = 'reports/q4.pdf'): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, maxUses }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}
const usesOf = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;

beforeAll(async () => {
  shots = mkdtempSync(join(tmpdir(), 'otp-browser-'));
  d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true, landingPage: true, viewerAddress: (req) => viewerAddress(req.method ?? 'GET') });
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

  describeWithTools(['ffmpeg'], 'media', () => {
    beforeAll(async () => {
      // A small WebM video (made here, so the test ships no binary), served as video/webm.
      execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=12:size=320x240:rate=25', '-c:v', 'libvpx', '-b:v', '2M', '-g', '25', join(shots, 'v.webm')]);
      const s3 = new S3Client({
        region: d.region,
        endpoint: d.originUrl,
        forcePathStyle: true,
        credentials: { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey },
      });
      await s3.send(new PutObjectCommand({ Bucket: d.bucket, Key: 'media/clip.webm', Body: readFileSync(join(shots, 'v.webm')), ContentType: 'video/webm' }));
      s3.destroy();
    });

    it('plays and seeks a video after the button, on one use, when the button was pressed over IPv4 and the video comes over IPv6', async () => {
      const link = await mint(1, 'media/clip.webm');
      // Pressed on Wi-Fi (IPv4); every request of the video comes over mobile (IPv6).
      viewerAddress = (method) => (method === 'POST' ? '203.0.113.7' : '2001:db8:85a3::8a2e:370:7334');
      const context = await browser.newContext();
      const statuses: number[] = [];
      const onResponse = (r: Response) => { if (r.request().method() === 'GET' && r.url() === link.url) statuses.push(r.status()); };
      try {
        const page = await context.newPage();
        await page.goto(link.url);
        page.on('response', onResponse);
        // The button's redirect lands the browser on the video itself (Chromium's media document).
        await Promise.all([page.waitForURL(link.url), page.getByRole('button', { name: 'Download' }).click()]);
        await page.waitForSelector('video');
        // Runs in the page (the project's tsconfig has no DOM types, hence strings).
        await page.evaluate('(async () => { const v = document.querySelector("video"); v.muted = true; await v.play(); })()');
        await page.waitForFunction('document.querySelector("video").currentTime > 0.5');
        await page.evaluate('new Promise((ok) => { const v = document.querySelector("video"); v.addEventListener("seeked", ok, { once: true }); v.currentTime = 9; })');
        await page.waitForFunction('document.querySelector("video").currentTime > 9.3');
        expect(await page.evaluate('document.querySelector("video").error')).toBeNull();
        expect(statuses.length).toBeGreaterThan(0);
        expect(statuses.filter((s) => s !== 200 && s !== 206)).toEqual([]);
        expect(await usesOf(link.id)).toBe(1);
        const { redemptions } = JSON.parse((await http(`${d.apiUrl}/urls/${link.id}`)).text()) as { redemptions: Array<{ ip: string; requests: number }> };
        // One use, opened over IPv4, continued by the video's requests over IPv6. (How many depends on
        // the browser: it may cancel one, or serve a range from its media cache without asking.)
        expect(redemptions).toEqual([expect.objectContaining({ ip: '203.0.113.7' })]);
        expect(redemptions[0].requests).toBeGreaterThanOrEqual(1);
      } finally {
        await context.close();
        viewerAddress = () => '203.0.113.7';
      }
    });
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
