// Download sessions end to end: real HTTP from distinct source addresses through the
// local CloudFront (which forwards Range, as CloudFront does) to the local S3, with real
// bytes reassembled. A use opens a window for the client that redeemed it; within it,
// that client's Range requests continue; every other client is refused as before.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf, type HttpResult } from './util/http';

const SMALL = randomBytes(10_000);
const LARGE = randomBytes(4 * 1024 * 1024 + 123);
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';

let d: LocalDeployment;

async function mint(key: string, body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

/** A GET from one client: a source address in 127.0.0.0/8 and a user agent. */
function get(url: string, from: string, userAgent: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(url, { localAddress: from, headers: { 'user-agent': userAgent, ...headers } });
}

const range = (url: string, from: string, userAgent: string, bytes: string) => get(url, from, userAgent, { range: `bytes=${bytes}` });

async function statusOf(id: string): Promise<{ uses: number; redemptions: Array<{ ip: string; requests: number; sessionUntil: string }> }> {
  return JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number; redemptions: Array<{ ip: string; requests: number; sessionUntil: string }> };
}

describe('download sessions (default window)', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'small.bin': SMALL, 'large.bin': LARGE }, publicApi: true, maxUsesLimit: 5 });
  });
  afterAll(async () => d?.close());
  afterEach(() => d.services.dynamodb.fault.clear());

  it('plays like an iPhone: a 2-byte probe, then ranges, all served from one use and reassembled exactly', async () => {
    const link = await mint('small.bin');
    const probe = await range(link.url, '127.0.0.2', SAFARI, '0-1');
    expect([probe.status, probe.headers['content-range']]).toEqual([206, `bytes 0-1/${SMALL.length}`]);
    expect(probe.body.equals(SMALL.subarray(0, 2))).toBe(true);
    const whole = await range(link.url, '127.0.0.2', SAFARI, '0-');
    expect(whole.status).toBe(206);
    const parts = [await range(link.url, '127.0.0.2', SAFARI, '0-4999'), await range(link.url, '127.0.0.2', SAFARI, '5000-')];
    expect(parts.map((p) => p.status)).toEqual([206, 206]);
    expect(Buffer.concat(parts.map((p) => p.body)).equals(SMALL)).toBe(true);
    expect(whole.body.equals(SMALL)).toBe(true);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(1);
    expect(status.redemptions).toEqual([expect.objectContaining({ ip: '127.0.0.2', requests: 4 })]);
  });

  it('serves four parallel ranges of a multi-megabyte object to a download manager, reassembled exactly, for one use', async () => {
    const link = await mint('large.bin');
    const quarter = Math.ceil(LARGE.length / 4);
    const parts = await Promise.all([0, 1, 2, 3].map((i) =>
      range(link.url, '127.0.0.3', 'aria2/1.37.0', `${i * quarter}-${Math.min(LARGE.length, (i + 1) * quarter) - 1}`)));
    expect(parts.map((p) => p.status)).toEqual([206, 206, 206, 206]);
    expect(Buffer.concat(parts.map((p) => p.body)).equals(LARGE)).toBe(true);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('resumes a download broken mid-transfer from its offset', async () => {
    const link = await mint('large.bin');
    const received = await new Promise<Buffer>((resolve, reject) => {
      const u = new URL(link.url);
      const req = request({ host: u.hostname, port: u.port, path: rawPathOf(link.url), localAddress: '127.0.0.4', headers: { 'user-agent': FIREFOX } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          size += c.length;
          // The train enters a tunnel.
          if (size > 256 * 1024) {
            req.destroy();
            resolve(Buffer.concat(chunks));
          }
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
      });
      req.on('error', () => undefined);
      req.end();
      setTimeout(() => reject(new Error('no data')), 10_000);
    });
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(LARGE.length);
    const rest = await range(link.url, '127.0.0.4', FIREFOX, `${received.length}-`);
    expect(rest.status).toBe(206);
    expect(Buffer.concat([received, rest.body]).equals(LARGE)).toBe(true);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('refuses every other client during the window without spending anything: another address, another user agent', async () => {
    const link = await mint('small.bin');
    expect((await get(link.url, '127.0.0.5', FIREFOX)).status).toBe(200);
    for (const [from, ua] of [['127.0.0.6', FIREFOX], ['127.0.0.5', SAFARI], ['127.0.0.6', SAFARI]]) {
      expect([from, ua, (await range(link.url, from, ua, '0-1')).status]).toEqual([from, ua, 403]);
      expect([from, ua, (await get(link.url, from, ua)).status]).toEqual([from, ua, 403]);
    }
    const status = await statusOf(link.id);
    expect(status.uses).toBe(1);
    expect(status.redemptions).toEqual([expect.objectContaining({ ip: '127.0.0.5', requests: 1 })]);
  });

  it('continues the client\'s whole re-downloads and retries without Range, up to three times the size plus 1 MiB, then says why it refuses', async () => {
    const link = await mint('large.bin');
    // 3 x 4 MiB fit in 3 x size + 1 MiB; a fourth whole download does not.
    for (let i = 0; i < 3; i++) {
      const again = await get(link.url, '127.0.0.7', FIREFOX);
      expect([i, again.status, again.body.equals(LARGE)]).toEqual([i, 200, true]);
    }
    const fourth = await get(link.url, '127.0.0.7', FIREFOX);
    expect(fourth.status).toBe(403);
    expect(fourth.text()).toMatch(/three times the file's size/);
    // What is left of the allowance still serves a small range; anyone else gets nothing.
    expect((await range(link.url, '127.0.0.7', FIREFOX, '100-199')).status).toBe(206);
    expect((await get(link.url, '127.0.0.17', FIREFOX)).status).toBe(403);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('opens one session per use of an N-use link: for other clients, and for a client whose allowance is spent', async () => {
    const link = await mint('large.bin', { maxUses: 3 });
    for (let i = 0; i < 3; i++) expect((await get(link.url, '127.0.0.8', FIREFOX)).status).toBe(200);
    expect((await get(link.url, '127.0.0.9', FIREFOX)).status).toBe(200);
    // The same client downloads a fourth time: its first session is closed into the audit trail, a new one opens.
    expect((await get(link.url, '127.0.0.8', FIREFOX)).status).toBe(200);
    expect((await get(link.url, '127.0.0.10', FIREFOX)).status).toBe(403);
    expect((await range(link.url, '127.0.0.9', FIREFOX, '0-9')).status).toBe(206);
    expect((await range(link.url, '127.0.0.8', FIREFOX, '0-9')).status).toBe(206);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(3);
    expect(status.redemptions.map((r) => r.ip).sort()).toEqual(['127.0.0.8', '127.0.0.8', '127.0.0.9']);
  });

  it('opens exactly one session from 300 concurrent first requests of distinct clients, and then serves that client\'s parallel ranges', async () => {
    const link = await mint('small.bin');
    const clients = Array.from({ length: 300 }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
    const results = await Promise.all(clients.map((from) => range(link.url, from, FIREFOX, '0-99').then((r) => ({ from, status: r.status }))));
    const winners = results.filter((r) => r.status === 206);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.status !== 206 && r.status !== 403)).toEqual([]);
    const from = winners[0].from;
    const parts = await Promise.all([0, 1, 2, 3].map((i) => range(link.url, from, FIREFOX, `${i * 2500}-${i * 2500 + 2499}`)));
    expect(parts.map((p) => p.status)).toEqual([206, 206, 206, 206]);
    expect(Buffer.concat(parts.map((p) => p.body)).equals(SMALL)).toBe(true);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('never spends a use on a prefetch or prerender, and never writes for one', async () => {
    const link = await mint('small.bin');
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    const marks: Array<Record<string, string>> = [{ 'sec-purpose': 'prefetch' }, { 'sec-purpose': 'prefetch;prerender' }, { purpose: 'prefetch' }, { 'x-moz': 'prefetch' }];
    for (const headers of marks) {
      expect((await get(link.url, '127.0.0.11', FIREFOX, headers)).status).toBe(403);
    }
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
    expect((await get(link.url, '127.0.0.11', FIREFOX)).status).toBe(200);
  });

  it('fails closed mid-session when the ledger fails: 503, never a pass-through', async () => {
    const link = await mint('small.bin');
    expect((await range(link.url, '127.0.0.12', FIREFOX, '0-1')).status).toBe(206);
    d.services.dynamodb.fault.set({ mode: 'error', operations: ['UpdateItem'] });
    const res = await range(link.url, '127.0.0.12', FIREFOX, '2-3');
    expect(res.status).toBe(503);
    d.services.dynamodb.fault.clear();
    expect((await range(link.url, '127.0.0.12', FIREFOX, '2-3')).status).toBe(206);
  });
});

describe('download sessions with short and zero windows', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'small.bin': SMALL }, publicApi: true, downloadWindowSeconds: 0 });
  });
  afterAll(async () => d?.close());

  it('with window 0 (the default here, as --download-window 0), every request is a use: a range after the first download is refused', async () => {
    const link = await mint('small.bin');
    expect((await range(link.url, '127.0.0.13', SAFARI, '0-1')).status).toBe(206);
    expect((await range(link.url, '127.0.0.13', SAFARI, '0-')).status).toBe(403);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('ends a session when its window ends, and never lets it outlast the link', async () => {
    const link = await mint('small.bin', { downloadWindowSeconds: 2 });
    expect((await range(link.url, '127.0.0.14', SAFARI, '0-1')).status).toBe(206);
    expect((await range(link.url, '127.0.0.14', SAFARI, '2-3')).status).toBe(206);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    expect((await range(link.url, '127.0.0.14', SAFARI, '4-5')).status).toBe(403);
    const short = await mint('small.bin', { downloadWindowSeconds: 3600, expiresInSeconds: 60 });
    expect((await get(short.url, '127.0.0.15', SAFARI)).status).toBe(200);
    const { redemptions } = await statusOf(short.id);
    expect(Date.parse(redemptions[0].sessionUntil)).toBeLessThanOrEqual(Date.now() + 61_000);
  });

  it('refuses a window outside 0..86400 with 400 naming the field, issuing nothing', async () => {
    const writes = d.services.dynamodb.calls.get('PutItem');
    for (const downloadWindowSeconds of [-1, 86_401, 1.5, '60']) {
      const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'small.bin', downloadWindowSeconds }) });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text())).toMatchObject({ field: 'downloadWindowSeconds' });
    }
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
  });
});

describe('download sessions of direct links on IPv6', () => {
  /** The viewer address the local CloudFront reports, per request (loopback has only one). */
  let address = '2001:db8:85a3:12::1';
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'small.bin': SMALL }, publicApi: true, viewerAddress: () => address });
  });
  afterAll(async () => d?.close());

  it('continues across addresses of one /64 (privacy addresses, a host\'s several addresses), and refuses another /64 and IPv4', async () => {
    const link = await mint('small.bin');
    address = '2001:db8:85a3:12::1';
    expect((await range(link.url, '127.0.0.1', FIREFOX, '0-1')).status).toBe(206);
    address = '2001:0db8:85a3:0012:9c1e:44ff:fe21:7a3b';
    expect((await range(link.url, '127.0.0.1', FIREFOX, '2-3')).status).toBe(206);
    // What the binding cannot survive (README "Download sessions"): another network, another family.
    address = '2001:db8:85a3:13::1';
    expect((await range(link.url, '127.0.0.1', FIREFOX, '4-5')).status).toBe(403);
    address = '203.0.113.7';
    expect((await range(link.url, '127.0.0.1', FIREFOX, '4-5')).status).toBe(403);
    const status = await statusOf(link.id);
    expect([status.uses, status.redemptions[0].ip, status.redemptions[0].requests]).toEqual([1, '2001:db8:85a3:12::1', 2]);
  });
});
