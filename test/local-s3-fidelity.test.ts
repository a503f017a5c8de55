// The local S3 must read paths, query strings and ranges exactly as Amazon S3 does, or it
// hides bugs a real bucket would show. Sources for each behaviour are cited in
// local/servers/sigv4.ts (canonicalUri, parseQuery) and local/servers/s3.ts (parseRange,
// amzRequestIds, faultResponder, the SSE header).
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpRequest } from '@smithy/protocol-http';
import { canonicalUri, type LocalS3, type OriginFaultKind, parseQuery, startS3 } from '../local/servers';
import { keyPath, queryString, type RawResponse, rfc3986, send } from './util/raw-http';

/** A GET that resolves what happened: an answer, a reset, or nothing within `ms` (the request is then abandoned). */
function getWithin(endpoint: string, path: string, headers: Record<string, string>, ms: number): Promise<RawResponse | 'reset' | 'no answer'> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(ms, () => {
      resolve('no answer');
      req.destroy();
    });
    req.on('error', () => resolve('reset'));
    req.end();
  });
}

function xmlField(res: RawResponse, name: string): string | undefined {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(res.body.toString('utf8'));
  return m?.[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Space-separated hex bytes, as S3 writes them, back to text. */
function fromHexBytes(hex: string): string {
  return Buffer.from(hex.split(' ').map((b) => parseInt(b, 16))).toString('utf8');
}

describe('local S3 reads requests exactly as Amazon S3 does', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-fidelity-bucket';
  const credentials = { accessKeyId: 'AKIAFIDELITY', secretAccessKey: 'fidelity-secret-key' };
  const SECRET = 'origin-verify-secret-value';
  const SPACED = { key: 'docs/a b.txt', body: Buffer.from('the object whose key has a space') };
  const PLUS = { key: 'docs/a+b.txt', body: Buffer.from('the object whose key has a plus') };
  const TILDE = { key: 'docs/tilde~key.bin', body: randomBytes(512) };
  const RANGED = { key: 'docs/range.bin', body: Buffer.from(Array.from({ length: 100 }, (_, i) => i)) };
  const EMPTY = { key: 'docs/empty.bin', body: Buffer.alloc(0) };
  let s3: LocalS3;
  let client: S3Client;

  /** A presigned GET the way the mint signs one: regional host, x-origin-verify signed, x-link-id in the query. */
  const presign = async (key: string, opts: { method?: string; query?: Record<string, string> } = {}): Promise<string> => {
    const presigner = new S3RequestPresigner({ region, credentials, sha256: Sha256 });
    const signed = await presigner.presign(new HttpRequest({
      method: opts.method ?? 'GET',
      protocol: 'https:',
      hostname: s3.regionalHost,
      path: keyPath(key),
      headers: { 'host': s3.regionalHost, 'x-origin-verify': SECRET },
      query: opts.query ?? { 'x-link-id': 'abc' },
    }), { expiresIn: 300 });
    return `${signed.path}?${queryString(signed.query ?? {})}`;
  };

  /** As the local CloudFront sends it: to the front's port, Host = the origin host, the secret header added. */
  const viaOrigin = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> =>
    send(s3.endpoint, { method, path, headers: { 'host': s3.regionalHost, 'x-origin-verify': SECRET, ...headers } });

  /** Swaps the path of a presigned URL, keeping its query. */
  const withPath = (presigned: string, path: string): string => `${path}${presigned.slice(presigned.indexOf('?'))}`;

  beforeAll(async () => {
    s3 = await startS3({ region, bucket, credentials });
    client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region,
      credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true }),
    });
    for (const object of [SPACED, PLUS, TILDE, RANGED, EMPTY]) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: object.body }));
    }
  });

  afterAll(async () => {
    client.destroy();
    await s3.close();
  });

  beforeEach(() => {
    s3.forwarded.reset();
  });

  describe('the path', () => {
    test('the canonical URI is the decoded key encoded once: + is a space, hex case and ~ vs %7E do not matter', () => {
      expect(canonicalUri('/docs/a+b.txt')).toBe('/docs/a%20b.txt');
      expect(canonicalUri('/docs/a%2bb.txt')).toBe('/docs/a%2Bb.txt');
      expect(canonicalUri('/docs/a%2Bb.txt')).toBe('/docs/a%2Bb.txt');
      expect(canonicalUri('/docs/tilde%7ekey')).toBe('/docs/tilde~key');
      expect(canonicalUri('/docs/tilde%7Ekey')).toBe('/docs/tilde~key');
      expect(canonicalUri('/docs/a%2Fb')).toBe('/docs/a/b');
      expect(canonicalUri('/na%c3%afve')).toBe('/na%C3%AFve');
    });

    test('a raw + in the path addresses the key with a space, and the signature over %20 still verifies', async () => {
      const presigned = await presign(SPACED.key);
      expect(presigned.startsWith('/docs/a%20b.txt?')).toBe(true);
      const res = await viaOrigin(withPath(presigned, '/docs/a+b.txt'));
      expect(res.status).toBe(200);
      expect(res.body.equals(SPACED.body)).toBe(true);
    });

    test('a URL presigned for key a+b fails SignatureDoesNotMatch when the + is sent raw', async () => {
      const presigned = await presign(PLUS.key);
      expect(presigned.startsWith('/docs/a%2Bb.txt?')).toBe(true);
      const res = await viaOrigin(withPath(presigned, '/docs/a+b.txt'));
      expect(res.status).toBe(403);
      expect(xmlField(res, 'Code')).toBe('SignatureDoesNotMatch');
      // S3 signs the key it read, "a b.txt", not the one the URL was signed for.
      expect(xmlField(res, 'CanonicalRequest')?.split('\n')[1]).toBe('/docs/a%20b.txt');
      expect(s3.forwarded.total()).toBe(0);
    });

    test.each(['/docs/a%2Bb.txt', '/docs/a%2bb.txt'])('%s verifies and reads the exact bytes of the key with a plus', async (path) => {
      const res = await viaOrigin(withPath(await presign(PLUS.key), path));
      expect(res.status).toBe(200);
      expect(res.body.equals(PLUS.body)).toBe(true);
    });

    test.each(['/docs/tilde~key.bin', '/docs/tilde%7Ekey.bin', '/docs/tilde%7ekey.bin'])('%s verifies and reads the exact bytes of the key with a tilde', async (path) => {
      const presigned = await presign(TILDE.key);
      expect(presigned.startsWith('/docs/tilde~key.bin?')).toBe(true);
      const res = await viaOrigin(withPath(presigned, path));
      expect(res.status).toBe(200);
      expect(res.body.equals(TILDE.body)).toBe(true);
    });

    test('a malformed escape is refused before authentication with 400 "Invalid URI: isHexDigit" and no body', async () => {
      for (const path of ['/docs/a%zzb.txt', '/docs/a%2', '/docs/100%']) {
        const res = await viaOrigin(withPath(await presign(SPACED.key), path));
        expect(res.status).toBe(400);
        expect(res.statusMessage).toBe('Invalid URI: isHexDigit');
        expect(res.body.length).toBe(0);
      }
      expect(s3.forwarded.total()).toBe(0);
    });

    test('escapes that are not UTF-8 are refused with InvalidURI', async () => {
      const res = await viaOrigin(withPath(await presign(SPACED.key), '/docs/%FF.txt'));
      expect(res.status).toBe(400);
      expect(xmlField(res, 'Code')).toBe('InvalidURI');
      expect(s3.forwarded.total()).toBe(0);
    });
  });

  describe('the query string', () => {
    test('S3 decodes + in a query as a space; other services keep it a plus', () => {
      expect(parseQuery('k=a+b%2Bc', true)).toEqual([['k', 'a b+c']]);
      expect(parseQuery('k=a+b%2Bc')).toEqual([['k', 'a+b+c']]);
    });

    test('a value signed as %20 and sent as + verifies', async () => {
      const presigned = await presign(SPACED.key, { query: { 'x-link-id': 'a b' } });
      expect(presigned).toContain('x-link-id=a%20b');
      const res = await viaOrigin(presigned.replace('x-link-id=a%20b', 'x-link-id=a+b'));
      expect(res.status).toBe(200);
      expect(res.body.equals(SPACED.body)).toBe(true);
    });

    test('a value signed as a plus (%2B) fails SignatureDoesNotMatch when the + is sent raw', async () => {
      const presigned = await presign(SPACED.key, { query: { 'x-link-id': 'a+b' } });
      expect(presigned).toContain('x-link-id=a%2Bb');
      const res = await viaOrigin(presigned.replace('x-link-id=a%2Bb', 'x-link-id=a+b'));
      expect(res.status).toBe(403);
      expect(xmlField(res, 'Code')).toBe('SignatureDoesNotMatch');
      expect(xmlField(res, 'CanonicalRequest')?.split('\n')[2]).toContain('x-link-id=a%20b');
      expect(s3.forwarded.total()).toBe(0);
    });

    test('a response override sent with + carries a space, as S3 reads it', async () => {
      const disposition = 'attachment; filename="a b.txt"';
      const presigned = await presign(SPACED.key, { query: { 'x-link-id': 'abc', 'response-content-disposition': disposition } });
      const res = await viaOrigin(presigned.replace(rfc3986(disposition), rfc3986(disposition).replace(/%20/g, '+')));
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toBe(disposition);
    });

    test('a malformed escape in the query is refused like one in the path', async () => {
      const res = await viaOrigin(`${await presign(SPACED.key)}&x-extra=%G1`);
      expect(res.status).toBe(400);
      expect(res.statusMessage).toBe('Invalid URI: isHexDigit');
      expect(s3.forwarded.total()).toBe(0);
    });
  });

  describe('SignatureDoesNotMatch answers as verbosely as S3', () => {
    test('the body shows the canonical request with the signed secret header value, and both as hex bytes', async () => {
      // A correct secret with a tampered parameter: the canonical request S3 prints holds the secret.
      const presigned = await presign(SPACED.key);
      const res = await viaOrigin(presigned.replace('x-link-id=abc', 'x-link-id=abd'));
      expect(res.status).toBe(403);
      const text = res.body.toString('utf8');
      const tags = Array.from(text.matchAll(/<([A-Za-z]+)>/g), (m) => m[1]);
      expect(tags).toEqual([
        'Error', 'Code', 'Message', 'AWSAccessKeyId', 'StringToSign', 'SignatureProvided',
        'StringToSignBytes', 'CanonicalRequest', 'CanonicalRequestBytes', 'RequestId', 'HostId',
      ]);
      const canonical = xmlField(res, 'CanonicalRequest')!;
      // Deliberate: real S3 leaks signed header values here, and the emulator must too.
      expect(canonical).toContain(`\nx-origin-verify:${SECRET}\n`);
      expect(canonical.split('\n').slice(0, 2)).toEqual(['GET', '/docs/a%20b.txt']);
      const canonicalBytes = xmlField(res, 'CanonicalRequestBytes')!;
      expect(canonicalBytes).toMatch(/^[0-9a-f]{2}( [0-9a-f]{2})*$/);
      expect(fromHexBytes(canonicalBytes)).toBe(canonical);
      expect(canonicalBytes).toContain(Buffer.from(SECRET).toString('hex').replace(/(..)(?!$)/g, '$1 '));
      const toSign = xmlField(res, 'StringToSign')!;
      expect(toSign.split('\n')[0]).toBe('AWS4-HMAC-SHA256');
      expect(fromHexBytes(xmlField(res, 'StringToSignBytes')!)).toBe(toSign);
      expect(xmlField(res, 'AWSAccessKeyId')).toBe(credentials.accessKeyId);
      expect(xmlField(res, 'SignatureProvided')).toBe(/X-Amz-Signature=([0-9a-f]+)/.exec(presigned)?.[1]);
    });
  });

  describe('Range on GetObject', () => {
    const size = RANGED.body.length;

    test.each<[string, number, number]>([
      ['bytes=0-1', 0, 1],
      ['bytes=5-', 5, size - 1],
      ['bytes=-3', size - 3, size - 1],
      ['bytes=0-0', 0, 0],
      ['bytes=90-999', 90, size - 1],
      ['bytes=-1000', 0, size - 1],
    ])('%s answers 206 with bytes %i-%i', async (range, first, last) => {
      const res = await viaOrigin(await presign(RANGED.key), { range });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${first}-${last}/${size}`);
      expect(res.headers['content-length']).toBe(String(last - first + 1));
      expect(res.body.equals(RANGED.body.subarray(first, last + 1))).toBe(true);
    });

    test('an unsatisfiable range answers 416 InvalidRange with Content-Range bytes */size', async () => {
      const res = await viaOrigin(await presign(RANGED.key), { range: 'bytes=999999-' });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${size}`);
      expect(xmlField(res, 'Code')).toBe('InvalidRange');
      expect(xmlField(res, 'Message')).toBe('The requested range is not satisfiable');
      expect(xmlField(res, 'RangeRequested')).toBe('bytes=999999-');
      expect(xmlField(res, 'ActualObjectSize')).toBe(String(size));

      const empty = await viaOrigin(await presign(EMPTY.key), { range: 'bytes=0-' });
      expect(empty.status).toBe(416);
      expect(empty.headers['content-range']).toBe('bytes */0');
    });

    test.each(['bytes=0-1,5-6', 'bytes=5-2', 'items=0-1', 'bytes=abc'])('%s is ignored: 200 with the whole object', async (range) => {
      const res = await viaOrigin(await presign(RANGED.key), { range });
      expect(res.status).toBe(200);
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.headers['content-length']).toBe(String(size));
      expect(res.body.equals(RANGED.body)).toBe(true);
    });

    test('the SDK gets ranges through header auth too, for GetObject and HeadObject', async () => {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: RANGED.key, Range: 'bytes=-3' }));
      expect(got.ContentRange).toBe(`bytes ${size - 3}-${size - 1}/${size}`);
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(RANGED.body.subarray(size - 3))).toBe(true);
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: RANGED.key, Range: 'bytes=10-19' }));
      expect(head.ContentLength).toBe(10);
      expect(head.ContentRange).toBe(`bytes 10-19/${size}`);
    });
  });

  describe('what S3 sends with every object', () => {
    const META = { key: 'docs/with-metadata.txt', body: Buffer.from('an object with user metadata') };

    beforeAll(async () => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: META.key, Body: META.body, Metadata: { owner: 'alice', purpose: 'fidelity' } }));
    });

    test.each(['GET', 'HEAD'])('%s: x-amz-request-id, x-amz-id-2, x-amz-server-side-encryption AES256 and the user metadata', async (method) => {
      const res = await viaOrigin(await presign(META.key, { method }), {}, method);
      expect(res.status).toBe(200);
      expect(res.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
      expect(res.headers['x-amz-id-2']).toMatch(/^[A-Za-z0-9+/]{40,}={0,2}$/);
      expect(res.headers['x-amz-server-side-encryption']).toBe('AES256');
      expect(res.headers['x-amz-meta-owner']).toBe('alice');
      expect(res.headers['x-amz-meta-purpose']).toBe('fidelity');
      if (method === 'GET') expect(res.body.equals(META.body)).toBe(true);
    });

    test('a range GET carries them too; each response has its own request ids', async () => {
      const presigned = await presign(META.key);
      const [a, b] = [await viaOrigin(presigned, { range: 'bytes=0-1' }), await viaOrigin(presigned)];
      expect(a.status).toBe(206);
      expect(a.headers['x-amz-server-side-encryption']).toBe('AES256');
      expect(a.headers['x-amz-meta-owner']).toBe('alice');
      expect(a.headers['x-amz-request-id']).not.toBe(b.headers['x-amz-request-id']);
      expect(a.headers['x-amz-id-2']).not.toBe(b.headers['x-amz-id-2']);
    });

    test('errors carry the ids (the body repeats them as RequestId and HostId) and no encryption header', async () => {
      const missing = await viaOrigin(await presign('docs/missing.txt'));
      expect(missing.status).toBe(404);
      expect(missing.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);
      expect(missing.headers['x-amz-id-2']).toBeDefined();
      expect(missing.headers['x-amz-server-side-encryption']).toBeUndefined();
      const denied = await viaOrigin((await presign(META.key)).replace('x-link-id=abc', 'x-link-id=abd'));
      expect(denied.status).toBe(403);
      expect(xmlField(denied, 'RequestId')).toBe(denied.headers['x-amz-request-id']);
      expect(xmlField(denied, 'HostId')).toBe(denied.headers['x-amz-id-2']);
    });
  });

  describe('origin faults: the first GET of a key fails, later ones are served', () => {
    const FAULTY = { key: 'docs/faulty object.txt', body: Buffer.from('served after the fault') };
    const GET_WITHIN_MS = 500;

    beforeAll(async () => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: FAULTY.key, Body: FAULTY.body }));
    });

    const get = async (): Promise<RawResponse | 'reset' | 'no answer'> =>
      getWithin(s3.endpoint, await presign(FAULTY.key), { 'host': s3.regionalHost, 'x-origin-verify': SECRET }, GET_WITHIN_MS);

    const expectServed = (res: RawResponse | 'reset' | 'no answer'): void => {
      expect(typeof res === 'string' ? res : [res.status, res.body.toString()]).toEqual([200, FAULTY.body.toString()]);
    };

    test.each<[OriginFaultKind, number, string, string]>([
      ['500', 500, 'InternalError', 'We encountered an internal error. Please try again.'],
      ['503', 503, 'SlowDown', 'Please reduce your request rate.'],
    ])('%s: S3\'s XML error, with its request ids', async (kind, status, code, message) => {
      s3.injectOriginFault(FAULTY.key, kind);
      const failed = await get() as RawResponse;
      expect(failed.status).toBe(status);
      expect(failed.headers['content-type']).toBe('application/xml');
      expect(xmlField(failed, 'Code')).toBe(code);
      expect(xmlField(failed, 'Message')).toBe(message);
      expect(xmlField(failed, 'RequestId')).toBe(failed.headers['x-amz-request-id']);
      expect(xmlField(failed, 'HostId')).toBe(failed.headers['x-amz-id-2']);
      expect(s3.forwarded.get('GetObject')).toBe(0);
      expectServed(await get());
    });

    test('reset: the connection is destroyed without an answer', async () => {
      s3.injectOriginFault(FAULTY.key, 'reset');
      expect(await get()).toBe('reset');
      expectServed(await get());
    });

    test('timeout: the request is read and never answered', async () => {
      s3.injectOriginFault(FAULTY.key, 'timeout');
      expect(await get()).toBe('no answer');
      expectServed(await get());
    });

    test('faults queue per key; other keys, HEADs and refused GETs do not take them', async () => {
      s3.injectOriginFault(FAULTY.key, '503');
      s3.injectOriginFault(FAULTY.key, 'reset');
      // Another key, a HEAD, and a GET that S3 refuses before serving it: none meets the fault.
      expect((await viaOrigin(await presign(SPACED.key))).status).toBe(200);
      expect((await viaOrigin(await presign(FAULTY.key, { method: 'HEAD' }), {}, 'HEAD')).status).toBe(200);
      expect((await viaOrigin((await presign(FAULTY.key)).replace('x-link-id=abc', 'x-link-id=abd'))).status).toBe(403);
      expect(await get()).toMatchObject({ status: 503 });
      expect(await get()).toBe('reset');
      expectServed(await get());
    });

    test('an unknown kind is refused', () => {
      expect(() => s3.injectOriginFault(FAULTY.key, 'teapot' as OriginFaultKind)).toThrow(/origin fault must be one of 500, 503, reset, timeout/);
    });

    test('startS3({ originFaults }) arms faults from the start, one kind or a list per key', async () => {
      const other = await startS3({ region, bucket, credentials, originFaults: { [FAULTY.key]: ['500', '503'], [SPACED.key]: 'reset' } });
      const otherClient = new S3Client({ endpoint: other.endpoint, forcePathStyle: true, region, credentials, maxAttempts: 1 });
      try {
        for (const object of [FAULTY, SPACED]) await otherClient.send(new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: object.body }));
        const at = async (key: string) => getWithin(other.endpoint, await presign(key), { 'host': other.regionalHost, 'x-origin-verify': SECRET }, GET_WITHIN_MS);
        expect(await at(FAULTY.key)).toMatchObject({ status: 500 });
        expect(await at(FAULTY.key)).toMatchObject({ status: 503 });
        expectServed(await at(FAULTY.key));
        expect(await at(SPACED.key)).toBe('reset');
        expect(await at(SPACED.key)).toMatchObject({ status: 200 });
      } finally {
        otherClient.destroy();
        await other.close();
      }
    });
  });
});
