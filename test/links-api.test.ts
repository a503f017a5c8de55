// The links API and what it adds beyond one-time links, end to end over the local
// deployment: counted uses under concurrency, status with an audit trail,
// revocation (also racing downloads), link-preview protection.
import { DEFAULT_CALLER_ARN } from '../local/api-auth';
import { callApi, type ApiResponse } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

const CONTENT = Buffer.from('counted bytes\n');
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';

interface Created { url: string; id: string; expiresAt: string; maxUses: number; downloadWindowSeconds: number }
interface Status {
  id: string;
  key: string;
  maxUses: number;
  uses: number;
  expiresAt: string;
  revoked: boolean;
  owner?: string;
  redemptions: Array<{ at: string; ip: string; userAgent: string; requestId: string; sessionUntil: string; requests: number }>;
}

let d: LocalDeployment;
const api = (path: string, method = 'GET', body?: unknown): Promise<ApiResponse> =>
  callApi(`${d.apiUrl}${path}`, d.region, d, { method, body: body === undefined ? undefined : JSON.stringify(body) });

async function create(body: Record<string, unknown>): Promise<Created> {
  const res = await api('/urls', 'POST', body);
  expect([res.status, res.body]).toEqual([201, expect.any(String)]);
  return res.json<Created>();
}

const status = async (id: string): Promise<Status> => (await api(`/urls/${id}`)).json<Status>();
const download = (url: string, userAgent = BROWSER) => http(url, { headers: { 'user-agent': userAgent } });

describe('links API', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({
      objects: { 'a.bin': CONTENT, 'reports/q4.pdf': CONTENT, 'private/secret.txt': 'no' },
      maxUsesLimit: 20,
      previewAgents: ['MyCorpScanner/\\d+'],
    });
  });
  afterAll(async () => d?.close());

  it('creates a link with POST /urls and reports its status with GET /urls/{id}', async () => {
    const link = await create({ key: 'a.bin', expiresInSeconds: 600, maxUses: 3 });
    expect(link).toEqual({
      url: expect.stringContaining(`${d.distributionUrl}/a.bin?`), id: expect.any(String), expiresAt: expect.any(String), maxUses: 3, downloadWindowSeconds: 1800, landingPage: false, passphraseProtected: false,
    });
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    expect(await status(link.id)).toEqual({
      id: link.id,
      key: 'a.bin',
      maxUses: 3,
      uses: 0,
      expiresAt: link.expiresAt,
      revoked: false,
      size: CONTENT.length,
      redemptions: [],
      owner: `iam:${DEFAULT_CALLER_ARN}`,
    });
  });

  it('keeps GET /get-url working beside it', async () => {
    const res = await api('/get-url?key=a.bin');
    expect(res.status).toBe(200);
    expect(Object.keys(res.json<object>()).sort()).toEqual(['expiresAt', 'id', 'url']);
  });

  it('lets exactly maxUses of 300 concurrent downloads through, then refuses every later one', async () => {
    const link = await create({ key: 'a.bin', maxUses: 7 });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => download(link.url, `viewer/${i}`)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(7);
    expect(results.filter((r) => r.status !== 200 && r.status !== 403)).toEqual([]);
    expect((await download(link.url, 'viewer/later')).status).toBe(403);
    const s = await status(link.id);
    expect(s.uses).toBe(7);
    expect(s.redemptions).toHaveLength(7);
  });

  it('records time, client IP and user agent of every successful download', async () => {
    const link = await create({ key: 'a.bin', maxUses: 2 });
    const before = Date.now();
    expect((await download(link.url, 'curl/8.5.0')).status).toBe(200);
    expect((await download(link.url, `${BROWSER} ${'x'.repeat(2000)}`)).status).toBe(200);
    expect((await download(link.url)).status).toBe(403);
    const { redemptions } = await status(link.id);
    expect(redemptions).toHaveLength(2);
    expect(redemptions[0]).toEqual({
      at: expect.any(String),
      ip: '127.0.0.1',
      userAgent: 'curl/8.5.0',
      requestId: expect.stringMatching(/^[\w-]{16,}$/),
      // The download session the use opened: until when that client's Range requests continue it, and how many it served.
      sessionUntil: expect.any(String),
      requests: 1,
    });
    // The 30-minute window never outlasts the link (15 minutes here).
    expect(redemptions[0].sessionUntil).toBe(link.expiresAt);
    expect(redemptions[1].requestId).not.toBe(redemptions[0].requestId);
    expect(Date.parse(redemptions[0].at)).toBeGreaterThanOrEqual(before - 1000);
    // Past the bound, user agents are cut (512 characters), never dropped.
    expect(redemptions[1].userAgent).toHaveLength(512);
  });

  it('revokes a link at once with DELETE /urls/{id}', async () => {
    const link = await create({ key: 'a.bin', maxUses: 5 });
    expect((await download(link.url)).status).toBe(200);
    const res = await api(`/urls/${link.id}`, 'DELETE');
    expect([res.status, res.body]).toEqual([204, '']);
    expect((await download(link.url)).status).toBe(403);
    expect(await status(link.id)).toMatchObject({ revoked: true, uses: 1 });
    // Revoking again is harmless.
    expect((await api(`/urls/${link.id}`, 'DELETE')).status).toBe(204);
  });

  it('orders a revocation racing downloads: each download is counted before it or refused', async () => {
    for (let round = 0; round < 5; round++) {
      const link = await create({ key: 'a.bin', maxUses: 20 });
      const downloads = Array.from({ length: 40 }, () => download(link.url));
      const revoked = api(`/urls/${link.id}`, 'DELETE');
      const results = await Promise.all(downloads);
      expect((await revoked).status).toBe(204);
      const s = await status(link.id);
      const passed = results.filter((r) => r.status === 200).length;
      // Every 200 was recorded as a use, and no use happened that was not served.
      expect(s.uses).toBe(passed);
      expect(s.redemptions).toHaveLength(passed);
      expect(s.revoked).toBe(true);
      expect((await download(link.url)).status).toBe(403);
    }
  });

  it('answers 404 for unknown or malformed ids', async () => {
    expect((await api('/urls/AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await api('/urls/not-an-id')).status).toBe(404);
    expect((await api('/urls/AAAAAAAAAAAAAAAAAAAAAA', 'DELETE')).status).toBe(404);
  });

  it.each([
    ['no body', undefined, 'body'],
    ['a JSON array', [], 'body'],
    ['a missing key', {}, 'key'],
    ['a key that is not a string', { key: 42 }, 'key'],
    ['an unknown field', { key: 'a.bin', ttl: 5 }, 'ttl'],
    ['a fractional lifetime', { key: 'a.bin', expiresInSeconds: 1.5 }, 'expiresInSeconds'],
    ['a lifetime over the maximum', { key: 'a.bin', expiresInSeconds: 3601 }, 'expiresInSeconds'],
    ['zero uses', { key: 'a.bin', maxUses: 0 }, 'maxUses'],
    ['more uses than allowed', { key: 'a.bin', maxUses: 21 }, 'maxUses'],
    ['uses as a string', { key: 'a.bin', maxUses: '3' }, 'maxUses'],
  ])('refuses %s with 400 naming the field, writing nothing', async (_name, body, field) => {
    const writes = d.services.dynamodb.calls.get('PutItem');
    const res = body === undefined
      ? await callApi(`${d.apiUrl}/urls`, d.region, d, { method: 'POST', body: '{not json' })
      : await api('/urls', 'POST', body);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ field, error: expect.any(String) });
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
  });

  it('refuses link previews without consuming a use, then serves the real client', async () => {
    const link = await create({ key: 'a.bin' });
    const updates = d.services.dynamodb.calls.get('UpdateItem');
    for (const agent of [
      'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
      'facebookexternalhit/1.1 Facebot Twitterbot/1.0',
      'WhatsApp/2.23.20.0',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36 MicrosoftPreview/2.0',
      'Microsoft Office Word 2014',
      'MyCorpScanner/7',
    ]) {
      const res = await download(link.url, agent);
      expect([agent, res.status, /previews are not served/.test(res.text())]).toEqual([agent, 403, true]);
    }
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(updates);
    expect((await download(link.url)).status).toBe(200);
  });
});

describe('allowed key prefixes', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT, 'private/secret.txt': 'no' }, allowedKeyPrefixes: ['reports/'] });
  });
  afterAll(async () => d?.close());

  it('mints inside the prefixes and refuses everything else with 403, issuing nothing', async () => {
    expect((await api('/get-url?key=reports%2Fq4.pdf')).status).toBe(200);
    const writes = d.services.dynamodb.calls.get('PutItem');
    for (const key of ['private/secret.txt', 'report', 'Reports/q4.pdf', 'other/reports/q4.pdf']) {
      const res = await api(`/get-url?key=${encodeURIComponent(key)}`);
      expect([key, res.status]).toEqual([key, 403]);
      expect((await api('/urls', 'POST', { key })).status).toBe(403);
    }
    // Dot segments would let a browser resolve the link to another key: refused before the prefix check.
    const dotted = await api(`/get-url?key=${encodeURIComponent('../reports/q4.pdf')}`);
    expect(dotted.status).toBe(400);
    expect(dotted.json()).toMatchObject({ field: 'key' });
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
  });
});

describe('link-preview protection turned off', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'a.bin': CONTENT }, previewProtection: false });
  });
  afterAll(async () => d?.close());

  it('serves (and counts) a preview agent like any client', async () => {
    const link = await create({ key: 'a.bin' });
    expect((await download(link.url, 'Slackbot-LinkExpanding 1.0')).status).toBe(200);
    expect((await download(link.url)).status).toBe(403);
  });
});
