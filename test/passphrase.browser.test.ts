// A passphrase-protected link in a real browser: a person types the passphrase and gets the
// file's exact bytes; a wrong one is told so on the page with the tries left; a form submitted
// without the passphrase, as a mail scanner that presses buttons does, spends nothing.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../local/browser';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeInBrowser } from './util/browser';
import { http } from './util/http';

const CONTENT = randomBytes(120_000);
const SECRET = 'correct horse battery staple';
let d: LocalDeployment;
let browser: Browser;

async function mint(): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', passphrase: SECRET }),
  });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}
const statusOf = async (id: string) => JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number; passphraseTriesLeft: number };

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true, viewerAddress: () => '203.0.113.7' });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await d?.close();
});

describeInBrowser('a passphrase-protected link in headless chromium', () => {
  it('says a wrong passphrase is wrong and how many tries are left, then downloads the exact bytes with the right one', async () => {
    const link = await mint();
    const context = await browser.newContext({ acceptDownloads: true });
    try {
      const page = await context.newPage();
      expect((await page.goto(link.url))?.status()).toBe(200);
      const field = page.getByLabel('Passphrase');
      expect(await field.getAttribute('type')).toBe('password');

      await field.fill('not the passphrase');
      const [refused] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Download' }).click()]);
      expect(refused?.status()).toBe(403);
      expect(await page.getByRole('alert').textContent()).toBe('Wrong passphrase. Nothing was spent. 4 tries left before the link locks.');
      // The passphrase went in the body, never into the address.
      expect(page.url()).toBe(link.url);
      expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 4 });

      await page.getByLabel('Passphrase').fill(SECRET);
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByLabel('Passphrase').press('Enter')]);
      expect(readFileSync(await download.path()).equals(CONTENT)).toBe(true);
      expect(download.url()).toBe(link.url);
      expect(await statusOf(link.id)).toMatchObject({ uses: 1, passphraseTriesLeft: 4 });
    } finally {
      await context.close();
    }
  });

  it('spends and counts nothing when the form is submitted without the passphrase, as a scanner would', async () => {
    const link = await mint();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(link.url);
      // The field is required, so a person cannot send it empty; a scanner submitting the form
      // with a script skips that check (form.submit() does not validate).
      const [response] = await Promise.all([page.waitForNavigation(), page.evaluate('document.forms[0].submit()')]);
      expect(response?.status()).toBe(403);
      expect(await page.locator('p').textContent()).toMatch(/needs its passphrase/);
      expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 5 });
      // Clicking the button with the field empty does not even send the form (a click waits
      // for the navigation it starts, so a POST would be seen).
      await page.goto(link.url);
      const posts: string[] = [];
      page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });
      await page.getByRole('button', { name: 'Download' }).click();
      expect(await page.evaluate('document.getElementById("passphrase").validity.valueMissing')).toBe(true);
      expect(posts).toEqual([]);
      expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 5 });
    } finally {
      await context.close();
    }
  });
});
