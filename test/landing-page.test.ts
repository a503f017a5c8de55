// Landing-page mode: opening a link shows a page, and only its button spends a use.
// The page itself (size, CSP, no external resources), and what a person, a mail scanner
// and a chat preview each get from the local deployment.
import { createHash, randomBytes } from 'node:crypto';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf, type HttpResult } from './util/http';
import { renderLandingPage, renderRefusalPage } from '../src/shared/landing-page';

const CONTENT = randomBytes(50_000);
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const NAVIGATE = { 'user-agent': BROWSER, 'accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('the landing page as rendered', () => {
  const page = renderLandingPage({ title: 'Files from <ACME> & "friends"', fileName: 'q4 <report>.pdf', expiresAt: new Date(Date.UTC(2026, 11, 1, 9, 30)) });

  it('is small, self-contained and allows exactly its own inline style', () => {
    expect(Buffer.byteLength(page.html)).toBeLessThan(8 * 1024);
    expect(page.html).not.toMatch(/<script|<img|<link|<iframe|src=|href=|url\(/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.html)![1];
    const hash = createHash('sha256').update(style).digest('base64');
    expect(page.headers['content-security-policy']).toBe(`default-src 'none'; style-src 'sha256-${hash}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`);
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('escapes what it shows, and has one button that posts to the link itself', () => {
    expect(page.html).toContain('<h1>Files from &lt;ACME&gt; &amp; &quot;friends&quot;</h1>');
    expect(page.html).toContain('<p class="file">q4 &lt;report&gt;.pdf</p>');
    expect(page.html).toContain('Available until <span class="when">2026-12-01 09:30 UTC</span>.');
    expect(page.html).toContain('<form method="post"><button type="submit">Download</button></form>');
    expect(page.html).toContain('<meta property="og:title" content="Files from &lt;ACME&gt; &amp; &quot;friends&quot;">');
    expect(page.html).toMatch(/<meta name="viewport" content="width=device-width,initial-scale=1">/);
    expect(page.html).toMatch(/prefers-color-scheme:dark/);
  });

  it('pins the refusal page to the same rules', () => {
    const refusal = renderRefusalPage({ title: 'This link cannot be used', message: 'This link has already been used.' });
    expect(refusal.headers).toEqual(page.headers);
    expect(refusal.html).not.toMatch(/<form|<script/);
    expect(refusal.html).toContain('<h1>This link cannot be used</h1><p>This link has already been used.</p>');
  });
});

describe('landing-page links over the local deployment', () => {
  let d: LocalDeployment;
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true, landingPage: true, maxUsesLimit: 5 });
  });
  afterAll(async () => d?.close());

  async function mint(body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
    const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', ...body }) });
    expect(res.status).toBe(201);
    return JSON.parse(res.text()) as { url: string; id: string };
  }
  const usesOf = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;
  const press = (url: string, from = '127.0.0.2', ua = BROWSER): Promise<HttpResult> =>
    http(url, { method: 'POST', localAddress: from, headers: { 'user-agent': ua, 'content-type': 'application/x-www-form-urlencoded', 'accept': 'text/html' }, body: '' });
  const follow = (url: string, location: string, from = '127.0.0.2', headers: Record<string, string> = {}) =>
    http(new URL(location, url).toString(), { localAddress: from, headers: { ...NAVIGATE, ...headers } });

  it('shows the page on open, without touching the ledger', async () => {
    const link = await mint();
    expect(link.url).toContain('x-link-page=1');
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    const res = await http(link.url, { headers: NAVIGATE });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'/);
    expect(res.text()).toContain('<h1>A file was shared with you</h1>');
    // The file name is not shown unless the construct allows it: a key can be sensitive.
    expect(res.text()).not.toContain('q4.pdf');
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    expect(await usesOf(link.id)).toBe(0);
  });

  it('spends nothing for what a mail scanner does: open, fetch every reference, HEAD, OPTIONS, prefetch, preview agents', async () => {
    const link = await mint();
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    const page = await http(link.url, { headers: NAVIGATE });
    const refs = [...page.text().matchAll(/(?:href|src|action)="([^"]*)"/g)].map((m) => new URL(m[1], link.url).toString());
    for (const ref of [link.url, ...refs]) {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const res = await http(ref, { method, headers: NAVIGATE });
        expect([ref, method, res.status < 300 || res.status === 403]).toEqual([ref, method, true]);
      }
    }
    for (const ua of ['Mozilla/5.0 (compatible; Safe Links)', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'curl/8.5.0', BROWSER]) {
      expect((await http(link.url, { headers: { 'user-agent': ua } })).status).toBe(200);
      expect((await http(link.url, { headers: { 'user-agent': ua, 'sec-purpose': 'prefetch' } })).status).toBe(403);
    }
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    expect(await usesOf(link.id)).toBe(0);
  });

  it('downloads the exact bytes when the button is pressed: POST, 303 to a single-use ticket, GET', async () => {
    const link = await mint();
    const pressed = await press(link.url);
    expect(pressed.status).toBe(303);
    const location = String(pressed.headers.location);
    expect(location).toMatch(/[?&]x-link-ticket=[A-Za-z0-9_-]{22}$/);
    const file = await follow(link.url, location);
    expect(file.status).toBe(200);
    expect(file.body.equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
    // The ticket is spent: the same redirect again is refused, and nothing more is spent.
    const again = await follow(link.url, location);
    expect(again.status).toBe(403);
    expect(again.headers['content-type']).toBe('text/html; charset=utf-8');
    // The downloading client's Range requests continue its session (a resume).
    const resume = await http(link.url, { localAddress: '127.0.0.2', headers: { 'user-agent': BROWSER, 'range': 'bytes=100-' } });
    expect(resume.status).toBe(206);
    expect(resume.body.equals(CONTENT.subarray(100))).toBe(true);
    // Pressing the button again after the download: used, said as a page.
    const later = await press(link.url);
    expect(later.status).toBe(403);
    expect(later.text()).toMatch(/already been used/);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('answers a double press with the same ticket, and refuses another person\'s press', async () => {
    const link = await mint();
    const [a, b] = [await press(link.url), await press(link.url)];
    expect([a.status, b.status]).toEqual([303, 303]);
    expect(b.headers.location).toBe(a.headers.location);
    expect((await press(link.url, '127.0.0.3')).status).toBe(403);
    expect((await follow(link.url, String(a.headers.location), '127.0.0.3')).status).toBe(403);
    expect((await follow(link.url, String(a.headers.location))).status).toBe(200);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('gives each of N people their own press on an N-use link', async () => {
    const link = await mint({ maxUses: 2 });
    for (const from of ['127.0.0.4', '127.0.0.5']) {
      const pressed = await press(link.url, from);
      expect(pressed.status).toBe(303);
      expect((await follow(link.url, String(pressed.headers.location), from)).body.equals(CONTENT)).toBe(true);
    }
    expect((await press(link.url, '127.0.0.6')).status).toBe(403);
    expect(await usesOf(link.id)).toBe(2);
  });

  it('delivers through the button with no download window too: the ticket lives for the redirect', async () => {
    const link = await mint({ downloadWindowSeconds: 0 });
    const pressed = await press(link.url, '127.0.0.7');
    expect(pressed.status).toBe(303);
    expect((await follow(link.url, String(pressed.headers.location), '127.0.0.7')).body.equals(CONTENT)).toBe(true);
    expect((await follow(link.url, String(pressed.headers.location), '127.0.0.7')).status).toBe(403);
    expect((await press(link.url, '127.0.0.7')).status).toBe(403);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('keeps links without a page as they were: the URL is the file, and POST is refused', async () => {
    const link = await mint({ landingPage: false });
    expect(link.url).not.toContain('x-link-page');
    expect((await http(link.url, { method: 'POST', body: '' })).status).toBe(403);
    expect((await http(link.url)).body.equals(CONTENT)).toBe(true);
    // A browser asking again gets a small page with the same status; curl keeps plain text.
    const browser = await http(link.url, { headers: NAVIGATE });
    expect([browser.status, browser.headers['content-type']]).toEqual([403, 'text/html; charset=utf-8']);
    const script = await http(link.url, { headers: { 'user-agent': 'curl/8.5.0' } });
    expect([script.status, script.headers['content-type']]).toEqual([403, 'text/plain; charset=utf-8']);
  });

  it('refuses a forged ticket, and a ticket on a link without a page, before the ledger', async () => {
    const link = await mint();
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    expect((await http(`${link.url}&x-link-ticket=not-a-ticket`)).status).toBe(403);
    const plain = await mint({ landingPage: false });
    expect((await http(`${plain.url}&x-link-ticket=AAAAAAAAAAAAAAAAAAAAAA`)).status).toBe(403);
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    expect(rawPathOf(link.url)).toMatch(/^\/reports\/q4\.pdf\?/);
  });
});
