// A local CloudFront: runs the real viewer-request handler on the documented event
// shape, answers generated responses as CloudFront does, and forwards allowed
// requests to the origin exactly as the synthesized distribution would (the viewer's
// Range on a GET included: see rangeToForward; the headers the origin request policy
// allowlists; a PUT's or POST's whole body, streamed: see readViewerBody).
import { randomBytes } from 'node:crypto';
import { type ClientRequest, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type {
  CloudFrontHeaders,
  CloudFrontOrigin,
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
  CloudFrontResponse,
  CloudFrontResponseEvent,
  CloudFrontResponseResult,
  CloudFrontResultResponse,
} from 'aws-lambda';
import { closeServer, HOP_BY_HOP_HEADERS, Lifecycle, listenLocal, LOCAL_HOST } from './servers/common';

export type ViewerRequestHandler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;
export type OriginResponseHandler = (event: CloudFrontResponseEvent) => Promise<CloudFrontResponseResult>;
export type OriginRequestHandler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;

export interface LocalCloudFrontOptions {
  readonly handler: ViewerRequestHandler;
  /** The origin-response trigger, when the distribution has one. */
  readonly originResponseHandler?: OriginResponseHandler;
  /**
   * The origin-request trigger, when the distribution has one: it gets the request CloudFront
   * would send to the origin (see runOriginRequest), and what it returns is sent to the origin
   * as it is, or, when it returns a response, answered to the viewer.
   */
  readonly originRequestHandler?: OriginRequestHandler;
  /**
   * The S3 origin's region, as the origin-request event's `origin.s3.region`.
   * @default the region in originHost (`bucket.s3.<region>.amazonaws.com`), else us-east-1
   */
  readonly originRegion?: string;
  /** Origin-request timeout (Lambda@Edge origin triggers allow up to 30 s). @default 30000 */
  readonly originRequestTimeoutMs?: number;
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
   * How long CloudFront waits for the origin's response after forwarding a request; then it
   * gives up on that attempt (see {@link originConnectionAttempts}) and at last answers 504.
   * @default 30000 (CloudFront's default; tests shorten it)
   */
  readonly originResponseTimeoutMs?: number;
  /**
   * The origin's connection attempts (1 to 3): how many times in all a GET or HEAD whose
   * response timed out is sent. The construct leaves CloudFront's default.
   * @default 3
   */
  readonly originConnectionAttempts?: number;
  /**
   * The viewer's address for each request, as the viewer-request event's `clientIp`. Loopback
   * cannot show a client whose address changes mid-download (IPv4 to IPv6 by happy eyeballs,
   * Wi-Fi to mobile); tests decide it here.
   * @default the TCP connection's remote address, as CloudFront takes it
   */
  readonly viewerAddress?: (req: IncomingMessage) => string;
  /**
   * The viewer-request association's Include Body option: requests of writable methods
   * (POST, PUT, DELETE, PATCH) show the function their body as CloudFront does (see
   * exposedBody). Without it the event has no `body`.
   * @default false
   */
  readonly includeBody?: boolean;
  /**
   * The origin request policy's header allowlist (lower or any case): these viewer headers, as
   * the viewer-request function left them (it may add or change them, all but the read-only
   * Content-Length, Host, Transfer-Encoding and Via), go to the origin and appear in the
   * origin-request event. Expect never goes (see handle).
   * @default none: no viewer header reaches the origin (Range on a GET aside, see rangeToForward)
   */
  readonly originRequestHeaders?: readonly string[];
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
/**
 * How much of a viewer request's body a function sees: "If the request body is large,
 * Lambda@Edge truncates it before exposing it, as follows: For viewer requests, the body is
 * truncated at 40 KB" ("Restrictions on the request body with the include body option",
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-at-edge-function-restrictions.html#lambda-at-edge-restrictions-request-body).
 */
const MAX_EXPOSED_VIEWER_BODY = 40 * 1024;
/**
 * Viewer headers CloudFront never sends to the origin, allowlisted or not: Expect ("CloudFront
 * removes the header", "HTTP request headers and CloudFront behavior (custom and Amazon S3
 * origins)", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html#request-custom-headers-behavior),
 * the hop-by-hop ones, and the body's framing, which CloudFront sets for the body it sends.
 */
const NEVER_FORWARDED_VIEWER_HEADERS = new Set([...HOP_BY_HOP_HEADERS, 'expect', 'host', 'content-length', 'transfer-encoding', 'via']);
/** Methods whose body CloudFront exposes: the "writable HTTP methods (POST, PUT, DELETE, and so on)". */
const BODY_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);
/** Viewer-request triggers cap a generated body at 40 KB. */
const MAX_GENERATED_BODY = 40 * 1024;
/** Origin-request triggers may generate a response of up to 1 MB (Lambda@Edge quotas). */
const MAX_ORIGIN_REQUEST_GENERATED_BODY = 1024 * 1024;
/**
 * Headers an origin-request function must not change ("Restrictions on edge functions",
 * CloudFront Developer Guide, "Read-only headers for CloudFront origin request events",
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-restrictions.html).
 * Host is not among them: an origin-request function may set it.
 */
const READ_ONLY_ORIGIN_REQUEST_HEADERS = [
  'accept-encoding', 'content-length', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since', 'range', 'transfer-encoding', 'via',
];
/** Headers a Lambda@Edge function may not add or change ("Disallowed headers", same page); `*` ends a prefix. */
const DISALLOWED_FUNCTION_HEADERS = [
  'connection', 'expect', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'trailer', 'upgrade',
  'x-accel-*', 'x-amz-cf-*', 'x-amzn-*', 'x-cache', 'x-edge-*', 'x-forwarded-proto', 'x-real-ip',
];
/** Origin-request and origin-response functions may run up to 30 s (Lambda@Edge quotas). */
const ORIGIN_REQUEST_TIMEOUT_MS = 30_000;
/** How the origin-request event spells the headers CloudFront itself adds. */
const CLOUDFRONT_HEADER_KEYS: Readonly<Record<string, string>> = { 'host': 'Host', 'user-agent': 'User-Agent', 'via': 'Via', 'x-amz-cf-id': 'X-Amz-Cf-Id' };
/** Origin-response triggers may replace the body with up to 1 MB (Lambda@Edge quotas). */
const MAX_ORIGIN_RESPONSE_BODY = 1024 * 1024;
/**
 * Headers an origin-response function must not change or remove ("Restrictions on
 * edge functions", CloudFront developer guide: read-only headers for origin response events).
 */
const READ_ONLY_ORIGIN_RESPONSE_HEADERS = ['transfer-encoding', 'via'];
/**
 * The origin response timeout CloudFront uses unless the origin sets one: "The default timeout
 * is 30 seconds" ("Origin settings", Response timeout,
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/DownloadDistValuesOrigin.html#DownloadDistValuesOriginResponseTimeout).
 * For GET and HEAD "If the origin doesn't respond or stops responding within the duration of the
 * response timeout, CloudFront drops the connection. CloudFront tries again to connect according
 * to the value of Connection attempts"; other methods are not tried again (quoted from the guide's
 * source, awsdocs/amazon-cloudfront-developer-guide, where the section still read "custom origins
 * only"; S3 origins take a response timeout too since July 2025, "Amazon CloudFront introduces new
 * origin response timeout controls", whose retries follow the connection attempts alike). Only the
 * wait for the response is emulated, not the wait between two packets of its body.
 */
const ORIGIN_RESPONSE_TIMEOUT_MS = 30_000;
/** "Connection attempts": 1, 2 or 3, "The default number (if you don't specify otherwise) is 3" (same page). */
const ORIGIN_CONNECTION_ATTEMPTS = 3;

export async function startLocalCloudFront(opts: LocalCloudFrontOptions): Promise<LocalCloudFront> {
  const life = new Lifecycle();
  const timeoutMs = opts.timeoutMs ?? 5000;
  const slots = new Slots(opts.maxConcurrentInvocations ?? 16);
  const origin = new URL(opts.originEndpoint);
  const originResponseTimeoutMs = opts.originResponseTimeoutMs ?? ORIGIN_RESPONSE_TIMEOUT_MS;
  const originAttempts = opts.originConnectionAttempts ?? ORIGIN_CONNECTION_ATTEMPTS;
  const originRegion = opts.originRegion ?? /\.s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(opts.originHost)?.[1] ?? 'us-east-1';
  if (!Number.isInteger(originAttempts) || originAttempts < 1 || originAttempts > 3) {
    throw new Error(`originConnectionAttempts must be 1, 2 or 3 (as in CloudFront), got ${originAttempts}`);
  }
  let domainName = '';
  const allowlisted = [...new Set((opts.originRequestHeaders ?? []).map((h) => h.toLowerCase()))]
    .filter((h) => !NEVER_FORWARDED_VIEWER_HEADERS.has(h));

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
      clientIp: opts.viewerAddress ? opts.viewerAddress(req) : req.socket.remoteAddress ?? LOCAL_HOST,
      headers: toCloudFrontHeaders(req.rawHeaders),
      method: req.method ?? 'GET',
      querystring: q < 0 ? '' : rawUrl.slice(q + 1),
      uri: q < 0 ? rawUrl : rawUrl.slice(0, q),
    };
    // A viewer's `Expect: 100-continue` is answered here: Node's server sends 100 Continue as soon
    // as the headers arrive (no 'checkContinue' listener), as CloudFront must before it can read
    // the body its function sees; Expect itself never reaches the origin (NEVER_FORWARDED_VIEWER_HEADERS).
    const exposable = opts.includeBody ? MAX_EXPOSED_VIEWER_BODY : 0;
    const viewerBody = BODY_METHODS.has(request.method) ? await readViewerBody(req, exposable) : undefined;
    if (opts.includeBody && viewerBody) request.body = exposedBody(viewerBody);
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
      // Lambda passes the function's answer as JSON: nothing but data crosses.
      result = JSON.parse(JSON.stringify(result ?? null)) as CloudFrontRequestResult;
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
    const body = originBody(viewerBody, forwarded!.body);
    if (typeof body === 'string') return sendError(res, 502, `The Lambda function returned an invalid request: ${body}`);
    await forwardToOrigin(forwarded!, res, event.Records[0].cf.config, body);
  }

  async function forwardToOrigin(
    request: CloudFrontRequest,
    res: ServerResponse,
    config: CloudFrontRequestEvent['Records'][0]['cf']['config'],
    toOrigin: OriginBody | undefined,
  ): Promise<void> {
    // The custom origin request policy forwards no viewer headers and no cookies (the viewer's
    // Cookie reaches the viewer-request function, never the origin): only the origin host, the
    // origin custom headers and what CloudFront itself adds, plus Range (below).
    const ownHeaders: Record<string, string | string[]> = {
      'host': opts.originHost,
      'user-agent': 'Amazon CloudFront',
      'via': '2.0 local.cloudfront.net (CloudFront)',
      'x-amz-cf-id': randomBytes(30).toString('base64url'),
    };
    let headers: Record<string, string | string[]> = { ...ownHeaders, ...opts.originCustomHeaders };
    const range = rangeToForward(request);
    if (range) ownHeaders.range = headers.range = range;
    for (const name of allowlisted) {
      const values = (request.headers?.[name] ?? []).map((h) => h.value).filter((v): v is string => typeof v === 'string');
      if (values.length > 0) ownHeaders[name] = headers[name] = values.length === 1 ? values[0] : values;
    }
    if (toOrigin?.length !== undefined) ownHeaders['content-length'] = headers['content-length'] = String(toOrigin.length);
    let path = request.uri + (request.querystring ? `?${request.querystring}` : '');
    // The request the origin-response event shows: the one sent to the origin.
    let sentRequest: CloudFrontRequest | undefined;
    if (opts.originRequestHandler) {
      const outcome = await runOriginRequest(opts.originRequestHandler, config, request, ownHeaders);
      if ('failed' in outcome) return sendError(res, 503, outcome.failed);
      if ('invalid' in outcome) return sendError(res, 502, outcome.invalid);
      if ('response' in outcome) return sendGenerated(res, outcome.response, MAX_ORIGIN_REQUEST_GENERATED_BODY);
      ({ headers, path, request: sentRequest } = outcome);
    }
    // A GET or HEAD whose response timed out is tried again, up to the origin's connection
    // attempts ("Response timeout": "CloudFront tries again to connect according to the value
    // of Connection attempts"; other methods are not retried). See ORIGIN_RESPONSE_TIMEOUT_MS.
    const attempts = request.method === 'GET' || request.method === 'HEAD' ? originAttempts : 1;
    let originRes: IncomingMessage | undefined;
    for (let attempt = 1; originRes === undefined; attempt++) {
      const outcome = await requestOrigin(request.method, path, headers, res, toOrigin);
      if (res.destroyed) return;
      if (outcome === 'timeout' && attempt < attempts) continue;
      // No response at all: CloudFront answers with its own error page, and the origin-response
      // trigger does not run. "CloudFront events that can trigger a Lambda@Edge function"
      // (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-cloudfront-trigger-events.html)
      // has the origin-response function execute "after CloudFront receives a response from the
      // origin", "even if an error is returned from the origin": a response with an error status
      // (500, 503, 404...) runs it, as below; a reset or a timeout leaves no response to run it
      // on, and no AWS page says CloudFront runs it then.
      if (outcome === 'timeout') return sendOriginError(res, 504, config.requestId);
      if (outcome === 'unreachable') return sendOriginError(res, 502, config.requestId);
      originRes = outcome;
    }
    const fromOrigin = originRes;
    await new Promise<void>((resolve, reject) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(fromOrigin.headers)) {
        if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) out[name] = value;
      }
      const reply = (status: number, replyHeaders: Record<string, string | string[]>, body?: Buffer): void => {
        replyHeaders['x-cache'] = 'Miss from cloudfront';
        if (body) {
          fromOrigin.resume();
          delete replyHeaders['transfer-encoding'];
          replyHeaders['content-length'] = String(body.length);
          res.writeHead(status, replyHeaders);
          res.end(body);
          resolve();
          return;
        }
        res.writeHead(status, replyHeaders);
        fromOrigin.pipe(res);
        // An origin that stops mid-body (a reset after its headers) cuts the viewer's
        // connection: the status and headers are sent, so that is all CloudFront can do.
        fromOrigin.on('close', () => {
          if (!fromOrigin.complete) res.destroy();
          resolve();
        });
      };
      fromOrigin.on('error', () => res.destroy());
      if (!opts.originResponseHandler) return reply(fromOrigin.statusCode ?? 502, out);
      const sent = Object.entries(headers).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).flatMap((v) => [name, v]));
      const originRequest = sentRequest ?? { ...request, headers: { ...request.headers, ...toCloudFrontHeaders(sent) } };
      runOriginResponse(opts.originResponseHandler, config, originRequest, fromOrigin.statusCode ?? 502, fromOrigin.statusMessage ?? '', fromOrigin.rawHeaders)
        .then((replaced) => {
          if ('error' in replaced) {
            fromOrigin.resume();
            sendError(res, 502, replaced.error);
            resolve();
          } else {
            reply(replaced.status, replaced.headers, replaced.body);
          }
        }, reject);
    });
  }

  /**
   * Runs the origin-request trigger as CloudFront does ("Lambda@Edge event structure", CloudFront
   * Developer Guide, origin request example,
   * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html#example-origin-request):
   * `cf.request` is the request CloudFront would send the origin (its own headers and what the
   * origin request policy forwards, the uri and querystring the viewer-request function left)
   * plus `origin.s3` (`authMethod: 'none'`: no OAC or OAI; the origin custom headers appear
   * there, not among the headers). A returned response goes to the viewer; a returned request
   * goes to the origin exactly as returned (uri, querystring, headers, custom headers), once its
   * read-only and disallowed headers are checked ("Restrictions on edge functions").
   * Choosing another origin is not emulated: a changed `origin` is refused.
   */
  async function runOriginRequest(
    fn: OriginRequestHandler,
    config: CloudFrontRequestEvent['Records'][0]['cf']['config'],
    viewerRequest: CloudFrontRequest,
    ownHeaders: Record<string, string | string[]>,
  ): Promise<
    | { failed: string }
    | { invalid: string }
    | { response: CloudFrontResultResponse }
    | { headers: Record<string, string | string[]>; path: string; request: CloudFrontRequest }
    > {
    const headers: CloudFrontHeaders = {};
    for (const [name, value] of Object.entries(ownHeaders)) {
      const key = CLOUDFRONT_HEADER_KEYS[name] ?? viewerRequest.headers[name]?.[0]?.key ?? name;
      headers[name] = (Array.isArray(value) ? value : [value]).map((v) => ({ key, value: v }));
    }
    const customHeaders: CloudFrontHeaders = {};
    for (const [name, value] of Object.entries(opts.originCustomHeaders)) (customHeaders[name.toLowerCase()] ??= []).push({ key: name, value });
    const request: CloudFrontRequest = {
      clientIp: viewerRequest.clientIp,
      headers,
      method: viewerRequest.method,
      // `region` is documented as needed "only if you use OAI" (the guide's request values for an
      // Amazon S3 origin), and @types/aws-lambda omits it with authMethod 'none'; the guide's origin
      // request example shows it, so it is given here, but a function should not depend on it.
      origin: { s3: { authMethod: 'none', customHeaders, domainName: opts.originHost, path: '', region: originRegion } } as unknown as CloudFrontOrigin,
      querystring: viewerRequest.querystring,
      uri: viewerRequest.uri,
    };
    const before = JSON.parse(JSON.stringify(request)) as CloudFrontRequest;
    const event: CloudFrontRequestEvent = { Records: [{ cf: { config: { ...config, eventType: 'origin-request' }, request } }] };
    let result: CloudFrontRequestResult;
    await slots.acquire();
    try {
      const returned = await withTimeout(fn(event), opts.originRequestTimeoutMs ?? ORIGIN_REQUEST_TIMEOUT_MS);
      result = JSON.parse(JSON.stringify(returned ?? null)) as CloudFrontRequestResult;
    } catch (err) {
      // CloudFront answers 503 when the function throws or times out.
      return { failed: (err as Error).message === 'timeout' ? 'The Lambda function associated with the CloudFront distribution timed out.' : 'The Lambda function associated with the CloudFront distribution failed.' };
    } finally {
      slots.release();
    }
    if (result && 'status' in result && result.status !== undefined) return { response: result as CloudFrontResultResponse };
    const after = result as CloudFrontRequest | null;
    const invalid = (why: string) => ({ invalid: `The Lambda function returned an invalid request: ${why}` });
    if (!after || typeof after !== 'object' || typeof after.uri !== 'string' || !after.uri.startsWith('/')) return invalid('not a request object');
    if (after.method !== before.method) return invalid('method is read-only');
    if (typeof (after.querystring ?? '') !== 'string') return invalid('querystring is not a string');
    const where = (o: CloudFrontRequest['origin']) => JSON.stringify([o?.custom, o?.s3?.domainName, o?.s3?.path, o?.s3?.authMethod, (o?.s3 as { region?: string } | undefined)?.region]);
    if (where(after.origin) !== where(before.origin)) return invalid('the local CloudFront does not emulate choosing another origin');
    const afterCustom = after.origin?.s3?.customHeaders ?? {};
    const afterHeaders = after.headers ?? {};
    const values = (h: CloudFrontHeaders, name: string) => JSON.stringify((h[name] ?? []).map((v) => v.value));
    for (const name of READ_ONLY_ORIGIN_REQUEST_HEADERS) {
      if (values(afterHeaders, name) !== values(before.headers, name)) return invalid(`header ${name} is read-only`);
    }
    const out: Record<string, string | string[]> = {};
    for (const [name, entries] of [...Object.entries(afterHeaders), ...Object.entries(afterCustom)]) {
      if (name !== name.toLowerCase() || !Array.isArray(entries) || entries.some((e) => typeof e?.value !== 'string' || (e.key !== undefined && e.key.toLowerCase() !== name))) {
        return invalid(`header ${name} is mis-keyed`);
      }
      const disallowed = DISALLOWED_FUNCTION_HEADERS.some((d) => (d.endsWith('*') ? name.startsWith(d.slice(0, -1)) : name === d));
      if (disallowed && values(afterHeaders, name) !== values(before.headers, name)) return invalid(`header ${name} may not be added or changed`);
      const previous = out[name];
      const added = entries.map((e) => e.value);
      out[name] = previous === undefined ? (added.length === 1 ? added[0] : added) : [...(Array.isArray(previous) ? previous : [previous]), ...added];
    }
    // CloudFront always sends a Host: the origin's unless the function set one.
    out.host ??= opts.originHost;
    const querystring = after.querystring ?? '';
    const sentHeaders: CloudFrontHeaders = { ...afterHeaders };
    for (const [name, entries] of Object.entries(afterCustom)) sentHeaders[name] = [...(sentHeaders[name] ?? []), ...entries];
    return {
      headers: out,
      path: after.uri + (querystring ? `?${querystring}` : ''),
      request: { clientIp: before.clientIp, headers: sentHeaders, method: before.method, querystring, uri: after.uri },
    };
  }

  /**
   * One request to the origin: its response (status and headers received), or `timeout` when
   * none came within the origin response timeout, or `unreachable` when the connection failed
   * or was reset before a response. A viewer that goes away abandons the request.
   */
  function requestOrigin(
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    viewer: ServerResponse,
    originBodyToSend: OriginBody | undefined,
  ): Promise<IncomingMessage | 'timeout' | 'unreachable'> {
    return new Promise((resolve) => {
      const upstream = httpRequest({ host: origin.hostname, port: origin.port, method, path, headers });
      const abandon = (): void => {
        upstream.destroy();
      };
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: IncomingMessage | 'timeout' | 'unreachable'): void => {
        clearTimeout(timer);
        viewer.off('close', abandon);
        resolve(outcome);
      };
      // The response timeout is how long CloudFront "waits for a response after forwarding a
      // request" ("Origin response timeout", same page as ORIGIN_RESPONSE_TIMEOUT_MS): it starts
      // once the request, body included, has been sent, so a long upload is not cut by it.
      upstream.once('finish', () => {
        timer = setTimeout(() => {
          settle('timeout');
          upstream.destroy();
        }, originResponseTimeoutMs);
      });
      viewer.once('close', abandon);
      upstream.once('response', (originRes) => {
        settle(originRes);
        // A viewer that goes away mid-body must not leave the origin streaming.
        viewer.once('close', () => originRes.destroy());
      });
      upstream.on('error', () => settle('unreachable'));
      sendBody(upstream, originBodyToSend);
    });
  }

  /**
   * Runs the origin-response trigger on the origin's status and headers (the function
   * never sees the origin's body) and applies its answer as CloudFront does: a `body`
   * replaces the origin's, headers are taken as returned, read-only ones must not change.
   */
  async function runOriginResponse(
    fn: OriginResponseHandler,
    config: CloudFrontRequestEvent['Records'][0]['cf']['config'],
    request: CloudFrontRequest,
    status: number,
    statusDescription: string,
    rawHeaders: string[],
  ): Promise<{ status: number; headers: Record<string, string | string[]>; body?: Buffer } | { error: string }> {
    const response: CloudFrontResponse = {
      status: String(status),
      statusDescription,
      headers: toCloudFrontHeaders(withoutHopByHop(rawHeaders)),
    };
    const before = JSON.stringify(READ_ONLY_ORIGIN_RESPONSE_HEADERS.map((name) => response.headers[name]));
    const event: CloudFrontResponseEvent = {
      Records: [{ cf: { config: { ...config, eventType: 'origin-response' }, request, response } }],
    };
    let result: CloudFrontResultResponse;
    await slots.acquire();
    try {
      result = JSON.parse(JSON.stringify(await withTimeout(fn(event), timeoutMs) ?? null)) as CloudFrontResultResponse;
    } catch (err) {
      return { error: (err as Error).message === 'timeout' ? 'The Lambda function associated with the CloudFront distribution timed out.' : 'The Lambda function associated with the CloudFront distribution failed.' };
    } finally {
      slots.release();
    }
    if (!result || typeof result !== 'object') return { error: 'The Lambda function returned an invalid response: not a response object' };
    const outStatus = Number(result.status);
    if (!Number.isInteger(outStatus) || outStatus < 200 || outStatus > 599) return { error: `The Lambda function returned an invalid status ${result.status}` };
    const outHeaders = result.headers ?? {};
    if (JSON.stringify(READ_ONLY_ORIGIN_RESPONSE_HEADERS.map((name) => outHeaders[name])) !== before) {
      return { error: 'The Lambda function changed a read-only header (transfer-encoding or via)' };
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, values] of Object.entries(outHeaders)) {
      // Node frames the body itself; a function's mis-keyed header is an error in CloudFront too.
      if (name !== name.toLowerCase()) return { error: `The Lambda function returned a mis-keyed header ${name}` };
      if (HOP_BY_HOP_HEADERS.has(name)) continue;
      headers[name] = values.map((v) => v.value);
    }
    if (result.body === undefined) return { status: outStatus, headers };
    const body = result.bodyEncoding === 'base64' ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
    if (body.length > MAX_ORIGIN_RESPONSE_BODY) return { error: `origin-response body is ${body.length} bytes; the limit is ${MAX_ORIGIN_RESPONSE_BODY}` };
    delete headers['content-length'];
    return { status: outStatus, headers, body };
  }

  const port = await listenLocal(server);
  domainName = `${LOCAL_HOST}:${port}`;
  return { url: `http://${domainName}`, domainName, close: () => closeServer(server, life) };
}

/**
 * The viewer's Range, which CloudFront sends to the origin even when the origin request
 * policy includes no viewer headers: "If the cache doesn't contain the requested range,
 * CloudFront forwards the request to the origin" ("How CloudFront processes partial requests
 * for an object (range GETs)", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RangeGETs.html;
 * the Range row of "HTTP request headers and CloudFront behavior (custom and Amazon S3 origins)",
 * which "Request and response behavior for Amazon S3 origins" refers to for its request headers).
 * Only on GET: a range GET is what that page describes, and RFC 9110 14.2 has a server ignore
 * Range on any other method. The page lets CloudFront ask for a larger range to fill its cache;
 * caching is disabled, so the range goes exactly as written: the values of the request the
 * viewer-request function returned (CloudFront forwards that request, not the viewer's), in order.
 *
 * Nothing else from the viewer goes, If-Range, If-Match, If-None-Match, If-Modified-Since and
 * If-Unmodified-Since included. With policies, HTTP headers from the viewer request are "not
 * included in the origin request by default. (Exception: With legacy cache settings, CloudFront
 * forwards the headers to your origin by default.)" ("Control origin requests with a policy",
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-origin-requests.html),
 * and with an origin request policy of None "No values from the viewer request are included in
 * the origin request, except for the defaults that are included in every origin request"
 * ("Understand how origin request policies and cache policies work together"). The header table
 * that says CloudFront forwards the If-* headers describes the legacy cache settings (its column
 * is "Behavior if you don't configure CloudFront to cache based on header values", and by it every
 * "other-defined" header is forwarded too); the If-Match, If-None-Match and If-Modified-Since of
 * "Conditional GET requests" (the S3 origin page) are CloudFront's own, carrying the validators of
 * an expired cached copy, and with caching disabled there is none; and a re:Post thread
 * ("cloudfront if range header is removed is this a bug") reports CloudFront removing If-Range.
 */
function rangeToForward(request: CloudFrontRequest): string | string[] | undefined {
  if (request.method !== 'GET') return undefined;
  const values = (request.headers?.range ?? []).map((h) => h.value).filter((v): v is string => typeof v === 'string');
  if (values.length === 0) return undefined;
  return values.length === 1 ? values[0] : values;
}

/**
 * A viewer request's body as CloudFront holds it: the first bytes read (enough to show the
 * function), and the rest still on the viewer's connection, sent on to the origin as it arrives.
 */
interface ViewerBody {
  /** What was read so far: up to the exposed size and one chunk more, or the whole body. */
  readonly prefix: Buffer;
  /** The whole body was read (the rest of `stream` is empty). */
  readonly complete: boolean;
  readonly stream: IncomingMessage;
  /** The viewer's Content-Length, if it sent one (else the body is chunked). */
  readonly length: number | undefined;
}

/** The body CloudFront sends the origin: the viewer's, whole, or the function's replacement. */
type OriginBody =
  | { readonly kind: 'viewer'; readonly viewer: ViewerBody; readonly length: number | undefined }
  | { readonly kind: 'replaced'; readonly data: Buffer; readonly length: number };

/**
 * Reads the start of a viewer's body, at least `limit` bytes (or all of it, if shorter), and
 * leaves the rest unread on the connection: a 100 MB upload is streamed to the origin, never
 * held here. Nothing is read when `limit` is 0.
 */
function readViewerBody(req: IncomingMessage, limit: number): Promise<ViewerBody> {
  const declared = req.headers['content-length'];
  const length = declared === undefined ? undefined : Number(declared);
  if (limit === 0 || req.readableEnded) return Promise.resolve({ prefix: Buffer.alloc(0), complete: req.readableEnded, stream: req, length });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (complete: boolean): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (!complete) req.pause();
      resolve({ prefix: Buffer.concat(chunks), complete, stream: req, length });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > limit) finish(false);
    };
    const onEnd = (): void => finish(true);
    const onError = (err: Error): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * The `body` of a viewer-request event with Include Body: "The body is always base64 encoded
 * by Lambda@Edge before it is exposed", cut at 40 KB with `inputTruncated` set, and
 * `action: 'read-only'` ("Lambda@Edge event structure", request event fields `body`,
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html).
 */
function exposedBody(body: ViewerBody): NonNullable<CloudFrontRequest['body']> {
  const truncated = body.prefix.length > MAX_EXPOSED_VIEWER_BODY;
  return { inputTruncated: truncated, action: 'read-only', encoding: 'base64', data: body.prefix.subarray(0, MAX_EXPOSED_VIEWER_BODY).toString('base64') };
}

/**
 * What goes to the origin after the viewer-request function ("Lambda@Edge event structure",
 * request `body` fields): with `action: 'read-only'` (or no body in the returned request)
 * "the full original request body is sent to the origin", whatever part of it the function
 * saw; with `action: 'replace'` the function's `data`, decoded per `encoding` (`base64` or
 * `text`), is sent instead, and the rest of the viewer's body is read and dropped. A string is
 * the reason the returned body is invalid.
 */
function originBody(viewer: ViewerBody | undefined, returned: CloudFrontRequest['body'] | undefined): OriginBody | string | undefined {
  if (returned?.action === 'replace') {
    if (typeof returned.data !== 'string') return 'body.data is not a string';
    if (returned.encoding !== 'base64' && returned.encoding !== 'text') return `body.encoding must be base64 or text, got ${String(returned.encoding)}`;
    if (viewer && !viewer.complete) viewer.stream.resume();
    const data = returned.encoding === 'base64' ? Buffer.from(returned.data, 'base64') : Buffer.from(returned.data, 'utf8');
    return { kind: 'replaced', data, length: data.length };
  }
  if (!viewer) return undefined;
  return { kind: 'viewer', viewer, length: viewer.length };
}

/** Sends the body on the origin request (the viewer's streamed as it arrives) and ends it. */
function sendBody(upstream: ClientRequest, body: OriginBody | undefined): void {
  if (!body) {
    upstream.end();
  } else if (body.kind === 'replaced') {
    upstream.end(body.data);
  } else {
    const { prefix, complete, stream } = body.viewer;
    if (complete) {
      upstream.end(prefix);
      return;
    }
    if (prefix.length > 0) upstream.write(prefix);
    // A viewer that goes away mid-body cuts the origin request too: the origin never gets a short body as a whole one.
    stream.once('aborted', () => upstream.destroy());
    stream.once('error', () => upstream.destroy());
    stream.pipe(upstream);
  }
}

/** Raw header pairs without hop-by-hop ones, except Transfer-Encoding, which CloudFront shows to origin-response functions. */
function withoutHopByHop(rawHeaders: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (!HOP_BY_HOP_HEADERS.has(name) || name === 'transfer-encoding') out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return out;
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

function sendGenerated(res: ServerResponse, response: CloudFrontResultResponse, maxBody = MAX_GENERATED_BODY): void {
  const status = Number(response.status);
  const body = response.body ?? '';
  const bytes = response.bodyEncoding === 'base64' ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (!Number.isInteger(status) || status < 200 || status > 599) return sendError(res, 502, `invalid status ${response.status}`);
  if (bytes.length > maxBody) return sendError(res, 502, `generated body is ${bytes.length} bytes; the limit is ${maxBody}`);
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

/**
 * CloudFront's own page when the origin gave no response: 502 when the connection failed or
 * was reset ("HTTP 502 status code (Bad Gateway)": CloudFront "couldn't connect to the origin
 * server", and "sets the X-Cache header to Error from cloudfront",
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html),
 * 504 when the origin "didn't respond before the request expired" ("HTTP 504 status code
 * (Gateway Timeout)", https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-504-gateway-timeout.html).
 * The pages do not give the body; this is the short HTML page viewers are shown, abridged.
 */
function sendOriginError(res: ServerResponse, status: 502 | 504, requestId: string): void {
  const [title, detail] = status === 502
    ? ['502 ERROR', "CloudFront wasn't able to connect to the origin."]
    : ['504 Gateway Timeout ERROR', 'CloudFront attempted to establish a connection with the origin, but either the attempt failed or the origin closed the connection.'];
  const body = '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">\n'
    + '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
    + `<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n<H1>${title}</H1>\n`
    + `<H2>The request could not be satisfied.</H2>\n<HR noshade size="1px">\n${detail}\n<BR clear="all">\n<HR noshade size="1px">\n`
    + `<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: ${requestId}\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>`;
  res.writeHead(status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body), 'x-cache': 'Error from cloudfront' });
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
