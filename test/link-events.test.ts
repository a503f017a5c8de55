// Link events end to end: downloads, revocations and bad requests over the local
// deployment, whose ledger has a stream consumed by the real events bundle, publishing to
// the local EventBridge; read back from the events file, as `npm run local -- --events-file` writes it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

const CONTENT = Buffer.from('event-worthy bytes\n'.repeat(50));
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0';

let d: LocalDeployment;
let dir: string;
let eventsFile: string;

interface FileEvent { 'source': string; 'detail-type': string; 'detail': Record<string, unknown> & { id: string; eventId: string } }

function eventsOf(id: string): FileEvent[] {
  const lines = readFileSync(eventsFile, 'utf8').split('\n').filter((l) => l !== '');
  return lines.map((l) => JSON.parse(l) as FileEvent).filter((e) => e.detail.id === id);
}
const typesOf = (id: string) => eventsOf(id).map((e) => e['detail-type']);

async function mint(body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'f.bin', ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

const client = (i: number) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otp-events-test-'));
  eventsFile = join(dir, 'events.jsonl');
  d = await startLocalDeployment({ objects: { 'f.bin': CONTENT }, publicApi: true, maxUsesLimit: 5, eventsFile });
});
afterAll(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => d.services.awsJson.fault.clear());

describe('link events over the local deployment', () => {
  it('announces a minted link once, with the documented detail', async () => {
    const link = await mint();
    await d.linkEventsSettled();
    const [issued, ...rest] = eventsOf(link.id);
    expect(rest).toEqual([]);
    expect(issued).toEqual({
      'source': 'cdk-one-time-presigned-url',
      'detail-type': 'Link Issued',
      'detail': {
        version: '1', eventId: expect.any(String), id: link.id, key: 'f.bin', uses: 0, maxUses: 1, expiresAt: expect.any(String), revoked: false,
      },
    });
  });

  it('gives exactly one Link Redeemed and one Link Used Up for 300 concurrent downloads of a one-time link', async () => {
    const link = await mint();
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => http(link.url, { localAddress: client(i), headers: { 'user-agent': BROWSER } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    await d.linkEventsSettled();
    expect(typesOf(link.id)).toEqual(['Link Issued', 'Link Redeemed', 'Link Used Up']);
    const redeemed = eventsOf(link.id)[1].detail;
    expect(redeemed).toMatchObject({ uses: 1, maxUses: 1, userAgent: BROWSER, ip: expect.stringMatching(/^127\.0\./), at: expect.any(String) });
    expect(new Set(eventsOf(link.id).map((e) => e.detail.eventId)).size).toBe(3);
  });

  it('gives three Link Redeemed and one Link Used Up for a 3-use link, however many try', async () => {
    const link = await mint({ maxUses: 3 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => http(link.url, { localAddress: client(i), headers: { 'user-agent': BROWSER } })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    await d.linkEventsSettled();
    // Each use is announced by its session's item, written after its take: parallel uses may be
    // announced out of their `uses` order, and Link Used Up follows the last use's own.
    const events = eventsOf(link.id).map((e) => [e['detail-type'], e.detail.uses]);
    expect(events[0][0]).toBe('Link Issued');
    expect(events.filter(([type]) => type === 'Link Redeemed').map(([, uses]) => uses).sort()).toEqual([1, 2, 3]);
    expect(events.filter(([type]) => type === 'Link Used Up')).toEqual([['Link Used Up', 3]]);
    expect(events.findIndex(([type]) => type === 'Link Used Up')).toBe(events.findIndex(([type, uses]) => type === 'Link Redeemed' && uses === 3) + 1);
    expect(events).toHaveLength(5);
  });

  it('announces a revocation once, and nothing for refused requests or a download session continuing', async () => {
    const link = await mint({ maxUses: 2 });
    expect((await http(link.url, { localAddress: '127.0.3.1', headers: { 'user-agent': BROWSER } })).status).toBe(200);
    // A continuation of that client's session: Range, same client. No event.
    expect((await http(link.url, { localAddress: '127.0.3.1', headers: { 'user-agent': BROWSER, 'range': 'bytes=0-9' } })).status).toBe(206);
    // Refused: HEAD, a tampered link, a previewer, a prefetch. No event.
    expect((await http(link.url, { method: 'HEAD' })).status).toBe(403);
    expect((await http(link.url.replace(/x-link-size=\d+/, 'x-link-size=1'))).status).toBe(403);
    expect((await http(link.url, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } })).status).toBe(403);
    expect((await http(link.url, { headers: { 'sec-purpose': 'prefetch' } })).status).toBe(403);
    const revoke = await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' });
    expect(revoke.status).toBe(204);
    expect((await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await http(link.url, { localAddress: '127.0.3.2' })).status).toBe(403);
    await d.linkEventsSettled();
    expect(typesOf(link.id)).toEqual(['Link Issued', 'Link Redeemed', 'Link Revoked']);
    expect(eventsOf(link.id)[2].detail).toMatchObject({ revoked: true, uses: 1 });
  });

  it('delivers through a throttling EventBridge by retrying, without duplicates', async () => {
    d.services.awsJson.fault.set({ mode: 'throttle', operations: ['PutEvents'], times: 2 });
    const link = await mint();
    expect((await http(link.url)).status).toBe(200);
    await d.linkEventsSettled();
    expect(typesOf(link.id)).toEqual(['Link Issued', 'Link Redeemed', 'Link Used Up']);
    expect(d.linkEventFailures).toHaveLength(0);
  });

  it('dead-letters a change whose events cannot be delivered, and never blocks a download on it', async () => {
    d.services.awsJson.fault.set({ mode: 'error', operations: ['PutEvents'] });
    const link = await mint();
    // The download does not wait for events.
    expect((await http(link.url)).status).toBe(200);
    await d.linkEventsSettled();
    expect(eventsOf(link.id)).toEqual([]);
    expect(d.linkEventFailures.length).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
