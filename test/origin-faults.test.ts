// Origin failures never cost a use: S3 answering 500 or 503 (S3 asks callers to retry
// InternalError and SlowDown), a reset connection, a response that never comes, an object
// deleted after minting. Each first download meets the fault in the local S3, then the client
// retries as it would; and what a successful download shows the viewer carries no S3 internals.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeWithTools } from './util/clients';
import { http, type HttpResult } from './util/http';

const CONTENT = randomBytes(300_000);
const CURL = 'curl/8.5.0';
let d: LocalDeployment;

async function mint(body: Record<string, unknown> = {}, key = 'f.bin'): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}
const usesOf = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;
const get = (url: string, headers: Record<string, string> = {}): Promise<HttpResult> => http(url, { headers: { 'user-agent': CURL, ...headers } });

function s3(): S3Client {
  return new S3Client({
    region: d.region,
    endpoint: d.originUrl,
    forcePathStyle: true,
    credentials: { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey },
  });
}

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'f.bin': CONTENT }, publicApi: true, maxUsesLimit: 5, originResponseTimeoutMs: 1000, originConnectionAttempts: 1 });
});
afterAll(async () => d?.close());

describe('an origin failure on the request that opened a use', () => {
  it.each(['500', '503'] as const)('S3 %s: the viewer is told to try again, the use is given back, and the retry downloads', async (kind) => {
    const link = await mint();
    d.injectOriginFault('f.bin', kind);
    const failed = await get(link.url);
    expect(failed.status).toBe(503);
    expect(failed.text()).toMatch(/try again/i);
    expect(await usesOf(link.id)).toBe(0);
    const retry = await get(link.url);
    expect([retry.status, retry.body.equals(CONTENT)]).toEqual([200, true]);
    expect(await usesOf(link.id)).toBe(1);
    // Still one-time for everyone else.
    expect((await get(link.url, { 'user-agent': 'someone-else' })).status).toBe(403);
  });

  it('gives the use back with no download window too: the retry is a new request and a new use', async () => {
    const link = await mint({ downloadWindowSeconds: 0 });
    d.injectOriginFault('f.bin', '500');
    expect((await get(link.url)).status).toBe(503);
    expect(await usesOf(link.id)).toBe(0);
    expect((await get(link.url)).body.equals(CONTENT)).toBe(true);
    expect((await get(link.url)).status).toBe(403);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('a reset connection (CloudFront answers 502) and a silent origin (504): the client\'s retry, without Range, continues its session', async () => {
    for (const [kind, status] of [['reset', 502], ['timeout', 504]] as const) {
      const link = await mint();
      d.injectOriginFault('f.bin', kind);
      expect([kind, (await get(link.url)).status]).toEqual([kind, status]);
      const retry = await get(link.url);
      expect([kind, retry.status, retry.body.equals(CONTENT)]).toEqual([kind, 200, true]);
      expect(await usesOf(link.id)).toBe(1);
    }
  });

  it('an object deleted after minting: 404 "no longer available", and the use is given back', async () => {
    const client = s3();
    try {
      await client.send(new PutObjectCommand({ Bucket: d.bucket, Key: 'gone.bin', Body: 'soon gone' }));
      const link = await mint({}, 'gone.bin');
      await client.send(new DeleteObjectCommand({ Bucket: d.bucket, Key: 'gone.bin' }));
      const res = await get(link.url);
      expect([res.status, res.text()]).toEqual([404, 'The file is no longer available.']);
      expect(await usesOf(link.id)).toBe(0);
    } finally {
      client.destroy();
    }
  });
});

describe('an origin failure in a landing page\'s download', () => {
  const press = async (url: string): Promise<string> => {
    const res = await http(url, { method: 'POST', headers: { 'user-agent': CURL, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(res.status).toBe(303);
    return String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]).split(';')[0];
  };

  it('gives the request back, so even a window-0 session (exactly one download) delivers on the retry', async () => {
    const link = await mint({ landingPage: true, downloadWindowSeconds: 0 });
    const cookie = await press(link.url);
    d.injectOriginFault('f.bin', '503');
    expect((await get(link.url, { cookie })).status).toBe(503);
    const retry = await get(link.url, { cookie });
    expect([retry.status, retry.body.equals(CONTENT)]).toEqual([200, true]);
    expect((await get(link.url, { cookie })).status).toBe(403);
    expect(await usesOf(link.id)).toBe(1);
  });
});

describeWithTools(['curl', 'wget'], 'real clients retrying', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'otp-faults-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('curl --retry gets the exact bytes after a reset, for one use', async () => {
    const link = await mint();
    d.injectOriginFault('f.bin', 'reset');
    const out = join(dir, 'curl.bin');
    await promisify(execFile)('curl', ['-sS', '--fail', '--retry', '3', '--retry-all-errors', '--retry-delay', '0', '-o', out, link.url]);
    expect(readFileSync(out).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('wget gets the exact bytes after S3 answers 503, for one use', async () => {
    const link = await mint();
    d.injectOriginFault('f.bin', '503');
    const out = join(dir, 'wget.bin');
    await promisify(execFile)('wget', ['-q', '--tries=3', '--waitretry=0', '--retry-on-http-error=503', '-O', out, link.url]);
    expect(readFileSync(out).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
  });
});

describe('what a download shows the viewer', () => {
  it('carries what clients need and none of S3\'s x-amz-* headers', async () => {
    const client = s3();
    try {
      await client.send(new PutObjectCommand({ Bucket: d.bucket, Key: 'meta.bin', Body: CONTENT, ContentType: 'application/pdf', Metadata: { owner: 'finance-team' } }));
    } finally {
      client.destroy();
    }
    const link = await mint({}, 'meta.bin');
    const whole = await get(link.url);
    expect(whole.status).toBe(200);
    const part = await get(link.url, { range: 'bytes=0-99' });
    expect(part.status).toBe(206);
    for (const res of [whole, part]) {
      const names = Object.keys(res.headers);
      expect(names.filter((n) => n.startsWith('x-amz-'))).toEqual([]);
      expect(JSON.stringify(res.headers)).not.toContain('finance-team');
      for (const needed of ['content-type', 'content-length', 'etag', 'last-modified', 'accept-ranges']) expect([needed, names.includes(needed)]).toEqual([needed, true]);
    }
    expect(part.headers['content-range']).toBe(`bytes 0-99/${CONTENT.length}`);
    expect(whole.headers['content-type']).toBe('application/pdf');
  });
});
