// The local CloudFront must send the origin what CloudFront sends an S3 origin when the
// origin request policy includes no viewer headers and caching is disabled, or it hides
// what a real distribution does to ranges and conditional requests. Sources are cited at
// rangeToForward in local/cloudfront.ts, and for origin failures (no response: 502, 504,
// retries, no origin-response trigger) at ORIGIN_RESPONSE_TIMEOUT_MS, forwardToOrigin and
// sendOriginError. The viewer-request function here passes every request through, so what
// is pinned is CloudFront's part alone.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import type { CloudFrontRequest, CloudFrontRequestEvent, CloudFrontResponseEvent } from 'aws-lambda';
import { type LocalCloudFront, type OriginResponseHandler, startLocalCloudFront, type ViewerRequestHandler } from '../local/cloudfront';
import { type LocalS3, startS3 } from '../local/servers';
import { http, type HttpResult } from './util/http';

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
}

/** An origin that records each request it gets and answers 200 "ok". */
async function startRecordingOrigin(): Promise<{ endpoint: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders] });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end(req.method === 'HEAD' ? undefined : 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** An origin that sends its status, headers and half of a 10-byte body, then resets the connection. */
async function startTruncatingOrigin(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 10 });
    res.write('01234', () => setTimeout(() => res.socket?.destroy(), 50));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The header lines an origin got, as [lowercased name, value], without Connection (hop-by-hop, Node's own). */
function headerLines(recorded: Recorded): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  for (let i = 0; i + 1 < recorded.rawHeaders.length; i += 2) {
    const name = recorded.rawHeaders[i].toLowerCase();
    if (name !== 'connection') lines.push([name, recorded.rawHeaders[i + 1]]);
  }
  return lines;
}

describe('local CloudFront forwards to an S3 origin what CloudFront does (origin request policy: no headers; caching disabled)', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-cloudfront-fidelity';
  const credentials = { accessKeyId: 'AKIACFFIDELITY', secretAccessKey: 'cloudfront-fidelity-secret' };
  const SECRET = 'origin-verify-secret-value';
  const KEY = 'docs/ten-bytes.bin';
  const BODY = Buffer.from('0123456789');
  /** Headers CloudFront sends every origin request (plus the origin custom header), viewer's or not. */
  const ALWAYS_SENT = ['host', 'user-agent', 'via', 'x-amz-cf-id', 'x-origin-verify'];
  /** Every conditional header a viewer might send; none of them reaches the origin. */
  const CONDITIONALS: Record<string, string> = {
    'if-range': '"0123456789abcdef0123456789abcdef"',
    'if-match': '"0123456789abcdef0123456789abcdef"',
    'if-none-match': '"0123456789abcdef0123456789abcdef"',
    'if-modified-since': 'Sat, 01 Jan 2000 00:00:00 GMT',
    'if-unmodified-since': 'Sat, 01 Jan 2000 00:00:00 GMT',
  };

  let s3: LocalS3;
  let client: S3Client;
  let recorder: Awaited<ReturnType<typeof startRecordingOrigin>>;
  let cf: LocalCloudFront;
  let cfWithOriginResponse: LocalCloudFront;
  let cfToRecorder: LocalCloudFront;
  /** Origin response timeout of 300 ms, one attempt, with the origin-response trigger. */
  let cfOneAttempt: LocalCloudFront;
  /** Origin response timeout of 300 ms, CloudFront's three attempts, with the origin-response trigger. */
  let cfThreeAttempts: LocalCloudFront;
  let truncating: Awaited<ReturnType<typeof startTruncatingOrigin>>;
  let cfToTruncating: LocalCloudFront;
  let cfToTruncatingWithTrigger: LocalCloudFront;
  let cfAddressed: LocalCloudFront;
  /** The viewerAddress hook of cfAddressed, per test. */
  let viewerAddress: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? '';
  let etag: string;
  const viewerEvents: CloudFrontRequestEvent[] = [];
  const originResponseEvents: CloudFrontResponseEvent[] = [];
  /** What the viewer-request function does to the request before returning it: nothing, unless a test says so. */
  let rewrite: (request: CloudFrontRequest) => CloudFrontRequest = (request) => request;

  const passThrough: ViewerRequestHandler = async (event) => {
    viewerEvents.push(JSON.parse(JSON.stringify(event)) as CloudFrontRequestEvent);
    return rewrite(event.Records[0].cf.request);
  };
  const originResponsePassThrough: OriginResponseHandler = async (event) => {
    originResponseEvents.push(JSON.parse(JSON.stringify(event)) as CloudFrontResponseEvent);
    return event.Records[0].cf.response;
  };

  /** A presigned GET as the mint signs one: regional host, x-origin-verify signed. Path and query, raw. */
  const presign = async (key: string): Promise<string> => {
    const presigner = new S3RequestPresigner({ region, credentials, sha256: Sha256 });
    const signed = await presigner.presign(new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: s3.regionalHost,
      path: '/' + key.split('/').map(rfc3986).join('/'),
      headers: { 'host': s3.regionalHost, 'x-origin-verify': SECRET },
      query: { 'x-link-id': 'fidelity' },
    }), { expiresIn: 300 });
    const query = Object.entries(signed.query ?? {}).map(([name, value]) => `${rfc3986(name)}=${rfc3986(String(value))}`).join('&');
    return `${signed.path}?${query}`;
  };

  /** The presigned GET through a local CloudFront, as a viewer sends it (from `localAddress` if given). */
  const viaCloudFront = async (
    front: LocalCloudFront,
    headers: Record<string, string> = {},
    opts: { method?: string; localAddress?: string } = {},
  ): Promise<HttpResult> => http(`${front.url}${await presign(KEY)}`, { headers, ...opts });

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
    });
    etag = (await client.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: BODY }))).ETag ?? '';
    const origin = { originEndpoint: s3.endpoint, originHost: s3.regionalHost, originCustomHeaders: { 'x-origin-verify': SECRET } };
    cf = await startLocalCloudFront({ handler: passThrough, ...origin });
    cfWithOriginResponse = await startLocalCloudFront({ handler: passThrough, originResponseHandler: originResponsePassThrough, ...origin });
    recorder = await startRecordingOrigin();
    cfToRecorder = await startLocalCloudFront({
      handler: passThrough,
      originEndpoint: recorder.endpoint,
      originHost: s3.regionalHost,
      originCustomHeaders: { 'x-origin-verify': SECRET },
    });
    const failing = { handler: passThrough, originResponseHandler: originResponsePassThrough, ...origin, originResponseTimeoutMs: 300 };
    cfOneAttempt = await startLocalCloudFront({ ...failing, originConnectionAttempts: 1 });
    cfThreeAttempts = await startLocalCloudFront(failing);
    truncating = await startTruncatingOrigin();
    cfToTruncating = await startLocalCloudFront({ ...origin, handler: passThrough, originEndpoint: truncating.endpoint });
    cfToTruncatingWithTrigger = await startLocalCloudFront({
      ...origin, handler: passThrough, originResponseHandler: originResponsePassThrough, originEndpoint: truncating.endpoint,
    });
    cfAddressed = await startLocalCloudFront({ handler: passThrough, ...origin, viewerAddress: (req) => viewerAddress(req) });
  });

  afterAll(async () => {
    const fronts = [cf, cfWithOriginResponse, cfToRecorder, cfOneAttempt, cfThreeAttempts, cfToTruncating, cfToTruncatingWithTrigger, cfAddressed];
    for (const front of fronts) await front?.close();
    await recorder?.close();
    await truncating?.close();
    client?.destroy();
    await s3?.close();
  });

  beforeEach(() => {
    viewerEvents.length = 0;
    originResponseEvents.length = 0;
    recorder.requests.length = 0;
    rewrite = (request) => request;
    s3.calls.reset();
  });

  test('the object is there, signed for the origin: without Range it is 200 with the whole body', async () => {
    const res = await viaCloudFront(cf);
    expect(res.status).toBe(200);
    expect(res.body.equals(BODY)).toBe(true);
    expect(res.headers['content-range']).toBeUndefined();
  });

  describe('Range on a GET reaches S3, which answers the range', () => {
    test.each([
      ['bytes=0-1', 0, 1],
      ['bytes=5-', 5, 9],
      ['bytes=-3', 7, 9],
      ['bytes=9-9', 9, 9],
      ['bytes=3-100', 3, 9],
    ])('%s answers 206 with Content-Range and the exact bytes', async (range, first, last) => {
      const res = await viaCloudFront(cf, { Range: range });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${first}-${last}/${BODY.length}`);
      expect(res.headers['content-length']).toBe(String(last - first + 1));
      expect(res.body.equals(BODY.subarray(first, last + 1))).toBe(true);
    });

    test('the viewer-request function sees the Range the viewer sent, as sent', async () => {
      await viaCloudFront(cf, { Range: 'bytes=0-1' });
      expect(viewerEvents).toHaveLength(1);
      expect(viewerEvents[0].Records[0].cf.request.headers.range).toEqual([{ key: 'Range', value: 'bytes=0-1' }]);
    });

    test.each(['bytes=10-', 'bytes=100-200'])('an unsatisfiable %s answers 416 from S3', async (range) => {
      const res = await viaCloudFront(cf, { Range: range });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${BODY.length}`);
      expect(res.text()).toContain('<Code>InvalidRange</Code>');
    });

    test('several ranges go as written, and S3 answers the whole object (it serves one range per GET)', async () => {
      const res = await viaCloudFront(cf, { Range: 'bytes=0-1,5-6' });
      expect(res.status).toBe(200);
      expect(res.body.equals(BODY)).toBe(true);
    });

    test('CloudFront forwards the Range the function returned: a rewritten one is what S3 answers', async () => {
      rewrite = (request) => ({ ...request, headers: { ...request.headers, range: [{ key: 'Range', value: 'bytes=2-3' }] } });
      const res = await viaCloudFront(cf, { Range: 'bytes=0-1' });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes 2-3/${BODY.length}`);
      expect(res.body.equals(BODY.subarray(2, 4))).toBe(true);
      // The function read the viewer's own.
      expect(viewerEvents[0].Records[0].cf.request.headers.range).toEqual([{ key: 'Range', value: 'bytes=0-1' }]);
    });

    test('a Range the function removed is not forwarded: S3 answers the whole object', async () => {
      rewrite = (request) => {
        const { range: _removed, ...headers } = request.headers;
        return { ...request, headers };
      };
      const res = await viaCloudFront(cf, { Range: 'bytes=0-1' });
      expect(res.status).toBe(200);
      expect(res.body.equals(BODY)).toBe(true);
    });

    test('a Range the function added is forwarded too', async () => {
      rewrite = (request) => ({ ...request, headers: { ...request.headers, range: [{ key: 'Range', value: 'bytes=-2' }] } });
      const res = await viaCloudFront(cf);
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes 8-9/${BODY.length}`);
      expect(res.body.equals(BODY.subarray(8))).toBe(true);
    });
  });

  describe('what reaches the origin, header by header', () => {
    test('a GET with Range and every conditional header: the origin gets the Range, exactly, and none of the others', async () => {
      const res = await viaCloudFront(cfToRecorder, {
        'Range': 'bytes=0-1,5-6',
        ...CONDITIONALS,
        'Accept': 'application/octet-stream',
        'Cookie': 'session=abc',
        'Authorization': 'Bearer abc',
        'X-Forwarded-For': '203.0.113.9',
        'Origin': 'https://example.com',
      });
      expect(res.status).toBe(200);
      expect(recorder.requests).toHaveLength(1);
      const lines = headerLines(recorder.requests[0]);
      expect(lines.map(([name]) => name).sort()).toEqual([...ALWAYS_SENT, 'range'].sort());
      expect(lines.filter(([name]) => name === 'range')).toEqual([['range', 'bytes=0-1,5-6']]);
      expect(Object.fromEntries(lines)).toMatchObject({ 'host': s3.regionalHost, 'user-agent': 'Amazon CloudFront', 'x-origin-verify': SECRET });
    });

    test('a GET without Range: the origin gets only what CloudFront always sends', async () => {
      await viaCloudFront(cfToRecorder, CONDITIONALS);
      expect(headerLines(recorder.requests[0]).map(([name]) => name).sort()).toEqual([...ALWAYS_SENT].sort());
    });

    test('a HEAD with Range: the Range is not forwarded (a range GET is what CloudFront forwards)', async () => {
      const res = await viaCloudFront(cfToRecorder, { Range: 'bytes=0-1' }, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(recorder.requests[0].method).toBe('HEAD');
      expect(headerLines(recorder.requests[0]).map(([name]) => name).sort()).toEqual([...ALWAYS_SENT].sort());
    });

    test('If-None-Match with the current ETag: S3 would answer 304, but it never sees it, so the viewer gets 200 and the body', async () => {
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      // S3 itself honours it...
      const direct = await http(`${s3.endpoint}${await presign(KEY)}`, { headers: { 'host': s3.regionalHost, 'x-origin-verify': SECRET, 'if-none-match': etag } });
      expect(direct.status).toBe(304);
      // ...CloudFront does not forward it.
      const res = await viaCloudFront(cf, { 'If-None-Match': etag });
      expect(res.status).toBe(200);
      expect(res.body.equals(BODY)).toBe(true);
    });

    test('If-Modified-Since after the upload: S3 would answer 304, but through CloudFront it is 200 and the body', async () => {
      const later = new Date(Date.now() + 3600_000).toUTCString();
      const direct = await http(`${s3.endpoint}${await presign(KEY)}`, { headers: { 'host': s3.regionalHost, 'x-origin-verify': SECRET, 'if-modified-since': later } });
      expect(direct.status).toBe(304);
      const res = await viaCloudFront(cf, { 'If-Modified-Since': later });
      expect(res.status).toBe(200);
      expect(res.body.equals(BODY)).toBe(true);
    });

    test('Range with an If-Range that no longer matches: If-Range is dropped, so the range of the current object is served', async () => {
      const res = await viaCloudFront(cf, { 'Range': 'bytes=0-1', 'If-Range': '"00000000000000000000000000000000"' });
      expect(res.status).toBe(206);
      expect(res.body.equals(BODY.subarray(0, 2))).toBe(true);
    });
  });

  describe('the viewer-request event', () => {
    test.each(['127.0.0.2', '127.0.0.3'])('clientIp is the address the viewer sent from (%s), from the TCP connection', async (address) => {
      const res = await viaCloudFront(cf, {}, { localAddress: address });
      expect(res.status).toBe(200);
      expect(viewerEvents).toHaveLength(1);
      expect(viewerEvents[0].Records[0].cf.request.clientIp).toBe(address);
    });

    test('an X-Forwarded-For the viewer sends does not change clientIp', async () => {
      await viaCloudFront(cf, { 'X-Forwarded-For': '203.0.113.9' }, { localAddress: '127.0.0.2' });
      expect(viewerEvents[0].Records[0].cf.request.clientIp).toBe('127.0.0.2');
    });

    test('a viewerAddress hook decides clientIp per request: an address may change mid-download', async () => {
      const seen: string[] = [];
      const addresses = ['203.0.113.7', '2001:db8::7'];
      viewerAddress = (req) => {
        seen.push(req.socket.remoteAddress ?? '');
        return addresses.shift() ?? 'none left';
      };
      expect((await viaCloudFront(cfAddressed, { Range: 'bytes=0-4' })).status).toBe(206);
      expect((await viaCloudFront(cfAddressed, { Range: 'bytes=5-' })).status).toBe(206);
      expect(viewerEvents.map((e) => e.Records[0].cf.request.clientIp)).toEqual(['203.0.113.7', '2001:db8::7']);
      // The hook gets the viewer's request, its socket included.
      expect(seen).toEqual(['127.0.0.1', '127.0.0.1']);
    });

    test('the viewer\'s Cookie reaches the viewer-request function, as sent, and never the origin', async () => {
      const res = await viaCloudFront(cfToRecorder, { Cookie: 'otp-session=abc; theme=dark' });
      expect(res.status).toBe(200);
      expect(viewerEvents[0].Records[0].cf.request.headers.cookie).toEqual([{ key: 'Cookie', value: 'otp-session=abc; theme=dark' }]);
      expect(headerLines(recorder.requests[0]).map(([name]) => name)).not.toContain('cookie');
    });

    test('the test client only sends from loopback addresses', () => {
      expect(() => http(`${cf.url}/`, { localAddress: '10.0.0.1' })).toThrow(/127\.0\.0\.0\/8/);
    });
  });

  describe('with an origin-response trigger', () => {
    test('a 206 passes through a pass-through origin-response function unchanged', async () => {
      const direct = await viaCloudFront(cf, { Range: 'bytes=5-' });
      const res = await viaCloudFront(cfWithOriginResponse, { Range: 'bytes=5-' });
      expect(res.status).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes 5-9/${BODY.length}`);
      expect(res.headers['content-length']).toBe('5');
      expect(res.body.equals(BODY.subarray(5))).toBe(true);
      for (const name of ['content-range', 'content-length', 'etag', 'accept-ranges', 'content-type', 'last-modified']) {
        expect([name, res.headers[name]]).toEqual([name, direct.headers[name]]);
      }

      expect(originResponseEvents).toHaveLength(1);
      const { request, response } = originResponseEvents[0].Records[0].cf;
      expect(response.status).toBe('206');
      expect(response.headers['content-range']?.map((h) => h.value)).toEqual([`bytes 5-9/${BODY.length}`]);
      // The function sees the origin request as sent: the Range included.
      expect(request.headers.range?.map((h) => h.value)).toEqual(['bytes=5-']);
    });

    test('a 416 passes through it unchanged too', async () => {
      const res = await viaCloudFront(cfWithOriginResponse, { Range: 'bytes=10-' });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${BODY.length}`);
      expect(originResponseEvents[0].Records[0].cf.response.status).toBe('416');
    });
  });
  describe('when the origin fails', () => {
    /** The viewer-request event's requestId, which CloudFront's error page shows. */
    const requestId = (): string => viewerEvents[0].Records[0].cf.config.requestId;

    const expectCloudFrontErrorPage = (res: HttpResult, status: 502 | 504): void => {
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('text/html');
      expect(res.headers['x-cache']).toBe('Error from cloudfront');
      expect(res.text()).toContain(status === 502 ? '<H1>502 ERROR</H1>' : '<H1>504 Gateway Timeout ERROR</H1>');
      expect(res.text()).toContain(`Request ID: ${requestId()}`);
      // Nothing of S3's answer, nor the origin secret.
      expect(res.text()).not.toContain('<Error>');
      expect(res.text()).not.toContain(SECRET);
    };

    test('a reset before any response: 502 with CloudFront\'s page, no retry, no origin-response trigger', async () => {
      s3.injectOriginFault(KEY, 'reset');
      expectCloudFrontErrorPage(await viaCloudFront(cfThreeAttempts), 502);
      expect(s3.calls.get('GetObject')).toBe(1);
      expect(originResponseEvents).toHaveLength(0);
      // The fault was the first GET's only.
      const next = await viaCloudFront(cfThreeAttempts);
      expect([next.status, next.text()]).toEqual([200, BODY.toString()]);
    });

    test('no response within the origin response timeout, with one attempt: 504, no origin-response trigger', async () => {
      s3.injectOriginFault(KEY, 'timeout');
      const started = Date.now();
      expectCloudFrontErrorPage(await viaCloudFront(cfOneAttempt), 504);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(s3.calls.get('GetObject')).toBe(1);
      expect(originResponseEvents).toHaveLength(0);
    });

    test('a GET whose response timed out is tried again (three attempts by default): the viewer gets the object', async () => {
      s3.injectOriginFault(KEY, 'timeout');
      const res = await viaCloudFront(cfThreeAttempts, { Range: 'bytes=0-1' });
      expect(res.status).toBe(206);
      expect(res.body.equals(BODY.subarray(0, 2))).toBe(true);
      // One viewer request and one viewer-request invocation; two GETs at the origin, and the
      // origin-response trigger runs once, on the response that came.
      expect(viewerEvents).toHaveLength(1);
      expect(s3.calls.get('GetObject')).toBe(2);
      expect(originResponseEvents.map((e) => e.Records[0].cf.response.status)).toEqual(['206']);
    });

    test('every attempt timed out: 504 after three GETs at the origin', async () => {
      for (let i = 0; i < 3; i++) s3.injectOriginFault(KEY, 'timeout');
      expectCloudFrontErrorPage(await viaCloudFront(cfThreeAttempts), 504);
      expect(s3.calls.get('GetObject')).toBe(3);
      expect(originResponseEvents).toHaveLength(0);
    });

    test.each<['500' | '503', string]>([['500', 'InternalError'], ['503', 'SlowDown']])(
      'an error status (%s) is a response: the origin-response trigger runs on it, and passes S3\'s answer on here',
      async (kind, code) => {
        s3.injectOriginFault(KEY, kind);
        const res = await viaCloudFront(cfThreeAttempts);
        expect(res.status).toBe(Number(kind));
        expect(res.text()).toContain(`<Code>${code}</Code>`);
        expect(res.headers['x-cache']).toBe('Miss from cloudfront');
        expect(s3.calls.get('GetObject')).toBe(1);
        expect(originResponseEvents).toHaveLength(1);
        expect(originResponseEvents[0].Records[0].cf.response.status).toBe(kind);
        expect(originResponseEvents[0].Records[0].cf.response.headers['x-amz-request-id']).toBeDefined();
      },
    );

    test.each([
      ['without', () => cfToTruncating],
      ['with', () => cfToTruncatingWithTrigger],
    ])('a reset mid-body (after the headers) cuts the viewer\'s connection, %s the origin-response trigger', async (_with, front) => {
      await expect(viaCloudFront(front())).rejects.toThrow(/aborted|ECONNRESET|socket hang up/);
    });
  });
});
