/// <reference path="./vendor.d.ts" />
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
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
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';
import { evaluateBucketPolicy, type LocalBucketPolicy, readsObjectTags, s3Action, validateBucketPolicy } from './bucket-policy';
import {
  applyFault,
  BodyTooLargeError,
  CallCounter,
  closeServer,
  FaultInjector,
  type FaultResponder,
  type FaultSpec,
  HOP_BY_HOP_HEADERS,
  Lifecycle,
  listenLocal,
  LOCAL_HOST,
  readBody,
} from './common';
import {
  canonicalUri,
  decodeS3Path,
  encodeRfc3986,
  hasMalformedEscape,
  parseQuery,
  S3AuthError,
  type CredentialLookup,
  type SigV4Credentials,
  verifySigV4,
} from './sigv4';

export interface StartS3Options {
  /** The bucket's region; signatures must be scoped to it. */
  readonly region: string;
  /** The one bucket this S3 serves (created at start, empty). */
  readonly bucket: string;
  /**
   * The only credentials whose signatures are accepted, or a lookup into the account's
   * identities (local/servers/identities.ts): keys may come and go, and sessions end.
   */
  readonly credentials: SigV4Credentials | readonly SigV4Credentials[] | CredentialLookup;
  /**
   * The signer's identity policy: whether the principal may s3:GetObject this key (HEAD
   * included). Unset: every known key may read everything.
   */
  readonly mayRead?: (principalArn: string, key: string) => boolean;
  /**
   * The signer's identity policy for writes: whether the principal may s3:PutObject this key
   * (PutObject, CopyObject and the multipart operations). Unset: every known key may write everything.
   */
  readonly mayWrite?: (principalArn: string, key: string) => boolean;
  /** Clock for expiry and skew checks (ms since the epoch); defaults to Date.now. */
  readonly now?: () => number;
  /**
   * The bucket policy (local/servers/bucket-policy.ts), evaluated with the identity policy
   * ({@link mayRead}) as AWS does within one account: an explicit Deny in it refuses any
   * request, and an Allow in it lets a principal read what its identity policy does not.
   * Unset: no bucket policy. Can be replaced later with {@link LocalS3.setBucketPolicy}.
   */
  readonly bucketPolicy?: LocalBucketPolicy;
  /** Largest body buffered to check a hex x-amz-content-sha256 (default 64 MiB). UNSIGNED-PAYLOAD bodies stream. */
  readonly maxBufferedBodyBytes?: number;
  /**
   * Faults on the first GetObject of a key (see {@link OriginFaultKind}); a list fails that
   * many GETs of the key in turn. More can be added later with {@link LocalS3.injectOriginFault}.
   */
  readonly originFaults?: OriginFaults;
}

/**
 * How the local S3 answers one GetObject of a key, instead of serving it:
 * - `500`: InternalError, as S3 sends it (XML body, x-amz-request-id and x-amz-id-2).
 * - `503`: SlowDown, as S3 sends it.
 * - `reset`: the connection is destroyed without an answer.
 * - `timeout`: the request is read and never answered (until the client gives up or the S3 closes).
 */
export type OriginFaultKind = '500' | '503' | 'reset' | 'timeout';
export const ORIGIN_FAULT_KINDS: readonly OriginFaultKind[] = ['500', '503', 'reset', 'timeout'];
/** Object key (as stored, no leading '/') to the fault(s) its next GETs meet, in order. */
export type OriginFaults = Readonly<Record<string, OriginFaultKind | readonly OriginFaultKind[]>>;

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
  /**
   * The next GetObject of `key` that S3 would serve (authenticated and authorized) meets
   * `kind` instead; later GETs are served normally. Faults queue per key, in order.
   */
  injectOriginFault(key: string, kind: OriginFaultKind): void;
  /** What PutBucketPolicy (or DeleteBucketPolicy, with undefined) does: later requests follow the new policy. */
  setBucketPolicy(policy: LocalBucketPolicy | undefined): void;
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

/**
 * S3's largest single PUT: "Upload an object in a single operation by using the AWS SDKs, REST
 * API, or AWS CLI – With a single PUT operation, you can upload a single object up to 5 GB in
 * size" ("Uploading objects", https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
 */
const MAX_PUT_BYTES = 5 * 1024 ** 3;

interface Route {
  /** The bucket the request addresses (undefined for the service root, ListBuckets). */
  readonly bucket: string | undefined;
  /** Raw path after the bucket: '' or '/...'. */
  readonly keyPath: string;
  /** Path-style path for the store, addressing the key S3 would read (see canonicalUri). */
  readonly upstreamPath: string;
}

/** A Range header as S3 reads it: one byte range, or none (absent, malformed or several: the whole object). */
type ByteRange =
  | { readonly kind: 'from'; readonly first: number; readonly last: number | undefined }
  | { readonly kind: 'suffix'; readonly length: number };

/**
 * S3 on 127.0.0.1: s3rver stores objects, and a front verifies every request's SigV4
 * signature (header or presigned query) as S3 does before proxying it to s3rver
 * with its authentication removed, since s3rver accepts any V4 signature.
 */
export async function startS3(opts: StartS3Options): Promise<LocalS3> {
  const { region, bucket } = opts;
  const credentials: readonly SigV4Credentials[] | CredentialLookup = typeof opts.credentials === 'function'
    ? opts.credentials
    : Array.isArray(opts.credentials) ? opts.credentials as readonly SigV4Credentials[] : [opts.credentials as SigV4Credentials];
  const lookup = (id: string) => (typeof credentials === 'function' ? credentials(id) : credentials.find((c) => c.accessKeyId === id));
  const now = opts.now ?? Date.now;
  const maxBuffered = opts.maxBufferedBodyBytes ?? 64 * 1024 * 1024;
  const regionalHost = `${bucket}.s3.${region}.amazonaws.com`;
  let bucketPolicy: LocalBucketPolicy | undefined;
  const setBucketPolicy = (policy: LocalBucketPolicy | undefined): void => {
    if (policy) validateBucketPolicy(policy);
    bucketPolicy = policy === undefined ? undefined : JSON.parse(JSON.stringify(policy)) as LocalBucketPolicy;
  };
  setBucketPolicy(opts.bucketPolicy);

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
  const spoolDirectory = await mkdtemp(join(tmpdir(), 'local-s3-spool-'));
  /** Writes of a key (PutObject commits, DeleteObject), one at a time. */
  const writes = new KeyQueue();
  /** Conditional PutObjects of a key whose body is still arriving or waiting to commit. */
  const conditionalWrites = new Map<string, Set<{ conflicted: boolean }>>();

  const calls = new CallCounter();
  const forwarded = new CallCounter();
  const fault = new FaultInjector();
  const originFaults = new Map<string, OriginFaultKind[]>();
  const injectOriginFault = (key: string, kind: OriginFaultKind): void => {
    if (!ORIGIN_FAULT_KINDS.includes(kind)) throw new Error(`origin fault must be one of ${ORIGIN_FAULT_KINDS.join(', ')}, got ${String(kind)}`);
    originFaults.set(key, [...originFaults.get(key) ?? [], kind]);
  };
  for (const [key, kinds] of Object.entries(opts.originFaults ?? {})) {
    for (const kind of typeof kinds === 'string' ? [kinds] : kinds) injectOriginFault(key, kind);
  }
  const life = new Lifecycle();
  const front = createServer();
  life.track(front);
  const frontPort = await listenLocal(front);
  const pathStyleHosts = new Set([`${LOCAL_HOST}:${frontPort}`, `localhost:${frontPort}`, `s3.${region}.amazonaws.com`]);

  const routeOf = (hostHeader: string, rawPath: string): Route => {
    const host = hostHeader.toLowerCase();
    const hostname = host.replace(/:\d+$/, '');
    // The store gets the key S3 would address, UriEncoded once: '+' read as a space, either
    // hex case, '~' or '%7E' alike (see canonicalUri), so it reads the object S3 would read.
    const bucketRoute = (name: string, keyPath: string): Route => ({
      bucket: name,
      keyPath,
      upstreamPath: `/${encodeRfc3986(name)}${keyPath === '' ? '' : canonicalUri(keyPath)}`,
    });
    if (hostname === regionalHost) return bucketRoute(bucket, rawPath);
    if (pathStyleHosts.has(host) || pathStyleHosts.has(hostname)) {
      const slash = rawPath.indexOf('/', 1);
      const first = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
      const keyPath = slash < 0 ? '' : rawPath.slice(slash);
      if (first === '') return { bucket: undefined, keyPath, upstreamPath: rawPath };
      return bucketRoute(decodeS3Path(first) ?? first, keyPath);
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
    // S3 reads a raw '+' in the query as a space too (see parseQuery).
    const query = parseQuery(rawQuery, true);
    const operation = s3Operation(method, route, new Set(query.map(([name]) => name)), req.headers);
    calls.record(operation);

    // S3 refuses a broken escape before anything else: status line "400 Invalid URI: isHexDigit",
    // no body (versity/versitygw#2070 records S3's answer for one in the path; the query is
    // assumed to be read by the same parser).
    if (hasMalformedEscape(rawPath) || hasMalformedEscape(rawQuery)) {
      req.resume();
      res.writeHead(400, 'Invalid URI: isHexDigit', { 'content-length': 0, 'connection': 'close' });
      res.end();
      return;
    }
    // A path whose escapes are not UTF-8 names no key: S3 answers InvalidURI (larrabee/s3sync#45;
    // InvalidURI "Couldn't parse the specified URI." in docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
    if (decodeS3Path(rawPath) === undefined) {
      sendXmlError(req, res, 400, 'InvalidURI', "Couldn't parse the specified URI.");
      return;
    }

    const handled = await applyFault(fault.take(operation), req, res, life, faultResponder(req, res));
    if (handled) return;

    let payloadHash: string;
    let accessKeyId: string;
    try {
      ({ payloadHash, accessKeyId } = verifySigV4({ method, rawPath, rawQuery, rawHeaders: req.rawHeaders },
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
    // The bucket policy's explicit Deny refuses; otherwise the identity policy's Allow or the
    // bucket policy's Allow lets the request through, and with neither it is an implicit deny,
    // the same AccessDenied (IAM User Guide, "Policy evaluation logic": within one account an
    // allow in either suffices; a request is denied unless a policy allows it,
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html).
    // Only s3:GetObject (HeadObject included) is scoped by identity policies here; other
    // operations are allowed to every key the account knows, as before, unless a Deny says no.
    // The front speaks plain HTTP on 127.0.0.1 but stands for S3's HTTPS endpoint, which every
    // SDK and CloudFront use: aws:SecureTransport is true.
    const principalArn = lookup(accessKeyId)?.principalArn;
    const objectKey = (decodeS3Path(route.keyPath) ?? '').slice(1);
    const isRead = operation === 'GetObject' || operation === 'HeadObject';
    // A policy that reads the object's tags (s3:ExistingObjectTag) sees them as stored.
    const objectTags = bucketPolicy && principalArn && isRead && readsObjectTags(bucketPolicy) ? await storedTags(route) : undefined;
    const decision = bucketPolicy && principalArn
      ? evaluateBucketPolicy(bucketPolicy, {
        principalArn,
        action: s3Action(operation),
        resource: route.keyPath === '' || route.keyPath === '/' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${objectKey}`,
        secureTransport: true,
        ...(objectTags === undefined ? {} : { objectTags }),
      })
      : 'none';
    // s3:PutObject (PutObject, CopyObject, the multipart operations) is scoped by mayWrite alike.
    const isWrite = s3Action(operation) === 's3:PutObject';
    const identityPolicy = isRead ? opts.mayRead : isWrite ? opts.mayWrite : undefined;
    const identityAllows = !(identityPolicy && principalArn) || identityPolicy(principalArn, objectKey);
    if (decision === 'deny' || (!identityAllows && decision !== 'allow')) {
      sendXmlError(req, res, 403, 'AccessDenied', 'Access Denied');
      return;
    }
    if (payloadHash.startsWith('STREAMING-')) {
      sendXmlError(req, res, 501, 'NotImplemented',
        `The local S3 does not decode aws-chunked bodies (x-amz-content-sha256: ${payloadHash}); sign UNSIGNED-PAYLOAD or the body's sha256.`);
      return;
    }
    let conditional = false;
    if (operation === 'PutObject') {
      // PutObject's If-None-Match "Expects the '*' (asterisk) character" (PutObject API reference,
      // https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html); S3 answers any other
      // value with 501 NotImplemented, "A header you provided implies functionality that is not
      // implemented" (aws/aws-sdk-ruby#3144, an ETag sent as If-None-Match on put_object).
      const ifNoneMatch = req.headers['if-none-match'];
      if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
        sendXmlError(req, res, 501, 'NotImplemented', 'A header you provided implies functionality that is not implemented', { Header: 'If-None-Match' });
        return;
      }
      conditional = ifNoneMatch !== undefined;
      // A PUT must say how long its body is (chunked transfer encoding is not accepted either):
      // MissingContentLength, 411, "You must provide the Content-Length HTTP header." (S3 error
      // codes, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
      const declared = req.headers['content-length'];
      if (declared === undefined) {
        sendXmlError(req, res, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
        return;
      }
      if (Number(declared) > MAX_PUT_BYTES) {
        sendXmlError(req, res, 400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size',
          { ProposedSize: declared, MaxSizeAllowed: String(MAX_PUT_BYTES) });
        return;
      }
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

    // An origin fault takes the place of a GET S3 would serve: a GET it refuses above keeps
    // its refusal (and leaves the fault for the next one), as a bypass attempt should.
    if (operation === 'GetObject') {
      const key = (decodeS3Path(route.keyPath) ?? '').slice(1);
      const queued = originFaults.get(key);
      const kind = queued?.shift();
      if (queued?.length === 0) originFaults.delete(key);
      if (kind !== undefined) {
        await applyFault(ORIGIN_FAULT_SPECS[kind], req, res, life, faultResponder(req, res));
        return;
      }
    }

    if (operation === 'PutObject') {
      await putObject(req, res, route, rawQuery, body, conditional);
      return;
    }
    if (operation === 'DeleteObject') {
      // A delete that succeeds while a conditional write of the key is in flight makes that
      // write fail with 409 (see putObject).
      await writes.run(route.upstreamPath, async () => {
        forwarded.record(operation);
        const status = await forward(req, res, route, rawQuery, query, body, undefined);
        if (status >= 200 && status < 300) {
          for (const flight of conditionalWrites.get(route.upstreamPath) ?? []) flight.conflicted = true;
        }
      });
      return;
    }
    // A read never sees an object while the store is writing it.
    if (isRead) await writes.settled(route.upstreamPath);
    forwarded.record(operation);
    const ranged = isRead && req.headers.range !== undefined;
    await forward(req, res, route, rawQuery, query, body, ranged ? { header: req.headers.range ?? '', range: parseRange(req.headers.range ?? '') } : undefined);
  };

  /**
   * PutObject as S3 does it: the object appears whole or not at all. The body is received
   * first (buffered when its sha256 was signed, else spooled to a file, never held in
   * memory); a body that ends before its Content-Length stores nothing (IncompleteBody, 400,
   * "You did not provide the number of bytes specified by the Content-Length HTTP header.",
   * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). Then, one write of
   * a key at a time, the condition is checked and the object handed to the store; reads of
   * the key wait for that (s3rver writes an object in place).
   *
   * `If-None-Match: *` follows "How to prevent object overwrites with conditional writes"
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html): "If
   * there's an existing object, the write operation fails, resulting in a 412 Precondition
   * Failed response"; "If multiple conditional writes or copies occur for the same object
   * name, the first write operation to finish succeeds. Amazon S3 then fails subsequent
   * writes with a 412 Precondition Failed response. You can also receive a 409 Conflict
   * response in the case of concurrent requests if a delete request to an object succeeds
   * before a conditional write operation on that object completes." So the condition is
   * checked when the body has arrived, not when the request starts, and a conditional write
   * that a successful DeleteObject overtook answers 409 ConditionalRequestConflict (the
   * PutObject API reference: "If a conflicting operation occurs during the upload S3 returns
   * a 409 ConditionalRequestConflict response. On a 409 failure you should retry the upload.").
   */
  const putObject = async (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rawQuery: string,
    buffered: Buffer | undefined,
    conditional: boolean,
  ): Promise<void> => {
    const key = route.upstreamPath;
    const flight = { conflicted: false };
    if (conditional) conditionalWrites.set(key, new Set([...conditionalWrites.get(key) ?? [], flight]));
    let spool: string | undefined;
    try {
      const declared = Number(req.headers['content-length']);
      let size = buffered?.length ?? 0;
      if (!buffered) {
        spool = join(spoolDirectory, randomBytes(12).toString('hex'));
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            size += chunk.length;
            done(null, chunk);
          },
        });
        const arrived = await pipeline(req, counter, createWriteStream(spool)).then(() => true, () => false);
        if (!arrived || size !== declared) {
          if (req.socket.destroyed) res.destroy();
          else sendXmlError(req, res, 400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
          return;
        }
      }
      const file = spool;
      await writes.run(key, async () => {
        if (conditional && flight.conflicted) {
          sendXmlError(req, res, 409, 'ConditionalRequestConflict', 'A conflicting conditional operation is currently in progress against this resource. Please try again.');
          return;
        }
        if (conditional && await storeHas(route)) {
          sendXmlError(req, res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
          return;
        }
        forwarded.record('PutObject');
        // The front has checked the condition; s3rver gets a plain PUT.
        const answer = await storeRequest('PUT', route, rawQuery, storeHeaders(req, { 'content-length': String(size) }, new Set(['if-none-match', 'transfer-encoding'])),
          buffered ?? createReadStream(file!));
        if (answer.status === 200) await untilStored(route, size);
        const outHeaders = copyResponseHeaders(answer.headers);
        for (const [name, value] of Object.entries(amzRequestIds())) outHeaders[name] ??= value;
        outHeaders['content-length'] = String(answer.body.length);
        res.writeHead(answer.status, outHeaders);
        res.end(answer.body);
      });
    } finally {
      conditionalWrites.get(key)?.delete(flight);
      if (conditionalWrites.get(key)?.size === 0) conditionalWrites.delete(key);
      if (spool) await rm(spool, { force: true });
    }
  };

  /** One request to the store, its answer read whole (only for small answers: PUT, HEAD, tags). */
  const storeRequest = (
    method: string,
    route: Route,
    rawQuery: string,
    headers: OutgoingHttpHeaders,
    body?: Buffer | Readable,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> => new Promise((resolve, reject) => {
    const upstream = httpRequest({ host: LOCAL_HOST, port: storePort, method, path: upstreamTarget(route, rawQuery), headers, agent });
    upstream.on('response', (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', () => resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: Buffer.concat(chunks) }));
      upRes.on('error', reject);
    });
    upstream.on('error', reject);
    if (body instanceof Readable) {
      body.on('error', (err) => upstream.destroy(err));
      body.pipe(upstream);
    } else {
      upstream.end(body);
    }
  });
  const storeHas = async (route: Route): Promise<boolean> => (await storeRequest('HEAD', route, '', { host: `${LOCAL_HOST}:${storePort}` })).status === 200;
  /** s3rver answers a PUT before its file is flushed: wait until the store holds all of it. */
  const untilStored = async (route: Route, size: number): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      const head = await storeRequest('HEAD', route, '', { host: `${LOCAL_HOST}:${storePort}` });
      if (head.status === 200 && Number(head.headers['content-length']) === size) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  /** The client's headers as the store gets them: authentication, Expect, framing and `skip` left out. */
  const storeHeaders = (req: IncomingMessage, overrides: OutgoingHttpHeaders, skip: ReadonlySet<string> = new Set()): OutgoingHttpHeaders => {
    const headers: OutgoingHttpHeaders = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i].toLowerCase();
      if (DROPPED_REQUEST_HEADERS.has(name) || skip.has(name) || name === 'content-length') continue;
      const previous = headers[name];
      headers[name] = previous === undefined ? req.rawHeaders[i + 1] : `${String(previous)}, ${req.rawHeaders[i + 1]}`;
    }
    headers.host = `${LOCAL_HOST}:${storePort}`;
    return { ...headers, ...overrides };
  };

  /** Path and query for the store: each parameter re-encoded from what S3 reads ('+' a space), authentication and response overrides left out. */
  const upstreamTarget = (route: Route, rawQuery: string): string => {
    const upstreamQuery = rawQuery
      .split('&')
      .filter((piece) => piece !== '')
      .map((piece) => {
        const eq = piece.indexOf('=');
        const [[name, value]] = parseQuery(piece, true);
        return { name, encoded: eq < 0 ? encodeRfc3986(name) : `${encodeRfc3986(name)}=${encodeRfc3986(value)}` };
      })
      .filter(({ name }) => !AUTH_QUERY_PARAMS.has(name.toLowerCase()) && RESPONSE_OVERRIDES[name.toLowerCase()] === undefined)
      .map(({ encoded }) => encoded)
      .join('&');
    return upstreamQuery ? `${route.upstreamPath}?${upstreamQuery}` : route.upstreamPath;
  };

  /** An object's tags as the store holds them (GetObjectTagging), or undefined when there is no such object. */
  const storedTags = async (route: Route): Promise<Record<string, string> | undefined> => {
    const answer = await storeRequest('GET', route, 'tagging', { host: `${LOCAL_HOST}:${storePort}` });
    if (answer.status !== 200) return undefined;
    const tags: Record<string, string> = {};
    for (const m of answer.body.toString('utf8').matchAll(/<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g)) tags[m[1]] = m[2];
    return tags;
  };

  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    rawQuery: string,
    query: ReadonlyArray<readonly [string, string]>,
    body: Buffer | undefined,
    ranged: { readonly header: string; readonly range: ByteRange | undefined } | undefined,
  ): Promise<number> => {
    // The front serves ranges itself (s3rver gets suffix, 0-0 and multiple ranges wrong): the store sends the whole object.
    const headers = storeHeaders(req, {}, ranged ? new Set(['range']) : new Set());
    if (body) headers['content-length'] = String(body.length);
    else if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    else if (req.headers['transfer-encoding']) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    const overrides = new Map<string, string>();
    for (const [name, value] of query) {
      const header = RESPONSE_OVERRIDES[name.toLowerCase()];
      if (header) overrides.set(header, value);
    }

    const upstream = httpRequest({
      host: LOCAL_HOST,
      port: storePort,
      method: req.method,
      path: upstreamTarget(route, rawQuery),
      headers,
      agent,
    });
    const answered = new Promise<number>((resolve) => res.once('close', () => resolve(res.statusCode)));
    upstream.on('response', (upRes) => {
      let status = upRes.statusCode ?? 502;
      const outHeaders = copyResponseHeaders(upRes.headers);
      let slice: { first: number; last: number } | undefined;
      const size = Number(upRes.headers['content-length']);
      if (ranged?.range && status === 200 && Number.isSafeInteger(size)) {
        const resolved = resolveRange(ranged.range, size);
        if (resolved === 'unsatisfiable') {
          upRes.resume();
          sendXmlError(req, res, 416, 'InvalidRange', 'The requested range is not satisfiable',
            { RangeRequested: ranged.header, ActualObjectSize: String(size) },
            { 'content-range': `bytes */${size}` });
          return;
        }
        if (resolved) {
          slice = resolved;
          status = 206;
          outHeaders['content-range'] = `bytes ${resolved.first}-${resolved.last}/${size}`;
          outHeaders['content-length'] = String(resolved.last - resolved.first + 1);
        }
      }
      if ((status === 200 || status === 206) && (req.method === 'GET' || req.method === 'HEAD')) {
        for (const [header, value] of overrides) outHeaders[header] = value;
        // Every object is encrypted at rest with SSE-S3 (the construct's bucket says so, and S3
        // encrypts every new object since January 2023: "Using server-side encryption with Amazon
        // S3 managed keys (SSE-S3)", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html),
        // and GetObject and HeadObject name the algorithm in x-amz-server-side-encryption
        // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).
        outHeaders['x-amz-server-side-encryption'] = 'AES256';
      }
      for (const [name, value] of Object.entries(amzRequestIds())) outHeaders[name] ??= value;
      res.writeHead(status, outHeaders);
      upRes.on('error', () => res.destroy());
      if (slice && req.method !== 'HEAD') upRes.pipe(byteSlice(slice.first, slice.last)).pipe(res);
      else upRes.pipe(res);
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
    return answered;
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
    injectOriginFault,
    setBucketPolicy,
    close: async () => {
      await closeServer(front, life);
      agent.destroy();
      const closing = store.close();
      // The agent's sockets are gone; make sure none of the store's linger either.
      store.httpServer?.closeAllConnections();
      await closing;
      await rm(directory, { recursive: true, force: true });
      await rm(spoolDirectory, { recursive: true, force: true });
    },
  };
}

/**
 * Reads a Range header as S3 GetObject does (docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
 * RFC 9110 section 14): one `bytes=first-[last]` or `bytes=-suffix` range. Several ranges are
 * ignored ("Amazon S3 doesn't support retrieving multiple ranges of data per GET request": S3
 * answers 200 with the whole object, awslabs/aws-c-s3#257, basho/riak_cs#304), and so is a
 * malformed header or another unit (RFC 9110 14.2: a server may ignore Range).
 */
export function parseRange(header: string): ByteRange | undefined {
  const m = /^\s*bytes\s*=\s*(?:(\d+)\s*-\s*(\d*)|-\s*(\d+))\s*$/i.exec(header);
  if (!m) return undefined;
  if (m[3] !== undefined) return { kind: 'suffix', length: Number(m[3]) };
  const first = Number(m[1]);
  const last = m[2] === '' ? undefined : Number(m[2]);
  if (last !== undefined && last < first) return undefined;
  return { kind: 'from', first, last };
}

/**
 * The bytes a range selects from an object of `size` bytes: a last byte past the end is
 * clamped; a first byte at or past the end, or a zero-length suffix, is unsatisfiable (416
 * InvalidRange with a Content-Range that gives only the size, as RFC 9110 15.5.17 says). A suffix range of an
 * empty object selects nothing and is ignored (200 with the empty object).
 */
export function resolveRange(range: ByteRange, size: number): { first: number; last: number } | 'unsatisfiable' | undefined {
  if (range.kind === 'suffix') {
    if (range.length === 0) return 'unsatisfiable';
    if (size === 0) return undefined;
    return { first: Math.max(0, size - range.length), last: size - 1 };
  }
  if (range.first >= size) return 'unsatisfiable';
  return { first: range.first, last: Math.min(range.last ?? size - 1, size - 1) };
}

/** Runs tasks per key one at a time, in arrival order. */
class KeyQueue {
  private readonly tails = new Map<string, Promise<void>>();

  public async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const done = new Promise<void>((resolve) => { release = resolve; });
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Resolves once the tasks of `key` queued so far have run. */
  public async settled(key: string): Promise<void> {
    await this.tails.get(key);
  }
}

/** Passes on only bytes first..last (inclusive) of the stream. */
function byteSlice(first: number, last: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const start = Math.max(first - offset, 0);
      const end = Math.min(last + 1 - offset, chunk.length);
      offset += chunk.length;
      done(null, end > start ? chunk.subarray(start, end) : undefined);
    },
  });
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
  headers: OutgoingHttpHeaders = {},
): void {
  const ids = amzRequestIds();
  const requestId = ids['x-amz-request-id'];
  const extra = Object.entries(details).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n'
    + `<Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message>${extra}`
    + `<RequestId>${requestId}</RequestId><HostId>${ids['x-amz-id-2']}</HostId></Error>`;
  // Unread request bodies are discarded so the connection can be reused.
  req.resume();
  res.writeHead(status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    ...ids,
    ...headers,
  });
  res.end(body);
}

/** The origin faults as the pre-serve faults every local server applies (local/servers/common.ts). */
const ORIGIN_FAULT_SPECS: Readonly<Record<OriginFaultKind, FaultSpec>> = {
  500: { mode: 'error' },
  503: { mode: 'throttle' },
  reset: { mode: 'reset' },
  timeout: { mode: 'hang' },
};

/**
 * S3's InternalError and SlowDown, as S3 words them on the wire (its error table,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, lists both codes
 * with their statuses: InternalError 500, SlowDown 503).
 */
function faultResponder(req: IncomingMessage, res: ServerResponse): FaultResponder {
  return {
    error: (status, code) => sendXmlError(req, res, status ?? 500, code ?? 'InternalError', 'We encountered an internal error. Please try again.'),
    throttle: (status, code) => sendXmlError(req, res, status ?? 503, code ?? 'SlowDown', 'Please reduce your request rate.'),
  };
}

/**
 * The two ids S3 puts on every response ("Common Response Headers",
 * https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonResponseHeaders.html):
 * x-amz-request-id (16 upper-case hex digits) and x-amz-id-2, the extended request id
 * (base64, which S3 also writes as HostId in error bodies).
 */
function amzRequestIds(): { 'x-amz-request-id': string; 'x-amz-id-2': string } {
  return {
    'x-amz-request-id': randomBytes(8).toString('hex').toUpperCase(),
    'x-amz-id-2': randomBytes(57).toString('base64'),
  };
}
