// How a deployment behaves when AWS is imperfect: a ledger that commits a write and
// loses its answer, an SSM parameter that is slow, throttled or changed by an
// operator, and a rotated origin secret. End to end over the local deployment.
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

const CONTENT = Buffer.from('operable bytes\n');
let d: LocalDeployment;

async function mint(maxUses = 1): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'f.bin', maxUses }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

async function statusOf(id: string): Promise<{ uses: number; redemptions: Array<{ requestId: string }> }> {
  return JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number; redemptions: Array<{ requestId: string }> };
}

describe('a ledger that commits the redemption and then loses or delays its answer', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'f.bin': CONTENT }, publicApi: true, maxUsesLimit: 5, downloadWindowSeconds: 0 });
  });
  afterAll(async () => d?.close());
  afterEach(() => d.services.dynamodb.fault.clear());

  it.each([
    ['the connection is reset after the commit', { mode: 'commit-then-reset' as const }],
    ['the answer arrives after the SDK gave up on it', { mode: 'commit-then-delay' as const, delayMs: 2000 }],
  ])('still delivers the first download when %s, and refuses every other request', async (_name, fault) => {
    const link = await mint();
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    d.services.dynamodb.fault.set({ ...fault, operations: ['UpdateItem'], times: 1 });
    const first = await http(link.url);
    expect(first.status).toBe(200);
    expect(first.body.equals(CONTENT)).toBe(true);
    // The SDK retried once: one write committed, the retry was refused and recognised.
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes + 2);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(1);
    expect(status.redemptions).toHaveLength(1);
    // Any other request, same link: refused as used.
    const second = await http(link.url);
    expect(second.status).toBe(403);
    expect(second.text()).toMatch(/already been used/);
  });

  it('spends one use, not two, when a retried request of an N-use link had committed', async () => {
    const link = await mint(3);
    d.services.dynamodb.fault.set({ mode: 'commit-then-reset', operations: ['UpdateItem'], times: 1 });
    expect((await http(link.url)).status).toBe(200);
    expect((await statusOf(link.id)).uses).toBe(1);
    expect((await http(link.url)).status).toBe(200);
    expect((await http(link.url)).status).toBe(200);
    expect((await http(link.url)).status).toBe(403);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(3);
    expect(new Set(status.redemptions.map((r) => r.requestId)).size).toBe(3);
  });

  it('answers 503 when the answer is later than the whole budget: the use is spent, and the audit names the request', async () => {
    // The documented limit of per-request idempotency: the viewer's next request is a new one.
    const link = await mint();
    d.services.dynamodb.fault.set({ mode: 'commit-then-delay', delayMs: 4500, operations: ['UpdateItem'] });
    const res = await http(link.url);
    d.services.dynamodb.fault.clear();
    expect(res.status).toBe(503);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(1);
    expect(status.redemptions[0].requestId).toMatch(/\S/);
  });
});

describe('operator switches in SSM, read off the request path', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({
      objects: { 'f.bin': CONTENT },
      publicApi: true,
      operatorConfig: { paused: true, previewAgents: ['OpsScanner/\\d'] },
    });
  });
  afterAll(async () => d?.close());

  it('serves a cold container\'s first request without waiting for SSM, then applies the switches it read', async () => {
    const [a, b, c] = [await mint(), await mint(), await mint()];
    d.services.awsJson.fault.set({ mode: 'delay', delayMs: 300, operations: ['GetParameter'] });
    const calls = d.services.awsJson.calls.get('GetParameter');
    // The first request starts the read and does not wait for it.
    expect((await http(a.url)).status).toBe(200);
    // The read lands after its 300 ms (later on a loaded machine): until then links of its own
    // still download; once it has, they are refused as paused.
    const deadline = Date.now() + 10_000;
    while ((await http((await mint()).url)).status === 200 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    d.services.awsJson.fault.clear();
    expect(d.services.awsJson.calls.get('GetParameter')).toBe(calls + 1);
    // Paused: refused with 503, nothing spent.
    const id = { Distribution: d.edgeConfig.metricsId };
    const [pausedBefore, ledgerBefore] = [d.metrics.sum('LinkRefusals', { ...id, Reason: 'paused' }), d.metrics.sum('LedgerUnavailable', id)];
    const paused = await http(b.url);
    expect(paused.status).toBe(503);
    expect(paused.text()).toMatch(/paused/);
    expect((await statusOf(b.id)).uses).toBe(0);
    // Counted as a refusal for the pause, not as a ledger failure.
    expect([d.metrics.sum('LinkRefusals', { ...id, Reason: 'paused' }) - pausedBefore, d.metrics.sum('LedgerUnavailable', id) - ledgerBefore]).toEqual([1, 0]);
    // The preview agent added by the operator is refused too (after the pause check, so still 503 here).
    expect((await http(c.url, { headers: { 'user-agent': 'OpsScanner/1' } })).status).toBe(503);
    expect((await statusOf(c.id)).uses).toBe(0);
  });
});

describe('a pause set while a container is warm', () => {
  // The read interval compressed to 1 s (the construct's operatorRefreshInterval, 60 s by default).
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'f.bin': CONTENT }, publicApi: true, operatorRefreshSeconds: 1 });
  });
  afterAll(async () => d?.close());

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const reads = () => d.services.awsJson.calls.get('GetParameter');

  it('applies at the container\'s next read, due within 1.2 intervals: the request that starts it is served on the old value, the next is refused', async () => {
    const [a, b, c, e] = [await mint(), await mint(), await mint(), await mint()];
    expect((await http(a.url)).status).toBe(200);
    // The cold container's first read, and nothing more until it is due again (0.8 to 1.2 s later).
    await sleep(300);
    expect(reads()).toBe(1);
    d.services.awsJson.setParameter(d.parameterName, JSON.stringify({ paused: true, previewAgents: [] }));
    expect((await http(b.url)).status).toBe(200);
    expect(reads()).toBe(1);
    await sleep(1000);
    // Due: this request starts the read and does not wait for it.
    expect((await http(c.url)).status).toBe(200);
    await sleep(300);
    expect(reads()).toBe(2);
    const refused = await http(e.url);
    expect(refused.status).toBe(503);
    expect((await statusOf(e.id)).uses).toBe(0);
  });
});
