// Links are tokens; the edge signs the one request it sends to S3 with its own role. Over the
// local deployment, with role sessions of two seconds (the edge's and the mint's containers
// are replaced several times in a test): a 30-day link downloads once and is then refused;
// the same URL replayed at S3 is refused; the URL edited to name another existing object
// never returns that object; links keep working across the edge's session renewals; a
// lifetime over a year is refused by the API.
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf } from './util/http';
import { keyToPath } from '../src/shared/link';

const REPORT = randomBytes(20_000);
const PAYROLL = randomBytes(20_000);
const YEAR = 365 * 86_400;
let d: LocalDeployment;

async function mint(body: Record<string, unknown>): Promise<{ status: number; url: string; id: string; expiresAt: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, ...(res.status === 201 ? JSON.parse(res.text()) as { url: string; id: string; expiresAt: string } : { url: '', id: '', expiresAt: '' }) };
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  d = await startLocalDeployment({
    objects: { 'reports/q4.pdf': REPORT, 'reports/payroll.pdf': PAYROLL },
    publicApi: true,
    maxExpiresSeconds: YEAR,
    sessionSeconds: 2,
    downloadWindowSeconds: 0,
  });
});
afterAll(async () => d?.close());

describe('links the edge signs for', () => {
  it('a 30-day link downloads once, after the sessions of the functions that minted and first served it ended', async () => {
    const link = await mint({ key: 'reports/q4.pdf', expiresInSeconds: 30 * 86_400 });
    expect(link.status).toBe(201);
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const warm = await mint({ key: 'reports/q4.pdf' });
    expect((await http(warm.url)).status).toBe(200);
    const containers = d.edgeContainers();
    await sleep(2500);
    const first = await http(link.url);
    expect([first.status, first.body.equals(REPORT)]).toEqual([200, true]);
    // A new edge container, with a new session, signed it.
    expect(d.edgeContainers()).toBeGreaterThan(containers);
    expect((await http(link.url)).status).toBe(403);
  });

  it('a link replayed straight at S3 is refused, with or without the bucket host: nothing a viewer holds is a signature', async () => {
    const link = await mint({ key: 'reports/q4.pdf', expiresInSeconds: 30 * 86_400 });
    for (const res of [
      await http(`${d.originUrl}/${d.bucket}${rawPathOf(link.url)}`),
      await http(`${d.originUrl}${rawPathOf(link.url)}`, { headers: { host: d.originHost } }),
    ]) {
      expect([res.status, /AccessDenied/.test(res.text())]).toEqual([403, true]);
    }
    expect((await http(link.url)).status).toBe(200);
  });

  it('a link edited to name another existing object never returns that object', async () => {
    const link = await mint({ key: 'reports/q4.pdf' });
    const edited = link.url.replace(keyToPath('reports/q4.pdf'), keyToPath('reports/payroll.pdf'));
    const res = await http(edited);
    expect(res.status).toBe(403);
    expect(res.body.includes(PAYROLL.subarray(0, 64))).toBe(false);
    // The real link still serves its own object.
    const own = await http(link.url);
    expect([own.status, own.body.equals(REPORT)]).toEqual([200, true]);
  });

  it('only the edge role reads linked objects: the account\'s administrator is refused by the bucket policy', async () => {
    const s3 = d.s3Client();
    try {
      await expect(s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: 'reports/q4.pdf' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      s3.destroy();
    }
  });

  it('the API refuses a lifetime over a year with 400 naming the field, issuing nothing', async () => {
    const writes = d.services.dynamodb.calls.get('PutItem');
    const res = await mint({ key: 'reports/q4.pdf', expiresInSeconds: YEAR + 1 });
    expect(res.status).toBe(400);
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
    expect((await mint({ key: 'reports/q4.pdf', expiresInSeconds: YEAR })).status).toBe(201);
  });
});
