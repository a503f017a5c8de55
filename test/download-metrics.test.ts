// Download metrics over the local deployment: the edge function writes one embedded metric
// format record per request it decides; the local deployment extracts them as CloudWatch
// does (local/metrics.ts) and appends them to the metrics file. Each outcome is counted
// once, under this deployment's Distribution dimension, and nothing in a record identifies
// a link or a viewer.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { LocalMetrics } from '../local/metrics';
import { http, type HttpResult } from './util/http';
import { emfRecord } from '../src/handlers/edge-metrics';
import { DISTRIBUTION_DIMENSION, DOWNLOAD_METRICS_NAMESPACE, DownloadMetric } from '../src/shared/download-metrics';

const CONTENT = Buffer.alloc(20_000, 3);
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let d: LocalDeployment;
let dir: string;
let metricsFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otp-metrics-'));
  metricsFile = join(dir, 'metrics.jsonl');
  d = await startLocalDeployment({ objects: { 'f.bin': CONTENT }, publicApi: true, maxUsesLimit: 5, metricsFile });
});
afterAll(async () => {
  await d?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => d.services.dynamodb.fault.clear());

async function mint(body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'f.bin', ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

const get = (url: string, headers: Record<string, string> = {}, from = '127.0.0.2'): Promise<HttpResult> =>
  http(url, { localAddress: from, headers: { 'user-agent': 'curl/8.5.0', ...headers } });

const id = () => ({ [DISTRIBUTION_DIMENSION]: d.edgeConfig.metricsId });
/** Every series' sum, so a test can compare before and after. */
function counts(): Record<string, number> {
  const names = [
    DownloadMetric.redemptions, DownloadMetric.continuations, DownloadMetric.refusals,
    DownloadMetric.originFailures, DownloadMetric.ledgerUnavailable, DownloadMetric.edgeErrors,
  ];
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, d.metrics.sum(n, id())]));
  for (const reason of ['used', 'method', 'malformed', 'unknown', 'prefetch', 'preview', 'cross-site', 'other-browser', 'passphrase', 'locked']) {
    out[`${DownloadMetric.refusals}/${reason}`] = d.metrics.sum(DownloadMetric.refusals, { ...id(), Reason: reason });
  }
  return out;
}
/** What changed since `before`, leaving out what did not. */
function delta(before: Record<string, number>): Record<string, number> {
  const after = counts();
  return Object.fromEntries(Object.entries(after).filter(([k, v]) => v !== before[k]).map(([k, v]) => [k, v - before[k]]));
}

describe('download metrics over the local deployment', () => {
  it('counts a redemption, its client\'s continuations and a replay refused as used', async () => {
    const before = counts();
    const link = await mint({ maxUses: 1 });
    expect((await get(link.url)).status).toBe(200);
    expect((await get(link.url, { range: 'bytes=0-99' })).status).toBe(206);
    expect((await get(link.url, { range: 'bytes=100-' })).status).toBe(206);
    expect((await get(link.url, { 'user-agent': 'someone-else/1.0' })).status).toBe(403);
    expect(delta(before)).toEqual({
      [DownloadMetric.redemptions]: 1,
      [DownloadMetric.continuations]: 2,
      [DownloadMetric.refusals]: 1,
      [`${DownloadMetric.refusals}/used`]: 1,
    });
  });

  it('counts a new use of a 2-use link by another client as a redemption', async () => {
    const before = counts();
    const link = await mint({ maxUses: 2 });
    expect((await get(link.url)).status).toBe(200);
    expect((await get(link.url, { 'user-agent': 'other-client/2.0' })).status).toBe(200);
    expect(delta(before)).toEqual({ [DownloadMetric.redemptions]: 2 });
  });

  it('counts refusals by reason: method, tampered link, unknown id, prefetch, link preview', async () => {
    const before = counts();
    const link = await mint();
    expect((await http(link.url, { method: 'HEAD', localAddress: '127.0.0.2' })).status).toBe(403);
    const tampered = new URL(link.url);
    tampered.searchParams.set('x-link-exp', String(Number(tampered.searchParams.get('x-link-exp')) + 60));
    expect((await get(tampered.toString())).status).toBe(403);
    expect((await get(link.url.replace('x-link-id=', 'x-link-id=zz'))).status).toBe(403);
    expect((await get(link.url, { 'sec-purpose': 'prefetch' })).status).toBe(403);
    expect((await get(link.url, { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' })).status).toBe(403);
    const changed = delta(before);
    expect(changed[DownloadMetric.refusals]).toBe(5);
    expect(changed).toMatchObject({
      [`${DownloadMetric.refusals}/method`]: 1,
      [`${DownloadMetric.refusals}/prefetch`]: 1,
      [`${DownloadMetric.refusals}/preview`]: 1,
    });
    // A tampered or made-up link is refused before or by the ledger: malformed or unknown.
    expect((changed[`${DownloadMetric.refusals}/malformed`] ?? 0) + (changed[`${DownloadMetric.refusals}/unknown`] ?? 0)).toBe(2);
    expect(changed[DownloadMetric.redemptions]).toBeUndefined();
  });

  it('counts a ledger failure as LedgerUnavailable and EdgeErrors, and no redemption', async () => {
    const link = await mint();
    const before = counts();
    d.services.dynamodb.fault.set({ mode: 'error', operations: ['UpdateItem'] });
    expect((await get(link.url)).status).toBe(503);
    d.services.dynamodb.fault.clear();
    expect(delta(before)).toEqual({ [DownloadMetric.ledgerUnavailable]: 1, [DownloadMetric.edgeErrors]: 1 });
  });

  it('counts an origin failure as OriginFailures and EdgeErrors beside the redemption it gave back', async () => {
    const link = await mint();
    const before = counts();
    d.injectOriginFault('f.bin', '500');
    expect((await get(link.url)).status).toBe(503);
    expect(delta(before)).toEqual({ [DownloadMetric.redemptions]: 1, [DownloadMetric.originFailures]: 1, [DownloadMetric.edgeErrors]: 1 });
  });

  it('writes every datum to the metrics file, valid EMF only, with nothing of a link or a viewer in it', async () => {
    expect(d.metrics.invalid).toEqual([]);
    const lines = readFileSync(metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { namespace: string; dimensions: Record<string, string> });
    expect(lines.length).toBe(d.metrics.data.length);
    expect(lines.length).toBeGreaterThan(10);
    expect(new Set(lines.map((l) => l.namespace))).toEqual(new Set([DOWNLOAD_METRICS_NAMESPACE]));
    const text = readFileSync(metricsFile, 'utf8');
    expect(text).not.toMatch(/x-link|127\.0\.0|curl|someone-else|f\.bin/);
  });
});

describe('landing-page downloads', () => {
  it('counts the button as the redemption and the cookie\'s downloads as continuations; a cross-site press and a cookieless range are refused', async () => {
    const before = counts();
    const link = await mint({ landingPage: true });
    const page = await http(link.url, { localAddress: '127.0.0.5', headers: { 'user-agent': BROWSER, 'accept': 'text/html' } });
    expect(page.status).toBe(200);
    const press = (extra: Record<string, string> = {}) => http(link.url, {
      method: 'POST',
      localAddress: '127.0.0.5',
      body: '',
      headers: { 'user-agent': BROWSER, 'content-type': 'application/x-www-form-urlencoded', 'accept': 'text/html', ...extra },
    });
    expect((await press({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const pressed = await press({ 'sec-fetch-site': 'same-origin' });
    expect(pressed.status).toBe(303);
    const cookie = String(([] as string[]).concat(pressed.headers['set-cookie'] ?? [])[0]).split(';')[0];
    const follow = (headers: Record<string, string> = {}) => http(link.url, { localAddress: '127.0.0.5', headers: { 'user-agent': BROWSER, cookie, ...headers } });
    expect((await follow()).status).toBe(200);
    expect((await follow({ range: 'bytes=0-9' })).status).toBe(206);
    expect((await http(link.url, { localAddress: '127.0.0.5', headers: { 'user-agent': BROWSER, 'range': 'bytes=0-9' } })).status).toBe(403);
    expect(delta(before)).toEqual({
      [DownloadMetric.redemptions]: 1,
      [DownloadMetric.continuations]: 2,
      [DownloadMetric.refusals]: 2,
      [`${DownloadMetric.refusals}/cross-site`]: 1,
      [`${DownloadMetric.refusals}/other-browser`]: 1,
    });
  });
  it('counts a protected link\'s presses: no passphrase and a wrong one as passphrase, after the last try as locked, the right one as the redemption', async () => {
    const before = counts();
    const link = await mint({ passphrase: 'correct horse battery', maxUses: 2 });
    const press = (body: string) => http(link.url, {
      method: 'POST',
      localAddress: '127.0.0.6',
      body,
      headers: { 'user-agent': BROWSER, 'content-type': 'application/x-www-form-urlencoded', 'accept': 'text/html', 'sec-fetch-site': 'same-origin' },
    });
    expect((await press('')).status).toBe(403);
    expect((await press('passphrase=wrong+horse+battery')).status).toBe(403);
    expect((await press('passphrase=correct+horse+battery')).status).toBe(303);
    expect(delta(before)).toEqual({
      [DownloadMetric.redemptions]: 1,
      [DownloadMetric.refusals]: 2,
      [`${DownloadMetric.refusals}/passphrase`]: 2,
    });
    const beforeLock = counts();
    for (let i = 0; i < 4; i++) expect((await press('passphrase=wrong+horse+battery')).status).toBe(403);
    expect((await press('passphrase=correct+horse+battery')).status).toBe(403);
    expect(delta(beforeLock)).toEqual({
      [DownloadMetric.refusals]: 5,
      [`${DownloadMetric.refusals}/passphrase`]: 3,
      [`${DownloadMetric.refusals}/locked`]: 2,
    });
  });
});

describe('the EMF record', () => {
  it('is one JSON line CloudWatch extracts into the metric and, for refusals, the total and the per-reason series', () => {
    const line = emfRecord('eu-west-1/App/Downloads', { kind: 'refused', reason: 'expired' }, 1767225600000);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      _aws: {
        Timestamp: 1767225600000,
        CloudWatchMetrics: [{
          Namespace: DOWNLOAD_METRICS_NAMESPACE,
          Dimensions: [['Distribution'], ['Distribution', 'Reason']],
          Metrics: [{ Name: 'LinkRefusals', Unit: 'Count' }],
        }],
      },
      Distribution: 'eu-west-1/App/Downloads',
      Reason: 'expired',
      LinkRefusals: 1,
    });
    const m = new LocalMetrics();
    expect(m.ingest(line)).toBe(true);
    expect([m.sum('LinkRefusals', { Distribution: 'eu-west-1/App/Downloads' }), m.sum('LinkRefusals', { Distribution: 'eu-west-1/App/Downloads', Reason: 'expired' })])
      .toEqual([1, 1]);
  });

  it('keeps the timestamp per call and the rest per outcome', () => {
    const a = emfRecord('x', { kind: 'origin-failure' }, 1);
    const b = emfRecord('x', { kind: 'origin-failure' }, 2);
    expect(JSON.parse(a)._aws.Timestamp).toBe(1);
    expect(JSON.parse(b)._aws.Timestamp).toBe(2);
    expect(JSON.parse(b)).toMatchObject({ OriginFailures: 1, EdgeErrors: 1, Distribution: 'x' });
    expect(JSON.parse(emfRecord('y', { kind: 'origin-failure' }, 3)).Distribution).toBe('y');
  });

  it('is refused by the local extraction as CloudWatch would when a dimension or a value is missing', () => {
    const m = new LocalMetrics();
    const bad = JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: 'N', Dimensions: [['D']], Metrics: [{ Name: 'M' }] }] }, M: 1 });
    expect(m.ingest(bad)).toBe(true);
    expect(m.invalid).toEqual([{ line: bad, problem: 'dimension D must be a string member of the root' }]);
    expect(m.ingest('{"level":"info","event":"x"}')).toBe(false);
    expect(m.ingest('not json')).toBe(false);
    expect(m.data).toEqual([]);
  });
});
