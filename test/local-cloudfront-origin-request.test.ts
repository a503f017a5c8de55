// The local CloudFront's origin-request trigger (local/cloudfront.ts, runOriginRequest): the
// event is the CloudFront Developer Guide's ("Lambda@Edge event structure", origin request
// example), and what the function returns is sent to the origin exactly, with the read-only
// headers of "Restrictions on edge functions" checked.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResponseEvent } from 'aws-lambda';
import { type LocalCloudFront, startLocalCloudFront } from '../local/cloudfront';
import { http } from './util/http';

interface Recorded {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

async function startRecordingOrigin(): Promise<{ endpoint: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('local CloudFront origin-request trigger', () => {
  const originHost = 'otp-bucket.s3.eu-west-1.amazonaws.com';
  let origin: Awaited<ReturnType<typeof startRecordingOrigin>>;
  let cf: LocalCloudFront | undefined;
  let originRequestEvents: CloudFrontRequestEvent[];
  let originResponseEvents: CloudFrontResponseEvent[];
  let originRequest: (request: CloudFrontRequest) => CloudFrontRequestResult | Promise<CloudFrontRequestResult>;

  const start = async (extra: { originCustomHeaders?: Record<string, string>; originRequestTimeoutMs?: number } = {}) => {
    cf = await startLocalCloudFront({
      // The viewer-request function rewrites the uri and query, as the edge's redemption does.
      handler: async (event) => ({ ...event.Records[0].cf.request, uri: '/files/a.txt', querystring: 'x-link-id=abc' }),
      originRequestHandler: async (event) => {
        originRequestEvents.push(JSON.parse(JSON.stringify(event)));
        return originRequest(event.Records[0].cf.request);
      },
      originResponseHandler: async (event) => {
        originResponseEvents.push(JSON.parse(JSON.stringify(event)));
        return event.Records[0].cf.response;
      },
      originEndpoint: origin.endpoint,
      originHost,
      originCustomHeaders: extra.originCustomHeaders ?? {},
      originRequestTimeoutMs: extra.originRequestTimeoutMs,
    });
    return cf;
  };

  beforeEach(async () => {
    origin = await startRecordingOrigin();
    originRequestEvents = [];
    originResponseEvents = [];
    // Signs, as the edge will: a new query and a header.
    originRequest = (request) => ({
      ...request,
      querystring: 'X-Amz-Signature=abc%2Bdef&x-link-id=abc',
      headers: { ...request.headers, 'x-test': [{ key: 'X-Test', value: 'yes' }] },
    });
  });

  afterEach(async () => {
    await cf?.close();
    cf = undefined;
    await origin.close();
  });

  test('the event is the documented origin-request event; the returned request goes to the origin exactly', async () => {
    const { url } = await start();
    const res = await http(`${url}/some/link?x-link-id=abc&x-link-exp=1`, { headers: { 'x-viewer': 'v', 'cookie': 'c=1', 'range': 'bytes=0-0' } });
    expect(res.status).toBe(200);
    expect(res.text()).toBe('ok');

    expect(originRequestEvents).toHaveLength(1);
    const { config, request } = originRequestEvents[0].Records[0].cf;
    expect(config.eventType).toBe('origin-request');
    expect(request).toMatchObject({
      clientIp: '127.0.0.1',
      method: 'GET',
      uri: '/files/a.txt',
      querystring: 'x-link-id=abc',
      origin: { s3: { authMethod: 'none', customHeaders: {}, domainName: originHost, path: '', region: 'eu-west-1' } },
    });
    // CloudFront's own headers and the viewer's Range; nothing else of the viewer's.
    expect(Object.keys(request.headers).sort()).toEqual(['host', 'range', 'user-agent', 'via', 'x-amz-cf-id']);
    expect(request.headers.host).toEqual([{ key: 'Host', value: originHost }]);
    expect(request.headers['user-agent']).toEqual([{ key: 'User-Agent', value: 'Amazon CloudFront' }]);

    expect(origin.requests).toHaveLength(1);
    const sent = origin.requests[0];
    expect(sent.url).toBe('/files/a.txt?X-Amz-Signature=abc%2Bdef&x-link-id=abc');
    expect(sent.headers.host).toBe(originHost);
    expect(sent.headers['x-test']).toBe('yes');
    expect(sent.headers.range).toBe('bytes=0-0');
    expect(sent.headers['x-viewer']).toBeUndefined();
    expect(sent.headers.cookie).toBeUndefined();

    // The origin-response event shows the request as sent.
    const sentRequest = originResponseEvents[0].Records[0].cf.request;
    expect(sentRequest.querystring).toBe('X-Amz-Signature=abc%2Bdef&x-link-id=abc');
    expect(sentRequest.uri).toBe('/files/a.txt');
    expect(sentRequest.headers['x-test']).toEqual([{ key: 'X-Test', value: 'yes' }]);
    expect(sentRequest.origin).toBeUndefined();
  });

  test('origin custom headers appear in origin.s3.customHeaders and are sent to the origin', async () => {
    const { url } = await start({ originCustomHeaders: { 'X-Custom': 'c' } });
    expect((await http(`${url}/x`)).status).toBe(200);
    const { request } = originRequestEvents[0].Records[0].cf;
    expect(request.origin?.s3?.customHeaders).toEqual({ 'x-custom': [{ key: 'X-Custom', value: 'c' }] });
    expect(request.headers['x-custom']).toBeUndefined();
    expect(origin.requests[0].headers['x-custom']).toBe('c');
  });

  test('a generated response goes to the viewer and nothing to the origin', async () => {
    originRequest = () => ({ status: '403', statusDescription: 'Forbidden', headers: { 'content-type': [{ key: 'Content-Type', value: 'text/plain' }] }, body: 'no' });
    const { url } = await start();
    const res = await http(`${url}/x`);
    expect(res.status).toBe(403);
    expect(res.text()).toBe('no');
    expect(origin.requests).toHaveLength(0);
  });

  test.each([
    ['via', (r: CloudFrontRequest) => ({ ...r, headers: { ...r.headers, via: [{ key: 'Via', value: 'changed' }] } })],
    ['range', (r: CloudFrontRequest) => ({ ...r, headers: { ...r.headers, range: [{ key: 'Range', value: 'bytes=1-1' }] } })],
    ['x-amz-cf-id', (r: CloudFrontRequest) => ({ ...r, headers: { ...r.headers, 'x-amz-cf-id': [{ key: 'X-Amz-Cf-Id', value: 'x' }] } })],
    ['origin', (r: CloudFrontRequest) => ({ ...r, origin: { s3: { ...r.origin!.s3!, domainName: 'other.s3.amazonaws.com' } } })],
    ['method', (r: CloudFrontRequest) => ({ ...r, method: 'POST' })],
  ])('a request with a changed %s is refused with 502', async (_name, change) => {
    originRequest = change as typeof originRequest;
    const { url } = await start();
    expect((await http(`${url}/x`, { headers: { range: 'bytes=0-0' } })).status).toBe(502);
    expect(origin.requests).toHaveLength(0);
  });

  test('a function that throws or times out answers 503', async () => {
    originRequest = () => {
      throw new Error('boom');
    };
    let { url } = await start();
    expect((await http(`${url}/x`)).status).toBe(503);
    await cf!.close();
    originRequest = () => new Promise(() => undefined);
    ({ url } = await start({ originRequestTimeoutMs: 200 }));
    expect((await http(`${url}/x`)).status).toBe(503);
    expect(origin.requests).toHaveLength(0);
  });

  test('without an origin-request trigger the request is forwarded as before', async () => {
    cf = await startLocalCloudFront({
      handler: async (event) => event.Records[0].cf.request,
      originEndpoint: origin.endpoint,
      originHost,
      originCustomHeaders: {},
    });
    expect((await http(`${cf.url}/y?q=1`)).status).toBe(200);
    expect(origin.requests[0].url).toBe('/y?q=1');
    expect(origin.requests[0].headers.host).toBe(originHost);
  });
});
