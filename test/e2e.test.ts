// End to end over HTTP against the local emulated deployment: the real mint and
// edge bundles, dynalite, the SigV4-verifying S3 front, the SSM endpoint and the
// local CloudFront, driven exactly as a client (and an attacker) would.
import { createHash } from 'node:crypto';
import { GetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf } from './util/http';

/** Another viewer: a download session is the client's that opened it, so a replay comes from someone else. */
const someoneElse = (n = 0) => ({ headers: { 'user-agent': `someone-else/${n}` } });
import { linkStatus } from '../src/handlers/ledger';
import { keyToPath, LINK_ID_PARAM } from '../src/shared/link';

const CONTENT = Buffer.from('the quarterly report, once\n'.repeat(100));
const UNICODE_KEY = 'reports/2026 Q4/résumé (final)+v2.pdf';

interface Minted { url: string; id: string; expiresAt: string }

let d: LocalDeployment;

/** Mints as a backend would: SigV4-signed with the deployment's credentials. */
async function mint(key: string, extra = ''): Promise<Minted> {
  const res = await callApi(`${d.apiUrl}/get-url?key=${encodeURIComponent(key)}${extra}`, d.region, d);
  expect([res.status, res.body]).toEqual([200, expect.any(String)]);
  return res.json<Minted>();
}

function calls(op: string): number {
  return d.services.dynamodb.calls.get(op);
}

/** Uses spent so far, read from the ledger item the way `GET /urls/{id}` reads it. */
async function usesOf(id: string): Promise<number> {
  return linkStatus((await ledgerItem(id))!).uses;
}

async function ledgerItem(id: string) {
  const client = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint });
  try {
    return (await client.send(new GetItemCommand({ TableName: d.tableName, Key: { id: { S: id } }, ConsistentRead: true }))).Item;
  } finally {
    client.destroy();
  }
}

describe('local deployment, end to end', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'report.pdf': CONTENT, [UNICODE_KEY]: 'unicode bytes' } });
  });
  afterAll(async () => d?.close());

  describe('minting', () => {
    it('returns a token URL on the distribution: the key\'s path, the link id and its parameters, no signature', async () => {
      const link = await mint('report.pdf');
      const url = new URL(link.url);
      expect(`${url.protocol}//${url.host}`).toBe(d.distributionUrl);
      expect(url.pathname).toBe('/report.pdf');
      expect([...url.searchParams.keys()]).toEqual(['x-link-id', 'x-link-exp', 'x-link-window', 'x-link-size']);
      expect(url.searchParams.get(LINK_ID_PARAM)).toBe(link.id);
      expect(link.url).not.toMatch(/X-Amz-|x-origin-verify/i);
      expect(Number(url.searchParams.get('x-link-exp')) * 1000).toBe(Date.parse(link.expiresAt));
      // The ledger holds the key, a fingerprint and counters.
      const item = await ledgerItem(link.id);
      expect(item).toMatchObject({ objectKey: { S: 'report.pdf' }, maxUses: { N: '1' }, cap: { N: '1' }, sessions: { M: {} }, revoked: { BOOL: false } });
    });

    it('gives two links for the same key in the same second different ids', async () => {
      const [a, b] = await Promise.all([mint('report.pdf'), mint('report.pdf')]);
      expect(a.id).not.toBe(b.id);
      expect(a.url).not.toBe(b.url);
      expect((await http(a.url)).status).toBe(200);
      expect((await http(b.url)).status).toBe(200);
    });

    it('refuses unsigned and wrongly signed mint requests, issuing nothing', async () => {
      const writes = calls('PutItem');
      const url = `${d.apiUrl}/get-url?key=report.pdf`;
      expect((await callApi(url, d.region, undefined)).status).toBe(403);
      expect((await callApi(url, d.region, { accessKeyId: d.accessKeyId, secretAccessKey: 'not-the-secret' })).status).toBe(403);
      expect((await callApi(url, d.region, { accessKeyId: 'AKIAEXAMPLEEXAMPLE00', secretAccessKey: d.secretAccessKey })).status).toBe(403);
      expect(calls('PutItem')).toBe(writes);
    });

    it('answers 404 for an object that does not exist, writing nothing', async () => {
      const writes = calls('PutItem');
      const res = await callApi(`${d.apiUrl}/get-url?key=missing.pdf`, d.region, d);
      expect(res.status).toBe(404);
      expect(res.json()).toEqual({ error: 'object not found', key: 'missing.pdf' });
      expect(calls('PutItem')).toBe(writes);
    });
  });

  describe('redeeming', () => {
    it('serves the first download with the exact bytes and refuses the second with 403', async () => {
      const link = await mint('report.pdf');
      const first = await http(link.url);
      expect(first.status).toBe(200);
      expect(createHash('sha256').update(first.body).digest('hex')).toBe(createHash('sha256').update(CONTENT).digest('hex'));
      const second = await http(link.url, someoneElse());
      expect(second.status).toBe(403);
      expect(second.headers['cache-control']).toBe('no-store');
      expect(second.text()).toMatch(/already been used/);
      expect(await usesOf(link.id)).toBe(1);
    });

    it('serves keys with spaces, unicode, plus signs and slashes', async () => {
      const link = await mint(UNICODE_KEY);
      expect(new URL(link.url).pathname).toBe(keyToPath(UNICODE_KEY));
      const res = await http(link.url);
      expect(res.status).toBe(200);
      expect(res.text()).toBe('unicode bytes');
    });

    it.each([200, 500])('lets exactly one of %i concurrent downloads of one link through', async (n) => {
      const link = await mint('report.pdf');
      const logged = jest.spyOn(console, 'error');
      const results = await Promise.all(Array.from({ length: n }, (_, i) => http(link.url, someoneElse(i))));
      const ledgerFailures = logged.mock.calls.map(([line]) => String(line)).filter((line) => line.includes('"stage":"ledger"'));
      logged.mockRestore();
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      // The rest are refused as used (403). On a starved CPU the local DynamoDB, which shares this
      // process, can answer after the edge's request timeout: then the edge fails closed (503) and
      // logs why. A 503 for any other reason (a socket pool too small, say) fails the test.
      expect(statuses.filter((s) => s !== 200 && s !== 403 && s !== 503)).toEqual([]);
      expect(ledgerFailures.filter((line) => !/requestTimeout/.test(line))).toEqual([]);
      expect(statuses.filter((s) => s === 503)).toHaveLength(ledgerFailures.length);
      expect(await usesOf(link.id)).toBe(1);
    });

    it('accepts a reordered query on first use, and refuses reordered or re-encoded replays', async () => {
      const link = await mint('report.pdf');
      const [base, query] = link.url.split('?');
      const reordered = `${base}?${query.split('&').reverse().join('&')}`;
      expect((await http(reordered)).status).toBe(200);
      const reencoded = `${base.replace('/report.pdf', '/%72eport.pdf')}?${query.replace('x-link-id', 'x-link-%69d')}`;
      expect((await http(link.url, someoneElse())).status).toBe(403);
      expect((await http(reordered, someoneElse())).status).toBe(403);
      expect((await http(reencoded, someoneElse())).status).toBe(403);
    });

    it('refuses an edited path, expiry, window or size without consuming the real link', async () => {
      const link = await mint('report.pdf');
      const exp = new URL(link.url).searchParams.get('x-link-exp')!;
      const edited = [
        link.url.replace('/report.pdf?', `/${encodeURIComponent(UNICODE_KEY)}?`),
        link.url.replace(`x-link-exp=${exp}`, `x-link-exp=${Number(exp) + 3600}`),
        link.url.replace('x-link-window=1800', 'x-link-window=86400'),
        link.url.replace(/x-link-size=\d+/, 'x-link-size=1'),
        `${link.url}&x-link-page=1`,
      ];
      for (const url of edited) expect([url, (await http(url)).status]).toEqual([url, 403]);
      expect(await usesOf(link.id)).toBe(0);
      expect((await http(link.url)).status).toBe(200);
    });

    it('refuses HEAD without consuming the link', async () => {
      const link = await mint('report.pdf');
      const updates = calls('UpdateItem');
      expect((await http(link.url, { method: 'HEAD' })).status).toBe(403);
      expect(calls('UpdateItem')).toBe(updates);
      expect((await http(link.url)).status).toBe(200);
    });

    it('refuses an expired link without a ledger write', async () => {
      const link = await mint('report.pdf', '&expiresInSeconds=1');
      await new Promise((r) => setTimeout(r, 2100));
      const updates = calls('UpdateItem');
      const res = await http(link.url);
      expect(res.status).toBe(403);
      expect(res.text()).toMatch(/expired/);
      expect(calls('UpdateItem')).toBe(updates);
      expect(await usesOf(link.id)).toBe(0);
    });

    it('refuses a well-formed link that was never issued, creating no ledger item', async () => {
      const link = await mint('report.pdf');
      const forged = link.url.replace(link.id, 'ZZZZZZZZZZZZZZZZZZZZZZ');
      expect((await http(forged)).status).toBe(403);
      expect(await ledgerItem('ZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
    });

    it('answers malformed paths and queries with 403, never 5xx, and never touches the ledger', async () => {
      const link = await mint('report.pdf');
      const query = link.url.split('?')[1];
      const updates = calls('UpdateItem');
      const hostile = [
        '/', '/report.pdf', '/report.pdf?', '/%ZZ?' + query, '/%C3%28?' + query, '/report.pdf?X-Amz-Signature=zz', '/report.pdf?x-link-id=zz',
        `/report.pdf?${query}&${query}`, `/report.pdf?${'a'.repeat(10_000)}`, `/${'k'.repeat(5000)}?${query}`,
        '/report.pdf?=&&&==', `/report.pdf?${query.replace(/x-link-exp=\d+/, 'x-link-exp=20261399')}`,
      ];
      for (const rawPath of hostile) {
        const res = await http(d.distributionUrl, { rawPath });
        expect([rawPath, res.status]).toEqual([rawPath, 403]);
      }
      expect(calls('UpdateItem')).toBe(updates);
    });
  });

  describe('the origin', () => {
    it('refuses a link replayed straight at S3, with or without the bucket host: a link is no signature', async () => {
      const link = await mint('report.pdf');
      const path = `/${d.bucket}${rawPathOf(link.url)}`;
      const direct = await http(`${d.originUrl}${path}`);
      expect(direct.status).toBe(403);
      const virtualHosted = await http(`${d.originUrl}${rawPathOf(link.url)}`, { headers: { host: d.originHost } });
      expect([virtualHosted.status, /AccessDenied/.test(virtualHosted.text())]).toEqual([403, true]);
      // The link itself is untouched by the attempts.
      expect((await http(link.url)).status).toBe(200);
    });

    it('never serves another object than the one the link was minted for, whatever the URL says', async () => {
      const link = await mint('report.pdf');
      // The path is only a file name: edited to another existing key, the link matches nothing.
      const other = await http(link.url.replace('/report.pdf?', `${keyToPath(UNICODE_KEY)}?`));
      expect(other.status).toBe(403);
      expect(other.text()).not.toContain('unicode bytes');
      const res = await http(link.url);
      expect([res.status, res.body.equals(CONTENT)]).toEqual([200, true]);
    });
  });

  describe('failing closed', () => {
    it('answers 503 itself, before CloudFront\'s timeout, when DynamoDB hangs, then recovers', async () => {
      const link = await mint('report.pdf');
      d.services.dynamodb.fault.set({ mode: 'hang', operations: ['UpdateItem'] });
      try {
        const res = await http(link.url);
        expect(res.status).toBe(503);
        // Our generated response, not the local CloudFront's "function timed out" page.
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.text()).toMatch(/temporarily unavailable/);
      } finally {
        d.services.dynamodb.fault.clear();
      }
      expect((await http(link.url)).status).toBe(200);
    });

    it('answers 503 and lets nothing through when DynamoDB throttles, then serves once', async () => {
      const link = await mint('report.pdf');
      d.services.dynamodb.fault.set({ mode: 'throttle', operations: ['UpdateItem'] });
      try {
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => http(link.url, someoneElse(i))));
        expect(results.map((r) => r.status)).toEqual(Array(20).fill(503));
      } finally {
        d.services.dynamodb.fault.clear();
      }
      const after = await Promise.all(Array.from({ length: 20 }, (_, i) => http(link.url, someoneElse(i))));
      expect(after.filter((r) => r.status === 200)).toHaveLength(1);
    });
  });
});

describe('a mint API opened with publicApi', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'report.pdf': CONTENT }, publicApi: true });
  });
  afterAll(async () => d?.close());

  it('mints without a signature', async () => {
    expect((await http(`${d.apiUrl}/get-url?key=report.pdf`)).status).toBe(200);
  });

  it.each([
    ['a missing key', '', 'key'],
    ['an empty key', 'key=', 'key'],
    ['a repeated key', 'key=a&key=b', 'query'],
    ['a key over 1024 bytes', `key=${encodeURIComponent('é'.repeat(513))}`, 'key'],
    ['a key that is not UTF-8', 'key=%C3%28', 'query'],
    ['a malformed escape', 'key=%E0%A4%A', 'query'],
    ['a lifetime over the maximum', 'key=report.pdf&expiresInSeconds=3601', 'expiresInSeconds'],
    ['a lifetime that is not a number', 'key=report.pdf&expiresInSeconds=soon', 'expiresInSeconds'],
    ['a key with a ".." segment (browsers would resolve it away)', 'key=a%2F..%2Freport.pdf', 'key'],
    ['a key with a "." segment', 'key=.%2Freport.pdf', 'key'],
  ])('answers 400 naming the field for %s, writing nothing', async (_name, query, field) => {
    const writes = calls('PutItem');
    const res = await http(`${d.apiUrl}/get-url?${query}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text())).toMatchObject({ field, error: expect.any(String) });
    expect(calls('PutItem')).toBe(writes);
  });
});

describe('an edge container whose SSM parameter cannot be read', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'report.pdf': CONTENT } });
  });
  afterAll(async () => d?.close());

  it('still serves downloads: SSM is never on the request path', async () => {
    const links = await Promise.all([mint('report.pdf'), mint('report.pdf')]);
    d.services.awsJson.fault.set({ mode: 'hang', operations: ['GetParameter'] });
    try {
      const res = await http(links[0].url);
      expect(res.status).toBe(200);
      expect(res.body.equals(CONTENT)).toBe(true);
      d.services.awsJson.fault.set({ mode: 'throttle', operations: ['GetParameter'] });
      expect((await http(links[1].url)).status).toBe(200);
      expect((await http(links[1].url, someoneElse())).status).toBe(403);
    } finally {
      d.services.awsJson.fault.clear();
    }
  });
});
