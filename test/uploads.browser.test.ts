// An upload link in headless Chromium over the whole local deployment: a person opens the
// link (the edge reads the ledger and shows the upload page), chooses a file and presses Send;
// the page's script PUTs it through the local CloudFront, the edge takes the link, S3 stores
// the exact bytes, and the page says so. Opening the link again says it was used.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../local/browser';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeInBrowser } from './util/browser';
import { http } from './util/http';

let browser: Browser;
let d: LocalDeployment;
let s3: S3Client;

beforeAll(async () => {
  d = await startLocalDeployment({ publicApi: true, uploadKeyPrefixes: ['inbox/'], maxUploadBytes: 4 * 1024 * 1024 });
  s3 = new S3Client({ region: d.region, endpoint: d.originUrl, forcePathStyle: true, credentials: d.identities.createSession(d.edgeRoleArn, 3600) });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  s3?.destroy();
  await d?.close();
});

async function mintUpload(body: Record<string, unknown>): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

describeInBrowser('an upload link in headless chromium over the local deployment', () => {
  it('shows the page, sends the chosen file once, and S3 stores its exact bytes and type', async () => {
    const link = await mintUpload({ key: 'inbox/report.pdf', contentType: 'application/pdf', maxBytes: 1_000_000 });
    const file = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(600_000)]);
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
    try {
      expect((await page.goto(link.url))?.status()).toBe(200);
      expect(await page.locator('body').textContent()).toContain('1.0 MB');
      await page.getByLabel('File').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: file });
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('#status', { hasText: /^Upload received/ }).waitFor();
      expect(await page.locator('#status').textContent()).toBe('Upload received: 600009 bytes. You can close this page.');
      expect(violations).toEqual([]);

      const stored = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: 'inbox/report.pdf' }));
      expect(stored.ContentType).toBe('application/pdf');
      expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(file)).toBe(true);
      const status = JSON.parse((await http(`${d.apiUrl}/urls/${link.id}`)).text()) as Record<string, unknown>;
      expect(status).toMatchObject({ kind: 'upload', uploaded: true, receivedBytes: 600_009 });

      // Opening the link again: it took its file.
      expect((await page.goto(link.url))?.status()).toBe(403);
      expect(await page.locator('body').textContent()).toContain('already received its file');
    } finally {
      await context.close();
    }
  });

  it('shows the edge\'s refusal when the file is too big for the link (the page\'s own check bypassed)', async () => {
    const link = await mintUpload({ key: 'inbox/small.bin', maxBytes: 1000 });
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      expect((await page.goto(link.url))?.status()).toBe(200);
      // As a page with an older script would: PUT more than the link takes.
      const answer = await page.evaluate('fetch(location.href, { method: \'PUT\', body: new Uint8Array(5000) }).then(async (r) => [r.status, await r.text()])');
      expect(answer).toEqual([413, 'The file is 5000 bytes; this link takes at most 1000. Nothing was uploaded.']);
      const status = JSON.parse((await http(`${d.apiUrl}/urls/${link.id}`)).text()) as Record<string, unknown>;
      expect(status).toMatchObject({ uploaded: false, uses: 0 });
    } finally {
      await context.close();
    }
  });
});
