// The upload page in a real browser, served by a stand-in for the edge on 127.0.0.1: GET
// answers the page, PUT reads the whole body and answers 201 with a plain text message, as the
// edge and S3 do for an upload link. A person chooses a file, presses Send and reads the
// answer; the server got exactly the file's bytes and type. Files over the limit or of another
// type are refused by the page before anything is sent, and the CSP lets the page run.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page as BrowserPage } from 'playwright-core';
import { launchChromium } from '../local/browser';
import { describeInBrowser } from './util/browser';
import { renderUploadPage, type UploadPageContent } from '../src/shared/upload-page';

interface Put { readonly url: string; readonly contentType?: string; readonly body: Buffer }

let browser: Browser;
let server: Server;
let origin: string;
let content: UploadPageContent;
/** The PUTs the server received, bodies whole. */
const puts: Put[] = [];
/** What a PUT is answered with; the edge's refusals are plain text too. */
let answer: (put: Put) => { status: number; text: string } = (put) => ({ status: 201, text: `Upload received: ${put.body.length} bytes` });

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.method === 'GET') {
      const page = renderUploadPage(content);
      res.writeHead(200, page.headers).end(page.html);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const put = { url: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) };
      if (req.method === 'PUT') puts.push(put);
      const { status, text } = req.method === 'PUT' ? answer(put) : { status: 405, text: 'Method not allowed' };
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  server?.close();
});
beforeEach(() => {
  puts.length = 0;
  content = { title: 'Send us the report', maxBytes: 1_000_000, expiresAt: new Date(Date.now() + 3_600_000) };
  answer = (put) => ({ status: 201, text: `Upload received: ${put.body.length} bytes` });
});

/** A link's address, as the page sees it (the query is the link's). */
const LINK = '/inbox/report.pdf?x-link-id=AAAAAAAAAAAAAAAAAAAAAA&x-link-upload=1&x-link-sig=abc';

/** Opens the page in a fresh context, collecting CSP violations from the console. */
async function open(options: { javaScriptEnabled?: boolean } = {}): Promise<{ context: BrowserContext; page: BrowserPage; violations: string[] }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const violations: string[] = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text()); });
  page.on('pageerror', (e) => violations.push(`page error: ${e.message}`));
  expect((await page.goto(`${origin}${LINK}`))?.status()).toBe(200);
  return { context, page, violations };
}
const statusText = (page: BrowserPage) => page.locator('#status').textContent();
/** Waits for the status line to begin with `prefix` (a locator wait: the page's CSP forbids the eval a waitForFunction string needs). */
const waitForStatus = (page: BrowserPage, prefix: string) => page.locator('#status', { hasText: new RegExp(`^${prefix}`) }).waitFor();

describeInBrowser('the upload page in headless chromium', () => {
  it('sends the chosen file with a PUT to the link itself and shows the answer; the server gets the exact bytes and type', async () => {
    const file = randomBytes(300_000);
    const { context, page, violations } = await open();
    try {
      await expect(page.title()).resolves.toBe('Send us the report');
      // The script filled in the curl command with this very address.
      expect(await page.locator('#curl').textContent()).toBe(`curl -T FILE '${origin}${LINK}'`);
      expect(await page.locator('#where').isVisible()).toBe(false);
      await page.getByLabel('File').setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: file });
      await page.getByRole('button', { name: 'Send' }).click();
      await waitForStatus(page, 'Upload received');
      expect(await statusText(page)).toBe('Upload received: 300000 bytes');
      expect(puts).toHaveLength(1);
      expect(puts[0].url).toBe(LINK);
      expect(puts[0].contentType).toBe('application/pdf');
      expect(puts[0].body.equals(file)).toBe(true);
      // Done: the form cannot send a second file.
      expect(await page.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
      expect(await page.getByLabel('File').isDisabled()).toBe(true);
      expect(await page.evaluate('document.getElementById("progress").value')).toBe(1);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('refuses a file over the limit before sending anything, and says why', async () => {
    content = { ...content, maxBytes: 100_000 };
    const { context, page, violations } = await open();
    try {
      await page.getByLabel('File').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: randomBytes(100_001) });
      await page.getByRole('button', { name: 'Send' }).click();
      expect(await statusText(page)).toBe('Not sent: this file is 100.0 KB; the link takes at most 100.0 KB.');
      expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
      // A file of exactly the limit goes.
      await page.getByLabel('File').setInputFiles({ name: 'fits.bin', mimeType: 'application/octet-stream', buffer: randomBytes(100_000) });
      await page.getByRole('button', { name: 'Send' }).click();
      await waitForStatus(page, 'Upload received');
      expect(puts.map((p) => p.body.length)).toEqual([100_000]);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('refuses a file of another type than the link requires, and sends one of unknown type as the required type', async () => {
    content = { ...content, contentType: 'application/pdf' };
    const { context, page, violations } = await open();
    try {
      expect(await page.getByLabel('File').getAttribute('accept')).toBe('application/pdf');
      expect(await page.locator('#curl').textContent()).toBe(`curl -T FILE -H 'Content-Type: application/pdf' '${origin}${LINK}'`);
      await page.getByLabel('File').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
      await page.getByRole('button', { name: 'Send' }).click();
      expect(await statusText(page)).toBe('Not sent: this file is text/plain; the link takes only application/pdf.');
      expect(puts).toEqual([]);

      // A name the browser knows no type for: it says "" or, as here, application/octet-stream.
      await page.getByLabel('File').setInputFiles({ name: 'scan', mimeType: 'application/octet-stream', buffer: Buffer.from('%PDF-1.7') });
      await page.getByRole('button', { name: 'Send' }).click();
      await waitForStatus(page, 'Upload received');
      expect(puts.map((p) => [p.contentType, p.body.toString()])).toEqual([['application/pdf', '%PDF-1.7']]);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows a refusal\'s text and lets the person try again', async () => {
    answer = () => ({ status: 403, text: 'This upload link has already been used.' });
    const { context, page, violations } = await open();
    try {
      await page.getByLabel('File').setInputFiles({ name: 'a.txt', mimeType: 'text/plain', buffer: Buffer.from('a') });
      await page.getByRole('button', { name: 'Send' }).click();
      await waitForStatus(page, 'This upload');
      expect(await statusText(page)).toBe('This upload link has already been used.');
      expect(await page.getByRole('button', { name: 'Send' }).isEnabled()).toBe(true);
      expect(await page.locator('#progress').isVisible()).toBe(false);
      expect(violations).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('without script: no form that could not work, and the curl command with "this link\'s address"', async () => {
    const { context, page } = await open({ javaScriptEnabled: false });
    try {
      expect(await page.locator('#upload').isVisible()).toBe(false);
      expect(await page.locator('.cli').innerText()).toBe('From a terminal, with this link\'s address for URL: curl -T FILE \'URL\'');
    } finally {
      await context.close();
    }
  });
});
