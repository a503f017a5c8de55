import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { ALGORITHM_IDENTIFIER, getCanonicalQuery, MAX_PRESIGNED_TTL, UNSIGNED_PAYLOAD } from '@smithy/signature-v4';

export interface SigV4Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests must carry exactly this X-Amz-Security-Token. */
  readonly sessionToken?: string;
  /** When the session ends (ms since the epoch): a request signed with it afterwards gets ExpiredToken. */
  readonly sessionEndsAt?: number;
  /** Who the key belongs to (an IAM user or role ARN), for identity and bucket policies. */
  readonly principalArn?: string;
}

/** Finds the credentials of an access key id, as IAM and STS know them. */
export type CredentialLookup = (accessKeyId: string) => SigV4Credentials | undefined;

/** A request exactly as it arrived on the wire. */
export interface ReceivedRequest {
  readonly method: string;
  /** The path as received, still percent-encoded, without the query. */
  readonly rawPath: string;
  /** The query as received, without the leading '?'. */
  readonly rawQuery: string;
  /** Node's `req.rawHeaders`: alternating names and values as received. */
  readonly rawHeaders: readonly string[];
}

export interface VerifyOptions {
  readonly credentials: readonly SigV4Credentials[] | CredentialLookup;
  readonly region: string;
  readonly service: string;
  /** Current time in ms since the epoch. */
  readonly now: number;
  /** Allowed clock difference for header auth (S3: 15 minutes). */
  readonly maxSkewMs?: number;
  /**
   * Normalize the path and encode each segment once more, as every service but S3 does
   * (and as SignatureV4's default `uriEscapePath: true` signs). Default: service !== 's3'.
   */
  readonly uriEscapePath?: boolean;
  /**
   * Read a raw '+' in the query as a space (form encoding), as S3 does. Default: service === 's3';
   * other services keep it a literal plus.
   */
  readonly plusAsSpace?: boolean;
  /**
   * For services other than S3: hex sha256 of the received body, the payload hash they
   * sign. S3 instead signs the declared x-amz-content-sha256 (or UNSIGNED-PAYLOAD).
   */
  readonly bodySha256?: string;
}

export interface VerifiedRequest {
  readonly mechanism: 'header' | 'query';
  readonly accessKeyId: string;
  /** The payload hash that was signed: UNSIGNED-PAYLOAD, a STREAMING-* marker or 64 hex digits. */
  readonly payloadHash: string;
}

/** A SigV4 failure, carrying S3's status, error code and extra XML fields. */
export class S3AuthError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export type AuthMechanism = 'none' | 'header' | 'query' | 'both';

export interface CredentialScope {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

const QUERY_AUTH_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'] as const;
const DEFAULT_MAX_SKEW_MS = 15 * 60 * 1000;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * Splits a raw query into decoded (name, value) pairs. With `plusAsSpace` (S3) a raw '+'
 * is a space, as in form encoding: S3 accepts a URL signed over `%20` but sent with '+'
 * (mhart/aws4fetch#83), and reads a raw '+' in a SigV2 signature as a space. Otherwise
 * '+' stays a literal plus (other services; SigV4 signers encode spaces as %20).
 */
export function parseQuery(rawQuery: string, plusAsSpace = false): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(name, plusAsSpace), percentDecode(value, plusAsSpace)]);
  }
  return pairs;
}

function percentDecode(s: string, plusAsSpace = false): string {
  const spaced = plusAsSpace ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Malformed escapes stay raw; the canonical form then encodes the '%' and the signature cannot match.
    return spaced;
  }
}

/** True when some '%' is not followed by two hex digits. */
export function hasMalformedEscape(s: string): boolean {
  return /%(?![0-9A-Fa-f]{2})/.test(s);
}

/**
 * The bytes S3 reads from a raw path: %XX escapes in either hex case, and a raw '+' as a
 * space (S3's legacy form decoding of the path: nginx/nginx-s3-gateway#77,
 * anomalizer/ngx_aws_auth#87, aws/aws-sdk-java#2128). A malformed '%' is kept as a literal
 * '%' byte here; the S3 front refuses such requests before they get this far.
 */
export function decodeS3PathBytes(rawPath: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath[i];
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(rawPath.slice(i + 1, i + 3))) {
      bytes.push(parseInt(rawPath.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c === '+') {
      bytes.push(0x20);
    } else {
      const code = rawPath.codePointAt(i)!;
      if (code > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

/** The object key (or bucket) S3 addresses for a raw path piece, or undefined when it is not valid UTF-8. */
export function decodeS3Path(rawPath: string): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(decodeS3PathBytes(rawPath));
  } catch {
    return undefined;
  }
}

/** SigV4's UriEncode over bytes: everything but unreserved characters (and '/' when kept) as uppercase %XX. */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')
      ? c
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The canonical URI. S3 (the default) decodes the path into the key it addresses (percent
 * escapes in either hex case, a raw '+' as a space) and signs that key UriEncoded once, '/'
 * kept: the S3 SigV4 reference ("URI-encoded version of the absolute path", object key '/'
 * not encoded: docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
 * So '~' and '%7E' sign alike (boto/boto#2849: S3 expected '/~' for a path sent as '/%7E'),
 * as do '%2b' and '%2B', and a raw '+' signs as '%20' (S3's own CanonicalRequest in
 * anomalizer/ngx_aws_auth#87 and nginx/nginx-s3-gateway#77; ceph/ceph#10919 does the same).
 * Other services (`uriEscapePath`): drop empty, '.' and '..' segments, then encode each
 * received segment again ('%20' -> '%2520').
 */
export function canonicalUri(rawPath: string, uriEscapePath = false): string {
  if (uriEscapePath) {
    const segments: string[] = [];
    for (const segment of rawPath.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') segments.pop();
      else segments.push(encodeRfc3986(segment));
    }
    const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
    return `/${segments.join('/')}${trailing}`;
  }
  if (rawPath === '') return '/';
  return uriEncodeBytes(decodeS3PathBytes(rawPath), true);
}

/** RFC 3986 percent-encoding of everything but unreserved characters (as SigV4 requires). */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical query: all parameters but X-Amz-Signature, encoded, sorted by name then value. */
export function canonicalQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const existing = query[name];
    if (existing === undefined) query[name] = value;
    else query[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return getCanonicalQuery(new HttpRequest({ query }));
}

/** Lower-cased header name -> every value received for it, in order. */
export function headerMap(rawHeaders: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const values = map.get(name);
    if (values) values.push(rawHeaders[i + 1]);
    else map.set(name, [rawHeaders[i + 1]]);
  }
  return map;
}

/** `name:value\n` for exactly the signed headers, with values as received (trimmed, spaces folded). A missing header signs as empty. */
export function canonicalHeaders(headers: ReadonlyMap<string, readonly string[]>, signedHeaders: readonly string[]): string {
  return signedHeaders
    .map((name) => {
      const values = headers.get(name) ?? [];
      return `${name}:${values.map((v) => v.trim().replace(/ +/g, ' ')).join(',')}\n`;
    })
    .join('');
}

export function canonicalRequest(parts: {
  method: string;
  rawPath: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: ReadonlyMap<string, readonly string[]>;
  signedHeaders: readonly string[];
  payloadHash: string;
  uriEscapePath?: boolean;
}): string {
  return [
    parts.method,
    canonicalUri(parts.rawPath, parts.uriEscapePath),
    canonicalQuery(parts.query),
    canonicalHeaders(parts.headers, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return [ALGORITHM_IDENTIFIER, amzDate, scope, sha256Hex(canonical)].join('\n');
}

export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, date);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Parses `AKID/YYYYMMDD/region/service/aws4_request`. */
export function parseCredentialScope(credential: string): CredentialScope | undefined {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts.some((p) => p === '')) return undefined;
  return { accessKeyId: parts[0], date: parts[1], region: parts[2], service: parts[3] };
}

/** Which authentication the request attempts, before judging it. */
export function authMechanism(headers: ReadonlyMap<string, readonly string[]>, query: ReadonlyArray<readonly [string, string]>): AuthMechanism {
  const header = headers.has('authorization');
  const queryAuth = query.some(([name]) =>
    (QUERY_AUTH_PARAMS as readonly string[]).includes(name) || name === 'Signature' || name === 'AWSAccessKeyId');
  if (header && queryAuth) return 'both';
  if (header) return 'header';
  return queryAuth ? 'query' : 'none';
}

/**
 * Verifies a request's SigV4 signature the way S3 does, or throws an S3AuthError
 * with S3's code. Requests without any authentication are the caller's concern.
 */
export function verifySigV4(req: ReceivedRequest, opts: VerifyOptions): VerifiedRequest {
  const headers = headerMap(req.rawHeaders);
  const query = parseQuery(req.rawQuery, opts.plusAsSpace ?? opts.service === 's3');
  const mechanism = authMechanism(headers, query);
  switch (mechanism) {
    case 'none':
      throw new S3AuthError(403, 'AccessDenied', 'Access Denied');
    case 'both':
      throw new S3AuthError(400, 'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        { ArgumentName: 'Authorization', ArgumentValue: headers.get('authorization')?.[0] ?? '' });
    case 'header':
      return verifyHeaderAuth(req, headers, query, opts);
    case 'query':
      return verifyQueryAuth(req, headers, query, opts);
  }
}

interface ParsedSignature {
  readonly scope: CredentialScope;
  readonly amzDate: string;
  readonly signedHeaders: string[];
  readonly signature: string;
  readonly payloadHash: string;
  readonly securityToken: string | undefined;
}

function verifyQueryAuth(
  req: ReceivedRequest,
  headers: ReadonlyMap<string, readonly string[]>,
  query: ReadonlyArray<readonly [string, string]>,
  opts: VerifyOptions,
): VerifiedRequest {
  const bad = (message: string, details: Record<string, string> = {}): S3AuthError =>
    new S3AuthError(400, 'AuthorizationQueryParametersError', message, details);
  if (query.some(([name]) => name === 'Signature' || name === 'AWSAccessKeyId')) {
    throw new S3AuthError(400, 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  const single = (name: string): string | undefined => {
    const values = query.filter(([n]) => n === name);
    return values.length === 1 ? values[0][1] : undefined;
  };
  const params = new Map<string, string>();
  for (const name of QUERY_AUTH_PARAMS) {
    const value = single(name);
    if (value === undefined) {
      throw bad('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
    }
    params.set(name, value);
  }
  const param = (name: typeof QUERY_AUTH_PARAMS[number]): string => params.get(name) ?? '';

  if (param('X-Amz-Algorithm') !== ALGORITHM_IDENTIFIER) throw bad('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const amzDate = param('X-Amz-Date');
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) throw bad('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  const expiresText = param('X-Amz-Expires');
  if (!/^-?\d+$/.test(expiresText)) throw bad('X-Amz-Expires should be a number');
  const expires = Number(expiresText);
  if (expires < 0) throw bad('X-Amz-Expires must be non-negative');
  if (expires > MAX_PRESIGNED_TTL) throw bad(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_TTL}`);
  const scope = checkScope(param('X-Amz-Credential'), amzDate, opts, (m, d) => bad(`Error parsing the X-Amz-Credential parameter; ${m}`, d));

  const parsed: ParsedSignature = {
    scope,
    amzDate,
    signedHeaders: param('X-Amz-SignedHeaders').split(';'),
    signature: param('X-Amz-Signature'),
    // S3 presigned URLs sign UNSIGNED-PAYLOAD (current SDKs also put it in the query);
    // other services' presigners sign the body's hash.
    payloadHash: single('X-Amz-Content-Sha256') ?? (opts.service === 's3' ? undefined : opts.bodySha256) ?? UNSIGNED_PAYLOAD,
    securityToken: single('X-Amz-Security-Token'),
  };
  if (!parsed.signedHeaders.includes('host')) throw bad('Query-string authentication requires the host header to be signed.');
  const creds = checkCredentials(parsed, opts);

  const expiresAt = signedAt + expires * 1000;
  if (opts.now > expiresAt) {
    throw new S3AuthError(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expiresText,
      'Expires': new Date(expiresAt).toISOString(),
      'ServerTime': new Date(opts.now).toISOString(),
    });
  }
  checkSignature(req, headers, query, parsed, creds, opts);
  return { mechanism: 'query', accessKeyId: creds.accessKeyId, payloadHash: parsed.payloadHash };
}

function verifyHeaderAuth(
  req: ReceivedRequest,
  headers: ReadonlyMap<string, readonly string[]>,
  query: ReadonlyArray<readonly [string, string]>,
  opts: VerifyOptions,
): VerifiedRequest {
  const authorization = headers.get('authorization')?.[0] ?? '';
  const malformed = (message: string, details: Record<string, string> = {}): S3AuthError =>
    new S3AuthError(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`, details);
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm === 'AWS') {
    throw new S3AuthError(400, 'InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
  }
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    throw new S3AuthError(400, 'InvalidArgument', 'Unsupported Authorization Type',
      { ArgumentName: 'Authorization', ArgumentValue: authorization });
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq > 0) fields.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw malformed('it must contain Credential, SignedHeaders and Signature.');
  }

  const xAmzDate = headers.get('x-amz-date')?.[0];
  const date = headers.get('date')?.[0];
  const amzDate = xAmzDate ?? (date !== undefined ? httpDateToAmzDate(date) : undefined);
  const signedAt = amzDate !== undefined ? parseAmzDate(amzDate) : undefined;
  if (amzDate === undefined || signedAt === undefined) {
    throw new S3AuthError(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  const scope = checkScope(credential, amzDate, opts, malformed);

  // S3 signs the declared hash; other services the hash of the body they received.
  const payloadHash = opts.service !== 's3' && opts.bodySha256 !== undefined
    ? opts.bodySha256
    : headers.get('x-amz-content-sha256')?.[0];
  if (payloadHash === undefined) {
    throw new S3AuthError(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (!HEX_SHA256.test(payloadHash) && payloadHash !== UNSIGNED_PAYLOAD && !payloadHash.startsWith('STREAMING-')) {
    throw new S3AuthError(400, 'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
      { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash });
  }

  const parsed: ParsedSignature = {
    scope,
    amzDate,
    signedHeaders: signedHeaders.split(';'),
    signature,
    payloadHash,
    securityToken: headers.get('x-amz-security-token')?.[0],
  };
  if (!parsed.signedHeaders.includes('host')) throw malformed('SignedHeaders must include host.');
  const creds = checkCredentials(parsed, opts);

  const maxSkew = opts.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  if (Math.abs(opts.now - signedAt) > maxSkew) {
    throw new S3AuthError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: amzDate,
      ServerTime: new Date(opts.now).toISOString(),
      MaxAllowedSkewMilliseconds: String(maxSkew),
    });
  }
  checkSignature(req, headers, query, parsed, creds, opts);
  return { mechanism: 'header', accessKeyId: creds.accessKeyId, payloadHash };
}

function checkScope(
  credential: string,
  amzDate: string,
  opts: VerifyOptions,
  fail: (message: string, details?: Record<string, string>) => S3AuthError,
): CredentialScope {
  const scope = parseCredentialScope(credential);
  if (!scope) throw fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  if (scope.date !== amzDate.slice(0, 8)) throw fail('Invalid credential date. Date is not the same as X-Amz-Date.');
  if (scope.region !== opts.region) {
    throw fail(`the region '${scope.region}' is wrong; expecting '${opts.region}'`, { Region: opts.region });
  }
  if (scope.service !== opts.service) {
    throw fail(`incorrect service '${scope.service}'. This endpoint belongs to '${opts.service}'.`);
  }
  return scope;
}

function checkCredentials(parsed: ParsedSignature, opts: VerifyOptions): SigV4Credentials {
  const id = parsed.scope.accessKeyId;
  const creds = typeof opts.credentials === 'function' ? opts.credentials(id) : opts.credentials.find((c) => c.accessKeyId === id);
  if (!creds) {
    throw new S3AuthError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: parsed.scope.accessKeyId });
  }
  if (creds.sessionToken !== parsed.securityToken) {
    throw new S3AuthError(403, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  // A session's credentials stop working when it ends, whatever X-Amz-Expires says (AWS
  // knowledge center, "presigned URL expiring before the expiration time"). S3 answers
  // 400 ExpiredToken "The provided token has expired." (Amazon S3 API Reference, "Error
  // responses": https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), echoing
  // the token in Token-0 before RequestId, as the S3 answers that SDKs' test fixtures record do.
  if (creds.sessionEndsAt !== undefined && opts.now >= creds.sessionEndsAt) {
    throw new S3AuthError(400, 'ExpiredToken', 'The provided token has expired.', { 'Token-0': parsed.securityToken ?? '' });
  }
  return creds;
}

function checkSignature(
  req: ReceivedRequest,
  headers: ReadonlyMap<string, readonly string[]>,
  query: ReadonlyArray<readonly [string, string]>,
  parsed: ParsedSignature,
  creds: SigV4Credentials,
  opts: VerifyOptions,
): void {
  const canonical = canonicalRequest({
    method: req.method,
    rawPath: req.rawPath,
    query,
    headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash: parsed.payloadHash,
    uriEscapePath: opts.uriEscapePath ?? opts.service !== 's3',
  });
  const { date, region, service } = parsed.scope;
  const toSign = stringToSign(parsed.amzDate, `${date}/${region}/${service}/aws4_request`, canonical);
  const expected = createHmac('sha256', signingKey(creds.secretAccessKey, date, region, service)).update(toSign, 'utf8').digest('hex');
  if (!constantTimeEqual(expected, parsed.signature)) {
    throw new S3AuthError(403, 'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
        // S3's fields, in S3's order (minio/minio#2986 quotes a real S3 answer). The canonical
        // request holds every signed header's value as received, secrets included: S3 shows them.
        AWSAccessKeyId: creds.accessKeyId,
        StringToSign: toSign,
        SignatureProvided: parsed.signature,
        StringToSignBytes: hexBytes(toSign),
        CanonicalRequest: canonical,
        CanonicalRequestBytes: hexBytes(canonical),
      });
  }
}

/** UTF-8 bytes as space-separated two-digit lowercase hex, as S3 prints them. */
function hexBytes(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function constantTimeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  // timingSafeEqual needs equal lengths; a length difference leaks nothing secret.
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `YYYYMMDDTHHMMSSZ` -> ms since the epoch, or undefined when malformed. */
export function parseAmzDate(amzDate: string): number | undefined {
  const m = AMZ_DATE.exec(amzDate);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : ms;
}

function httpDateToAmzDate(httpDate: string): string | undefined {
  const ms = Date.parse(httpDate);
  if (Number.isNaN(ms)) return undefined;
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
