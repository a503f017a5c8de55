// Landing-page mode: opening a link shows a page, and only its button spends a use.
// The page itself (size, CSP, no external resources), and what a person, a mail scanner
// and a chat preview each get from the local deployment.
import { createHash, randomBytes } from 'node:crypto';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf, type HttpResult } from './util/http';
import { renderLandingPage, renderMessagePage } from '../src/shared/landing-page';

const CONTENT = randomBytes(50_000);
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const NAVIGATE = { 'user-agent': BROWSER, 'accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('the landing page as rendered', () => {
  const page = renderLandingPage({ title: 'Files from <ACME> & "friends"', fileName: 'q4 <report>.pdf', fileSize: 2_345_678, expiresAt: new Date(Date.UTC(2026, 11, 1, 9, 30)), usesLeft: 1 });

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
    expect(page.html).toContain('<p class="file">q4 &lt;report&gt;.pdf <span class="size">(2.3 MB)</span></p>');
    expect(page.html).toContain('This link works one more time. Available until <span class="when">2026-12-01 09:30 UTC</span>.');
    expect(page.html).toContain('<form method="post"><button type="submit">Download</button></form>');
    expect(page.html).toContain('<meta property="og:title" content="Files from &lt;ACME&gt; &amp; &quot;friends&quot;">');
    expect(page.html).toMatch(/<meta name="viewport" content="width=device-width,initial-scale=1">/);
    expect(page.html).toMatch(/prefers-color-scheme:dark/);
  });

  it('pins the refusal page to the same rules', () => {
    const refusal = renderMessagePage({ title: 'This link cannot be used', message: 'This link has already been used.' });
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
  const press = (url: string, from = '127.0.0.2', ua = BROWSER, cookie?: string, extra: Record<string, string> = {}): Promise<HttpResult> =>
    http(url, {
      method: 'POST',
      localAddress: from,
      headers: { 'user-agent': ua, 'content-type': 'application/x-www-form-urlencoded', 'accept': 'text/html', ...(cookie ? { cookie } : {}), ...extra },
      body: '',
    });
  /** A request of the browser holding `cookie` (its address may change). */
  const follow = (url: string, cookie: string, headers: Record<string, string> = {}, from = '127.0.0.2') =>
    http(url, { localAddress: from, headers: { ...NAVIGATE, cookie, ...headers } });
  const setCookieOf = (res: HttpResult): string => String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '');
  const sessionCookieOf = (res: HttpResult): string => setCookieOf(res).split(';')[0];

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

  it('shows link previews the neutral title without any I/O, and prefetches nothing', async () => {
    const link = await mint();
    const reads = d.services.dynamodb.calls.get('GetItem') ?? 0;
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    for (const ua of ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'facebookexternalhit/1.1', 'WhatsApp/2.23.20.0']) {
      const res = await http(link.url, { headers: { 'user-agent': ua } });
      expect([ua, res.status]).toEqual([ua, 200]);
      expect(res.text()).toContain('<meta property="og:title" content="A file was shared with you">');
      expect(res.text()).not.toMatch(/<form|more time/);
      expect((await http(link.url, { headers: { ...NAVIGATE, 'sec-purpose': 'prefetch' } })).status).toBe(403);
    }
    expect([d.services.dynamodb.calls.get('GetItem') ?? 0, d.services.dynamodb.calls.get('UpdateItem')]).toEqual([reads, writes]);
  });

  it('downloads the exact bytes when the button is pressed: POST, 303 to the link with a session cookie, GET', async () => {
    const link = await mint();
    const pressed = await press(link.url);
    expect(pressed.status).toBe(303);
    // The redirect goes to the link itself: a browser's later requests all use that URL.
    expect(new URL(String(pressed.headers.location), link.url).toString()).toBe(link.url);
    const cookie = sessionCookieOf(pressed);
    expect(setCookieOf(pressed)).toMatch(new RegExp(`^otp-${link.id}=[A-Za-z0-9_-]{22}; Path=/reports/q4\\.pdf; Max-Age=\\d+; Secure; HttpOnly; SameSite=Lax$`));
    const file = await follow(link.url, cookie);
    expect(file.status).toBe(200);
    expect(file.body.equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
    // That browser's later requests continue, on the same URL: a resume, a media probe, a
    // re-request from the download list, also from another address.
    const resume = await follow(link.url, cookie, { range: 'bytes=100-' }, '127.0.0.9');
    expect([resume.status, resume.body.equals(CONTENT.subarray(100))]).toEqual([206, true]);
    expect((await follow(link.url, cookie, { range: 'bytes=0-1' }, '127.0.0.10')).status).toBe(206);
    expect((await follow(link.url, cookie)).body.equals(CONTENT)).toBe(true);
    // Without the cookie the same URL is refused: a range says why; opening it says "used".
    expect((await http(link.url, { localAddress: '127.0.0.2', headers: { 'user-agent': BROWSER, 'range': 'bytes=100-' } })).status).toBe(403);
    const opened = await http(link.url, { localAddress: '127.0.0.2', headers: NAVIGATE });
    expect([opened.status, /already been used/.test(opened.text())]).toEqual([403, true]);
    // Pressing the button in another browser: used, said as a page.
    const later = await press(link.url);
    expect(later.status).toBe(403);
    expect(later.text()).toMatch(/already been used/);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('answers a double press of one browser with its own session, and refuses another browser\'s press', async () => {
    const link = await mint();
    const a = await press(link.url);
    const cookie = sessionCookieOf(a);
    const b = await press(link.url, '127.0.0.2', BROWSER, cookie);
    expect([a.status, b.status]).toEqual([303, 303]);
    expect(sessionCookieOf(b)).toBe(cookie);
    expect((await press(link.url, '127.0.0.3')).status).toBe(403);
    expect((await follow(link.url, cookie)).status).toBe(200);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('gives each of N people their own press on an N-use link', async () => {
    const link = await mint({ maxUses: 2 });
    for (const from of ['127.0.0.4', '127.0.0.5']) {
      const pressed = await press(link.url, from);
      expect(pressed.status).toBe(303);
      expect((await follow(link.url, sessionCookieOf(pressed), {}, from)).body.equals(CONTENT)).toBe(true);
    }
    expect((await press(link.url, '127.0.0.6')).status).toBe(403);
    expect(await usesOf(link.id)).toBe(2);
  });

  it('serves exactly one request after the button when there is no download window', async () => {
    const link = await mint({ downloadWindowSeconds: 0 });
    const pressed = await press(link.url, '127.0.0.7');
    expect(pressed.status).toBe(303);
    const cookie = sessionCookieOf(pressed);
    expect((await follow(link.url, cookie, {}, '127.0.0.7')).body.equals(CONTENT)).toBe(true);
    expect((await follow(link.url, cookie, { range: 'bytes=0-1' }, '127.0.0.7')).status).toBe(403);
    expect((await follow(link.url, cookie, {}, '127.0.0.7')).status).toBe(403);
    expect((await press(link.url, '127.0.0.7')).status).toBe(403);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('refuses a cross-site press without spending anything, and accepts the page\'s own', async () => {
    const link = await mint();
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    const crossSite = await press(link.url, '127.0.0.8', BROWSER, undefined, { 'sec-fetch-site': 'cross-site', 'origin': 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.text()).toMatch(/its own page/);
    expect((await press(link.url, '127.0.0.8', BROWSER, undefined, { origin: 'https://evil.example' })).status).toBe(403);
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    const own = await press(link.url, '127.0.0.8', BROWSER, undefined, { 'sec-fetch-site': 'same-origin', 'origin': new URL(link.url).origin });
    expect(own.status).toBe(303);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('tells the truth on open: forged, tampered, used, expired and revoked links show the refusal page; a live one its uses left', async () => {
    const link = await mint({ maxUses: 2 });
    const revoked = await mint();
    expect((await http(`${d.apiUrl}/urls/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
    const expiring = await mint({ expiresInSeconds: 1 });
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    const reads = d.services.dynamodb.calls.get('GetItem') ?? 0;
    const live = await http(link.url, { headers: NAVIGATE });
    expect([live.status, live.text().includes('This link works 2 more times.')]).toEqual([200, true]);
    const forged = await http(link.url.replace(link.id, 'ZZZZZZZZZZZZZZZZZZZZZZ'), { headers: NAVIGATE });
    expect([forged.status, /not valid/.test(forged.text()), /<form/.test(forged.text())]).toEqual([403, true, false]);
    const tampered = await http(link.url.replace(/x-link-size=\d+/, 'x-link-size=1'), { headers: NAVIGATE });
    expect([tampered.status, /not valid/.test(tampered.text())]).toEqual([403, true]);
    expect((await http(revoked.url, { headers: NAVIGATE })).text()).toMatch(/revoked/);
    // One read per page view, never a write.
    expect(d.services.dynamodb.calls.get('GetItem')).toBe(reads + 4);
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    await new Promise((r) => setTimeout(r, 1100));
    // Past its expiry a link is refused from the URL alone, before any I/O.
    expect((await http(expiring.url, { headers: NAVIGATE })).text()).toMatch(/expired/);
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

  it('refuses a range without the session cookie, and a forged cookie, spending nothing', async () => {
    const link = await mint();
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    expect((await http(link.url, { headers: { 'user-agent': BROWSER, 'range': 'bytes=0-1' } })).status).toBe(403);
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    const forged = await follow(link.url, `otp-${link.id}=AAAAAAAAAAAAAAAAAAAAAA`, { range: 'bytes=0-1' });
    expect(forged.status).toBe(403);
    expect(await usesOf(link.id)).toBe(0);
    expect(rawPathOf(link.url)).toMatch(/^\/reports\/q4\.pdf\?/);
  });
});
