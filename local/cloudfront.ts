// A local CloudFront: runs the real viewer-request handler on the documented event
// shape, answers generated responses as CloudFront does, and forwards allowed
// requests to the origin exactly as the synthesized distribution would.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CloudFrontHeaders, CloudFrontRequest, CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResultResponse } from 'aws-lambda';
import { closeServer, HOP_BY_HOP_HEADERS, Lifecycle, listenLocal, LOCAL_HOST } from './servers/common';

export type ViewerRequestHandler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;

export interface LocalCloudFrontOptions {
  readonly handler: ViewerRequestHandler;
  /** Where the origin listens (the S3 front), e.g. `http://127.0.0.1:PORT`. */
  readonly originEndpoint: string;
  /** The origin domain name: sent as Host, exactly as CloudFront does. */
  readonly originHost: string;
  /** Origin custom headers CloudFront adds (the origin secret). */
  readonly originCustomHeaders: Record<string, string>;
  /** Viewer-request timeout (Lambda@Edge viewer triggers allow at most 5 s). */
  readonly timeoutMs?: number;
  /**
   * Most viewer-request invocations running at once. Lambda runs one request per
   * container and starts more containers for a burst, so a request never waits inside
   * a busy function; here the excess waits for a free slot before its invocation (and
   * its timeout) starts, instead of piling onto one event loop and one emulated table.
   * @default 16
   */
  readonly maxConcurrentInvocations?: number;
  /**
   * Forward the viewer's Host header to the origin, as the managed AllViewer origin
   * request policies do. Only for proving that this breaks every signature.
   * @default false
   */
  readonly forwardViewerHost?: boolean;
}

export interface LocalCloudFront {
  readonly url: string;
  readonly domainName: string;
  close(): Promise<void>;
}

/** Headers a viewer-request function must not change. */
const READ_ONLY_VIEWER_REQUEST_HEADERS = ['content-length', 'host', 'transfer-encoding', 'via'];
/** Headers a generated response must not set. */
const DISALLOWED_RESPONSE_HEADERS = ['connection', 'content-length', 'transfer-encoding', 'via', 'upgrade'];
/** Viewer-request triggers cap a generated body at 40 KB. */
const MAX_GENERATED_BODY = 40 * 1024;

export async function startLocalCloudFront(opts: LocalCloudFrontOptions): Promise<LocalCloudFront> {
  const life = new Lifecycle();
  const timeoutMs = opts.timeoutMs ?? 5000;
  const slots = new Slots(opts.maxConcurrentInvocations ?? 16);
  const origin = new URL(opts.originEndpoint);
  let domainName = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      // Anything the emulator itself got wrong is a 502, as CloudFront would answer.
      if (!res.headersSent) sendError(res, 502, `local CloudFront error: ${err.message}`);
      else res.destroy();
    });
  });
  life.track(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const request: CloudFrontRequest = {
      clientIp: req.socket.remoteAddress ?? LOCAL_HOST,
      headers: toCloudFrontHeaders(req.rawHeaders),
      method: req.method ?? 'GET',
      querystring: q < 0 ? '' : rawUrl.slice(q + 1),
      uri: q < 0 ? rawUrl : rawUrl.slice(0, q),
    };
    const before = JSON.parse(JSON.stringify(request)) as CloudFrontRequest;
    const event: CloudFrontRequestEvent = {
      Records: [{
        cf: {
          config: { distributionDomainName: domainName, distributionId: 'ELOCALDISTRIBUTION', eventType: 'viewer-request', requestId: randomBytes(16).toString('base64url') },
          request,
        },
      }],
    };

    let result: CloudFrontRequestResult;
    await slots.acquire();
    try {
      result = await withTimeout(opts.handler(event), timeoutMs);
    } catch (err) {
      // CloudFront answers 503 when the function throws or times out.
      const timedOut = (err as Error).message === 'timeout';
      return sendError(res, 503, timedOut ? 'The Lambda function associated with the CloudFront distribution timed out.' : 'The Lambda function associated with the CloudFront distribution failed.');
    } finally {
      slots.release();
    }

    if (result && 'status' in result && result.status !== undefined) {
      return sendGenerated(res, result as CloudFrontResultResponse);
    }
    const forwarded = result as CloudFrontRequest | undefined;
    const invalid = validateForwardedRequest(before, forwarded);
    if (invalid) return sendError(res, 502, `The Lambda function returned an invalid request: ${invalid}`);
    await forwardToOrigin(forwarded!, req, res);
  }

  async function forwardToOrigin(request: CloudFrontRequest, viewer: IncomingMessage, res: ServerResponse): Promise<void> {
    const viewerHost = viewer.headers.host ?? domainName;
    // The custom origin request policy forwards no viewer headers: only the origin
    // host, the origin custom headers and what CloudFront itself adds.
    const headers: Record<string, string> = {
      'host': opts.forwardViewerHost ? viewerHost : opts.originHost,
      'user-agent': 'Amazon CloudFront',
      'via': '2.0 local.cloudfront.net (CloudFront)',
      'x-amz-cf-id': randomBytes(30).toString('base64url'),
      ...opts.originCustomHeaders,
    };
    const path = request.uri + (request.querystring ? `?${request.querystring}` : '');
    await new Promise<void>((resolve, reject) => {
      const upstream = httpRequest({ host: origin.hostname, port: origin.port, method: request.method, path, headers }, (originRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(originRes.headers)) {
          if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) out[name] = value;
        }
        out['x-cache'] = 'Miss from cloudfront';
        res.writeHead(originRes.statusCode ?? 502, out);
        originRes.pipe(res);
        originRes.on('end', resolve);
        originRes.on('error', reject);
      });
      upstream.on('error', reject);
      upstream.end();
    });
  }

  const port = await listenLocal(server);
  domainName = `${LOCAL_HOST}:${port}`;
  return { url: `http://${domainName}`, domainName, close: () => closeServer(server, life) };
}

function toCloudFrontHeaders(rawHeaders: string[]): CloudFrontHeaders {
  const headers: CloudFrontHeaders = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const key = rawHeaders[i];
    (headers[key.toLowerCase()] ??= []).push({ key, value: rawHeaders[i + 1] });
  }
  return headers;
}

function validateForwardedRequest(before: CloudFrontRequest, after: CloudFrontRequest | undefined): string | undefined {
  if (!after || typeof after.uri !== 'string' || typeof after.method !== 'string') return 'not a request object';
  if (after.method !== before.method) return 'method is read-only';
  for (const name of READ_ONLY_VIEWER_REQUEST_HEADERS) {
    if (JSON.stringify(after.headers?.[name]) !== JSON.stringify(before.headers[name])) return `header ${name} is read-only`;
  }
  return undefined;
}

function sendGenerated(res: ServerResponse, response: CloudFrontResultResponse): void {
  const status = Number(response.status);
  const body = response.body ?? '';
  const bytes = response.bodyEncoding === 'base64' ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (!Number.isInteger(status) || status < 200 || status > 599) return sendError(res, 502, `invalid status ${response.status}`);
  if (bytes.length > MAX_GENERATED_BODY) return sendError(res, 502, `generated body is ${bytes.length} bytes; the limit is ${MAX_GENERATED_BODY}`);
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(response.headers ?? {})) {
    if (DISALLOWED_RESPONSE_HEADERS.includes(name) || name !== name.toLowerCase()) {
      return sendError(res, 502, `generated response sets disallowed or mis-keyed header ${name}`);
    }
    headers[name] = values.map((v) => v.value);
  }
  headers['content-length'] = [String(bytes.length)];
  res.writeHead(status, response.statusDescription ?? '', headers);
  res.end(bytes);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  const body = `<!DOCTYPE HTML><html><body><h1>${status} ERROR</h1><p>${message}</p></body></html>`;
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body), 'x-cache': 'LambdaExecutionError from cloudfront' });
  res.end(body);
}

/** A counting semaphore: at most `size` holders, the rest wait in arrival order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  public async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  public release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then((v) => { clearTimeout(timer); resolve(v); }, (e) => { clearTimeout(timer); reject(e); });
  });
}
