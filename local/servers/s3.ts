/// <reference path="./vendor.d.ts" />
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import {
  applyFault,
  BodyTooLargeError,
  CallCounter,
  closeServer,
  FaultInjector,
  HOP_BY_HOP_HEADERS,
  Lifecycle,
  listenLocal,
  LOCAL_HOST,
  readBody,
} from './common';
import { parseQuery, S3AuthError, type SigV4Credentials, verifySigV4 } from './sigv4';

export interface StartS3Options {
  /** The bucket's region; signatures must be scoped to it. */
  readonly region: string;
  /** The one bucket this S3 serves (created at start, empty). */
  readonly bucket: string;
  /** The only credentials whose signatures are accepted. */
  readonly credentials: SigV4Credentials | readonly SigV4Credentials[];
  /** Clock for expiry and skew checks (ms since the epoch); defaults to Date.now. */
  readonly now?: () => number;
  /** Largest body buffered to check a hex x-amz-content-sha256 (default 64 MiB). UNSIGNED-PAYLOAD bodies stream. */
  readonly maxBufferedBodyBytes?: number;
}

export interface LocalS3 {
  /** The verifying front, `http://127.0.0.1:PORT`: path-style requests, or virtual-hosted ones with Host = regionalHost. */
  readonly endpoint: string;
  /** `${bucket}.s3.${region}.amazonaws.com`, the origin host presigned URLs must be signed for. */
  readonly regionalHost: string;
  readonly bucket: string;
  readonly region: string;
  /** Every request the front received, per operation, before faults and authentication. */
  readonly calls: CallCounter;
  /** Requests that passed authentication and reached the object store, per operation. */
  readonly forwarded: CallCounter;
  readonly fault: FaultInjector;
  close(): Promise<void>;
}

/** Query parameters that only carry authentication; the store behind the front never sees them. */
const AUTH_QUERY_PARAMS = new Set([
  'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires',
  'x-amz-signedheaders', 'x-amz-signature', 'x-amz-security-token', 'x-amz-content-sha256',
]);

/** Request headers dropped before the store: authentication, and Expect (the front already accepted the body). */
const DROPPED_REQUEST_HEADERS = new Set([
  ...HOP_BY_HOP_HEADERS,
  'host', 'authorization', 'x-amz-content-sha256', 'x-amz-date', 'x-amz-security-token', 'expect',
]);

/** GetObject response overrides S3 honours on signed requests; applied by the front since the store sees anonymous requests. */
const RESPONSE_OVERRIDES: Readonly<Record<string, string>> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

const HEX_SHA256 = /^[0-9a-f]{64}$/;

interface Route {
  /** The bucket the request addresses (undefined for the service root, ListBuckets). */
  readonly bucket: string | undefined;
  /** Raw path after the bucket: '' or '/...'. */
  readonly keyPath: string;
  /** Path-style path for the store. */
  readonly upstreamPath: string;
}

/**
 * S3 on 127.0.0.1: s3rver stores objects, and a front verifies every request's SigV4
 * signature (header or presigned query) as S3 does before proxying it to s3rver
 * with its authentication removed, since s3rver accepts any V4 signature.
 */
export async function startS3(opts: StartS3Options): Promise<LocalS3> {
  const { region, bucket } = opts;
  const credentials = Array.isArray(opts.credentials)
    ? opts.credentials as readonly SigV4Credentials[]
    : [opts.credentials as SigV4Credentials];
  const now = opts.now ?? Date.now;
  const maxBuffered = opts.maxBufferedBodyBytes ?? 64 * 1024 * 1024;
  const regionalHost = `${bucket}.s3.${region}.amazonaws.com`;

  const directory = await mkdtemp(join(tmpdir(), 'local-s3-'));
  const store = new S3rver({
    address: LOCAL_HOST,
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  let storePort: number;
  try {
    storePort = (await store.run()).port;
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const agent = new Agent({ keepAlive: true });

  const calls = new CallCounter();
  const forwarded = new CallCounter();
  const fault = new FaultInjector();
  const life = new Lifecycle();
  const front = createServer();
  life.track(front);
  const frontPort = await listenLocal(front);
  const pathStyleHosts = new Set([`${LOCAL_HOST}:${frontPort}`, `localhost:${frontPort}`, `s3.${region}.amazonaws.com`]);

  const routeOf = (hostHeader: string, rawPath: string): Route => {
    const host = hostHeader.toLowerCase();
    const hostname = host.replace(/:\d+$/, '');
    if (hostname === regionalHost) {
      return { bucket, keyPath: rawPath, upstreamPath: `/${bucket}${rawPath}` };
    }
    if (pathStyleHosts.has(host) || pathStyleHosts.has(hostname)) {
      const slash = rawPath.indexOf('/', 1);
      const first = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
      return {
        bucket: first === '' ? undefined : safeDecode(first),
        keyPath: slash < 0 ? '' : rawPath.slice(slash),
        upstreamPath: rawPath,
      };
    }
    // Any other host names another bucket, virtual-hosted (`b.s3...`) or as a CNAME (the whole host).
    const virtual = /^(.+)\.s3[.-]/.exec(hostname);
    return { bucket: virtual ? virtual[1] : hostname, keyPath: rawPath, upstreamPath: rawPath };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const route = routeOf(req.headers.host ?? '', rawPath);
    const query = parseQuery(rawQuery);
    const operation = s3Operation(method, route, new Set(query.map(([name]) => name)), req.headers);
    calls.record(operation);

    const handled = await applyFault(fault.take(operation), req, res, life, {
      error: (status, code) => sendXmlError(req, res, status ?? 500, code ?? 'InternalError', 'We encountered an internal error. Please try again.'),
      throttle: (status, code) => sendXmlError(req, res, status ?? 503, code ?? 'SlowDown', 'Please reduce your request rate.'),
    });
    if (handled) return;

    let payloadHash: string;
    try {
      ({ payloadHash } = verifySigV4({ method, rawPath, rawQuery, rawHeaders: req.rawHeaders },
        { credentials, region, service: 's3', now: now() }));
    } catch (err) {
      if (err instanceof S3AuthError) {
        sendXmlError(req, res, err.status, err.code, err.message, err.details);
        return;
      }
      throw err;
    }

    if (route.bucket !== undefined && route.bucket !== bucket) {
      sendXmlError(req, res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: route.bucket });
      return;
    }
    if (payloadHash.startsWith('STREAMING-')) {
      sendXmlError(req, res, 501, 'NotImplemented',
        `The local S3 does not decode aws-chunked bodies (x-amz-content-sha256: ${payloadHash}); sign UNSIGNED-PAYLOAD or the body's sha256.`);
      return;
    }
    let body: Buffer | undefined;
    if (HEX_SHA256.test(payloadHash)) {
      // The signature covers the declared hash, so the body must be checked before the store keeps it.
      try {
        body = await readBody(req, maxBuffered);
      } catch (err) {
        if (err instanceof BodyTooLargeError) {
          sendXmlError(req, res, 400, 'EntityTooLarge', `The local S3 buffers signed payloads up to ${err.limit} bytes; sign UNSIGNED-PAYLOAD for larger bodies.`);
          return;
        }
        throw err;
      }
      const computed = createHash('sha256').update(body).digest('hex');
      if (computed !== payloadHash) {
        sendXmlError(req, res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
          ClientComputedContentSHA256: payloadHash,
          S3ComputedContentSHA256: computed,
        });
        return;
      }
    }

    forwarded.record(operation);
    forward(req, res, route, rawQuery, query, body);
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rawQuery: string,
    query: ReadonlyArray<readonly [string, string]>,
    body: Buffer | undefined,
  ): void => {
    const headers: OutgoingHttpHeaders = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      if (DROPPED_REQUEST_HEADERS.has(name)) continue;
      const previous = headers[name];
      headers[name] = previous === undefined ? req.rawHeaders[i + 1] : `${String(previous)}, ${req.rawHeaders[i + 1]}`;
    }
    headers.host = `${LOCAL_HOST}:${storePort}`;
    if (body) headers['content-length'] = String(body.length);
    else if (req.headers['transfer-encoding']) headers['transfer-encoding'] = req.headers['transfer-encoding'];

    const upstreamQuery = rawQuery
      .split('&')
      .filter((piece) => {
        if (piece === '') return false;
        const name = safeDecode(piece.split('=')[0]).toLowerCase();
        return !AUTH_QUERY_PARAMS.has(name) && RESPONSE_OVERRIDES[name] === undefined;
      })
      .join('&');
    const overrides = new Map<string, string>();
    for (const [name, value] of query) {
      const header = RESPONSE_OVERRIDES[name.toLowerCase()];
      if (header) overrides.set(header, value);
    }

    const upstream = httpRequest({
      host: LOCAL_HOST,
      port: storePort,
      method: req.method,
      path: upstreamQuery ? `${route.upstreamPath}?${upstreamQuery}` : route.upstreamPath,
      headers,
      agent,
    });
    upstream.on('response', (upRes) => {
      const status = upRes.statusCode ?? 502;
      const outHeaders = copyResponseHeaders(upRes.headers);
      if ((status === 200 || status === 206) && (req.method === 'GET' || req.method === 'HEAD')) {
        for (const [header, value] of overrides) outHeaders[header] = value;
      }
      res.writeHead(status, outHeaders);
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!res.headersSent) {
        sendXmlError(req, res, 500, 'InternalError', 'We encountered an internal error. Please try again.');
      } else {
        res.destroy();
      }
    });
    // A client that goes away mid-transfer must not leave the store's request dangling.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (body) upstream.end(body);
    else req.pipe(upstream);
  };

  front.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        sendXmlError(req, res, 500, 'InternalError', err instanceof Error ? err.message : String(err));
      } else {
        res.destroy();
      }
    });
  });

  return {
    endpoint: `http://${LOCAL_HOST}:${frontPort}`,
    regionalHost,
    bucket,
    region,
    calls,
    forwarded,
    fault,
    close: async () => {
      await closeServer(front, life);
      agent.destroy();
      const closing = store.close();
      // The agent's sockets are gone; make sure none of the store's linger either.
      store.httpServer?.closeAllConnections();
      await closing;
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The S3 API operation a request maps to, for counting and for per-operation faults. */
export function s3Operation(
  method: string,
  route: { readonly bucket: string | undefined; readonly keyPath: string },
  params: ReadonlySet<string>,
  headers: IncomingHttpHeaders,
): string {
  if (route.bucket === undefined) return method === 'GET' ? 'ListBuckets' : `${method}Service`;
  const copy = headers['x-amz-copy-source'] !== undefined;
  if (route.keyPath === '' || route.keyPath === '/') {
    switch (method) {
      case 'GET':
        if (params.has('uploads')) return 'ListMultipartUploads';
        if (params.has('location')) return 'GetBucketLocation';
        return params.has('list-type') ? 'ListObjectsV2' : 'ListObjects';
      case 'HEAD': return 'HeadBucket';
      case 'PUT': return 'CreateBucket';
      case 'DELETE': return 'DeleteBucket';
      case 'POST': return params.has('delete') ? 'DeleteObjects' : 'PostBucket';
      default: return `${method}Bucket`;
    }
  }
  switch (method) {
    case 'GET':
      if (params.has('uploadId')) return 'ListParts';
      return params.has('tagging') ? 'GetObjectTagging' : 'GetObject';
    case 'HEAD': return 'HeadObject';
    case 'PUT':
      if (params.has('uploadId')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (params.has('tagging')) return 'PutObjectTagging';
      return copy ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (params.has('uploads')) return 'CreateMultipartUpload';
      return params.has('uploadId') ? 'CompleteMultipartUpload' : 'PostObject';
    case 'DELETE':
      return params.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    default:
      return `${method}Object`;
  }
}

function copyResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP_HEADERS.has(name)) out[name] = value;
  }
  return out;
}

function xmlEscape(s: string): string {
  // Text content only: quotes need no escaping there, and S3 leaves them as they are.
  const entities: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;' };
  return s.replace(/[<>&]/g, (c) => entities[c]);
}

/** An S3 XML error (for HEAD, Node sends the status and headers only, as S3 does). */
function sendXmlError(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details: Readonly<Record<string, string>> = {},
): void {
  const requestId = randomBytes(8).toString('hex').toUpperCase();
  const extra = Object.entries(details).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${extra}`
    + `<RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`;
  // Unread request bodies are discarded so the connection can be reused.
  req.resume();
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': requestId,
    'x-amz-id-2': 'local',
  });
  res.end(body);
}
