// Faults injected at the emulated services (not SDK mocks): the edge fails closed with
// its own 503 inside CloudFront's budget and recovers; the mint never returns a link
// it did not record.
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, type HttpResult } from './util/http';

let d: LocalDeployment;

async function mint(key = 'a.txt'): Promise<string> {
  const res = await callApi(`${d.apiUrl}/get-url?key=${key}`, d.region, d);
  expect(res.status).toBe(200);
  return res.json<{ url: string }>().url;
}

/** Our own generated 503, not the local CloudFront's "function timed out or failed" page. */
function expectOwn503(res: HttpResult): void {
  expect(res.status).toBe(503);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.text()).toMatch(/temporarily unavailable/);
}

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'a.txt': 'bytes' }, downloadWindowSeconds: 0 });
  // Warm the edge container (SSM read once) so ledger faults are isolated.
  expect((await http(await mint())).status).toBe(200);
});
afterAll(async () => d?.close());
afterEach(() => {
  d.services.dynamodb.fault.clear();
  d.services.awsJson.fault.clear();
});

describe('edge, ledger faults', () => {
  it.each([
    ['unreachable (connection reset)', { mode: 'reset' as const }],
    ['failing (500)', { mode: 'error' as const }],
    ['slower than the budget', { mode: 'delay' as const, delayMs: 4500 }],
  ])('answers its own 503 when DynamoDB is %s, and recovers on the next request', async (_name, fault) => {
    const url = await mint();
    d.services.dynamodb.fault.set({ ...fault, operations: ['UpdateItem'] });
    expectOwn503(await http(url));
    d.services.dynamodb.fault.clear();
    expect((await http(url)).status).toBe(200);
  });

  it('serves normally when DynamoDB is slow but inside the budget', async () => {
    const url = await mint();
    d.services.dynamodb.fault.set({ mode: 'delay', delayMs: 300, operations: ['UpdateItem'] });
    expect((await http(url)).status).toBe(200);
    expect((await http(url)).status).toBe(403);
  });

  it('never lets a link through twice while the ledger throttles part of a burst', async () => {
    const url = await mint();
    // The first 30 UpdateItems are throttled (the SDK retries once), the rest are served.
    d.services.dynamodb.fault.set({ mode: 'throttle', operations: ['UpdateItem'], times: 30 });
    const results = await Promise.all(Array.from({ length: 100 }, () => http(url)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(1);
    expect(statuses.filter((s) => ![200, 403, 503].includes(s))).toEqual([]);
    d.services.dynamodb.fault.clear();
    const after = await Promise.all(Array.from({ length: 20 }, () => http(url)));
    expect(statuses.filter((s) => s === 200).length + after.filter((r) => r.status === 200).length).toBe(1);
  });
});

describe('mint faults', () => {
  it('returns no link (and no URL fragment) when the ledger write fails', async () => {
    d.services.dynamodb.fault.set({ mode: 'error', operations: ['PutItem'] });
    const res = await callApi(`${d.apiUrl}/get-url?key=a.txt`, d.region, d);
    expect(res.status).toBe(500);
    expect(res.body).not.toMatch(/x-link-|https?:\/\//);
    d.services.dynamodb.fault.clear();
    // The failure left nothing behind that blocks the next mint.
    expect((await http(await mint())).status).toBe(200);
  });
});

describe('cold containers', () => {
  beforeAll(async () => {
    // A fresh deployment: the edge has not read its configuration yet.
    await d.close();
    d = await startLocalDeployment({ objects: { 'a.txt': 'bytes' }, downloadWindowSeconds: 0 });
  });

  it('a cold edge serves its first download while SSM throttles: SSM is never on the request path', async () => {
    const url = await mint();
    d.services.awsJson.fault.set({ mode: 'throttle', operations: ['GetParameter'] });
    try {
      expect((await http(url)).status).toBe(200);
      expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(1);
      expect((await http(url)).status).toBe(403);
    } finally {
      d.services.awsJson.fault.clear();
    }
  });
});
