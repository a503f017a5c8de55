// The local CloudFront's request bodies and allowlisted headers (local/cloudfront.ts): a PUT's
// whole body goes to the origin although the viewer-request function saw only its first 40 KB
// ("Lambda@Edge event structure", request body fields; "Restrictions on the request body with
// the include body option"), a `replace` body replaces it, the origin request policy's
// allowlisted headers go as the function left them and no others, and `curl -T` (which sends
// Expect: 100-continue for large bodies) works.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudFrontRequest, CloudFrontRequestEvent } from 'aws-lambda';
import { type LocalCloudFront, startLocalCloudFront } from '../local/cloudfront';
import { type RawResponse, send } from './util/raw-http';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly size: number;
  readonly sha256: string;
  readonly text: string;
}

/** A plain origin on 127.0.0.1 that hashes each body as it streams in. */
async function startOrigin(): Promise<{ endpoint: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    let head = Buffer.alloc(0);
    req.on('data', (c: Buffer) => {
      hash.update(c);
      size += c.length;
      if (head.length < 64) head = Buffer.concat([head, c]).subarray(0, 64);
    });
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, size, sha256: hash.digest('hex'), text: head.toString('utf8') });
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('local CloudFront request bodies and allowlisted headers', () => {
  const originHost = 'otp-bucket.s3.eu-west-1.amazonaws.com';
  let origin: Awaited<ReturnType<typeof startOrigin>>;
  let cf: LocalCloudFront;
  let plain: LocalCloudFront;
  let seen: CloudFrontRequest[];
  let originRequests: CloudFrontRequestEvent[];
  let dir: string;

  /** The viewer-request function: passes the request on, adds headers, and on /replace replaces the body. */
  const viewerRequest = async (event: CloudFrontRequestEvent) => {
    const req = event.Records[0].cf.request;
    seen.push(JSON.parse(JSON.stringify(req)));
    const headers = {
      ...req.headers,
      'if-none-match': [{ key: 'If-None-Match', value: '*' }],
      'x-added-elsewhere': [{ key: 'X-Added-Elsewhere', value: 'not allowlisted' }],
    };
    if (req.uri === '/replace') return { ...req, headers, body: { ...req.body!, action: 'replace' as const, encoding: 'text' as const, data: 'the function\'s body' } };
    return { ...req, headers };
  };

  beforeAll(async () => {
    origin = await startOrigin();
    dir = mkdtempSync(join(tmpdir(), 'cf-bodies-'));
    const common = {
      handler: viewerRequest,
      originEndpoint: origin.endpoint,
      originHost,
      originCustomHeaders: {},
      includeBody: true,
      // Short, so the slow upload below outlasts it: the timeout must start once the body is sent.
      originResponseTimeoutMs: 400,
    };
    cf = await startLocalCloudFront({
      ...common,
      originRequestHeaders: ['Content-Type', 'If-None-Match', 'Expect'],
      originRequestHandler: async (event) => {
        originRequests.push(JSON.parse(JSON.stringify(event)));
        return event.Records[0].cf.request;
      },
    });
    plain = await startLocalCloudFront(common);
  });
  beforeEach(() => {
    seen = [];
    originRequests = [];
    origin.received.length = 0;
  });
  afterAll(async () => {
    await cf.close();
    await plain.close();
    await origin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const put = (base: string, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
    send(base, { method: 'PUT', path, headers: { 'content-type': 'application/pdf', 'x-viewer-other': 'kept back', ...headers }, body });

  it('sends a 5 MB PUT whole to the origin, though the function saw only its first 40 KB', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const res = await put(cf.url, '/uploads/big.bin', body);
    expect(res.status).toBe(200);
    expect(origin.received).toHaveLength(1);
    const got = origin.received[0];
    expect(got.method).toBe('PUT');
    expect(got.size).toBe(body.length);
    expect(got.sha256).toBe(sha256(body));
    expect(got.headers['content-length']).toBe(String(body.length));
    expect(got.headers['transfer-encoding']).toBeUndefined();

    expect(seen[0].body?.inputTruncated).toBe(true);
    expect(seen[0].body?.action).toBe('read-only');
    const exposed = Buffer.from(seen[0].body?.data ?? '', 'base64');
    expect(exposed.length).toBe(40 * 1024);
    expect(exposed.equals(body.subarray(0, 40 * 1024))).toBe(true);
  });

  it('shows a body of 40 KB or less whole, not truncated, and sends it on', async () => {
    const body = randomBytes(40 * 1024);
    expect((await put(cf.url, '/uploads/small.bin', body)).status).toBe(200);
    expect(seen[0].body?.inputTruncated).toBe(false);
    expect(Buffer.from(seen[0].body?.data ?? '', 'base64').equals(body)).toBe(true);
    expect(origin.received[0].sha256).toBe(sha256(body));
  });

  it('sends the function\'s body instead when it returns action replace', async () => {
    const res = await put(cf.url, '/replace', randomBytes(1024 * 1024));
    expect(res.status).toBe(200);
    expect(origin.received[0].text).toBe('the function\'s body');
    expect(origin.received[0].size).toBe(Buffer.byteLength('the function\'s body'));
    expect(origin.received[0].headers['content-length']).toBe(String(Buffer.byteLength('the function\'s body')));
  });

  it('sends the allowlisted headers as the function left them, and no other viewer header', async () => {
    await put(cf.url, '/uploads/headers.bin', Buffer.from('headers'));
    const got = origin.received[0].headers;
    expect(got['if-none-match']).toBe('*');
    expect(got['content-type']).toBe('application/pdf');
    expect(got['x-added-elsewhere']).toBeUndefined();
    expect(got['x-viewer-other']).toBeUndefined();
    expect(got.host).toBe(originHost);
    // The origin-request event shows them too, with the body's length.
    const event = originRequests[0].Records[0].cf.request;
    expect(event.headers['if-none-match']).toEqual([{ key: 'If-None-Match', value: '*' }]);
    expect(event.headers['content-type']).toEqual([{ key: 'content-type', value: 'application/pdf' }]);
    expect(event.headers['content-length']?.[0].value).toBe('7');
    expect(event.headers['x-added-elsewhere']).toBeUndefined();
  });

  it('sends no viewer header without an allowlist (the default)', async () => {
    await put(plain.url, '/uploads/plain.bin', Buffer.from('plain'));
    const got = origin.received[0].headers;
    expect(got['if-none-match']).toBeUndefined();
    expect(got['content-type']).toBeUndefined();
    expect(origin.received[0].text).toBe('plain');
  });

  it('starts the origin response timeout only once the whole body is sent', async () => {
    const { hostname, port } = new URL(cf.url);
    const chunks = Array.from({ length: 6 }, () => randomBytes(64 * 1024));
    const whole = Buffer.concat(chunks);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, method: 'PUT', path: '/uploads/slow.bin', headers: { 'content-length': String(whole.length) }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      // 6 pieces 200 ms apart: well past the 400 ms response timeout in all.
      const next = (i: number): void => {
        if (i === chunks.length) {
          req.end();
          return;
        }
        req.write(chunks[i]);
        setTimeout(() => next(i + 1), 200);
      };
      next(0);
    });
    expect(status).toBe(200);
    expect(origin.received[0].sha256).toBe(sha256(whole));
  });

  it('takes `curl -T` of a 2 MB file (Expect: 100-continue answered here, never sent to the origin)', async () => {
    const file = join(dir, 'two-megabytes.bin');
    const body = randomBytes(2 * 1024 * 1024);
    writeFileSync(file, body);
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile('curl', ['-sS', '-v', '-T', file, '-H', 'Content-Type: application/pdf', '-o', '/dev/null', '-w', '%{http_code}', `${cf.url}/uploads/curl.bin`],
        { timeout: 20_000 }, (err, out, errOut) => (err ? reject(err) : resolve({ stdout: out, stderr: errOut })));
    });
    expect(stdout).toBe('200');
    expect(stderr).toMatch(/> Expect: 100-continue/i);
    expect(stderr).toMatch(/< HTTP\/1\.1 100 Continue/i);
    const got = origin.received[0];
    expect(got.sha256).toBe(sha256(body));
    expect(got.headers.expect).toBeUndefined();
    expect(got.headers['content-type']).toBe('application/pdf');
    expect(seen[0].headers.expect?.[0].value).toBe('100-continue');
  });
});
