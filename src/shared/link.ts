// What a one-time link looks like on the wire, shared by the mint handler (which
// issues links), the edge handler (which redeems them) and the construct (which
// wires the header and parameter names into CloudFront).
//
// Runtime-neutral: only node:crypto, no AWS SDK, so both handler bundles stay small.
import { createHash } from 'crypto';

/** Signed query parameter carrying the link's random id. S3 ignores `x-` parameters. */
export const LINK_ID_PARAM = 'x-link-id';

/**
 * Signed query parameter carrying the generation of the origin secret the link was
 * signed with, so the edge can refuse links from another generation before they
 * spend a use (S3 would refuse their signature anyway).
 */
export const LINK_GENERATION_PARAM = 'x-link-gen';

/** Signed query parameter carrying the link's download window in seconds (0: no sessions). */
export const LINK_WINDOW_PARAM = 'x-link-window';

/** Signed query parameter marking a landing-page link (`1`): opening it shows a page, the page's button downloads. */
export const LINK_PAGE_PARAM = 'x-link-page';

/**
 * Signed query parameter carrying the object's size in bytes when the link was minted: a
 * download session is charged the bytes each request asks for, and the ledger condition
 * needs the number before S3 answers. Covered by the fingerprint, so it cannot be edited.
 */
export const LINK_SIZE_PARAM = 'x-link-size';

/** S3's largest object: 5 TiB (50 TB in newer S3 limits); 16 digits leave room for either. */
const SIZE_PATTERN = /^(0|[1-9]\d{0,15})$/;

/** Longest download window a link may carry: a day. */
export const MAX_DOWNLOAD_WINDOW_SECONDS = 86_400;

/**
 * Header signed into every URL and added by CloudFront as an origin custom header.
 * Its value is a deploy-time secret, so a URL replayed straight at S3 fails SigV4.
 */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';

/** S3 object keys are at most 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/** SigV4 query authentication accepts at most seven days. */
export const MAX_SIGV4_EXPIRES_SECONDS = 604_800;

/** 16 random bytes, base64url without padding. */
const LINK_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const CREDENTIAL_PATTERN = /^[A-Z0-9]{16,128}\/\d{8}\/[a-z0-9-]{1,32}\/s3\/aws4_request$/;
const SIGNED_HEADERS_PATTERN = /^[a-z0-9-]+(;[a-z0-9-]+)*$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Bounds the work done on hostile input before anything else looks at it. */
const MAX_QUERY_LENGTH = 8192;
const MAX_URI_LENGTH = 3 * MAX_KEY_BYTES + 1;
/** Links dated further in the future than this are forged or from a broken clock. */
const MAX_CLOCK_SKEW_SECONDS = 900;

/** A link that is well-formed enough to be worth one ledger call. */
export interface PresentedLink {
  /** The link id from the signed `x-link-id` parameter (the ledger key). */
  readonly id: string;
  /** The decoded S3 object key. */
  readonly key: string;
  /** Hash of the key and the whole decoded query: what the ledger stored at issue time. */
  readonly fingerprint: string;
  /** When the signature stops being valid, in epoch seconds. */
  readonly signatureExpiresAt: number;
  /** Generation of the origin secret the link was signed with. */
  readonly generation: number;
  /** How long a use's download session lasts, in seconds (0: every request is a use). */
  readonly windowSeconds: number;
  /** Whether opening the link shows a landing page whose button downloads. */
  readonly landingPage: boolean;
  /** The object's size in bytes when the link was minted. */
  readonly objectSize: number;
  /**
   * The path and query in their canonical encoding: what the edge forwards, so S3
   * computes exactly the canonical request the mint signed.
   */
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Whether a string has the shape of a link id (it says nothing about whether it was issued). */
export function isLinkId(value: string): boolean {
  return LINK_ID_PATTERN.test(value);
}

/** RFC 3986 encoding, as SigV4 and S3 expect (encodeURIComponent leaves !'()* alone). */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The URL path for an S3 key: each segment encoded, slashes kept (S3 does not double-encode). */
export function keyToPath(key: string): string {
  return '/' + key.split('/').map(rfc3986).join('/');
}

/** Strict percent-decoding: `+` stays `+`, malformed escapes and invalid UTF-8 fail. */
function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Checks an object key from a caller: present, valid UTF-8, at most 1024 bytes, no `.` or `..` segments. */
export function validateKey(key: string | undefined): Parsed<string> {
  if (key === undefined || key.length === 0) return fail('key is required');
  // Lone surrogates cannot be encoded as UTF-8, so S3 could never store such a key.
  if (LONE_SURROGATE.test(key)) return fail('key must be valid UTF-8');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return fail(`key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`);
  // Browsers and proxies resolve dot segments (/a/../b becomes /b), even percent-encoded
  // ones (WHATWG URL treats %2e as a dot), so such a link would reach another path.
  if (key.split('/').some((segment) => segment === '.' || segment === '..')) {
    return fail('key must not contain "." or ".." path segments: browsers remove them from links');
  }
  return { ok: true, value: key };
}

/**
 * Parses a raw query string (no leading `?`) into decoded name/value pairs.
 * Refuses duplicates and malformed escapes: a presigned URL never has either,
 * and accepting them would leave "which value counts" to each reader.
 */
export function parseQuery(raw: string): Parsed<Map<string, string>> {
  if (raw.length > MAX_QUERY_LENGTH) return fail('query string too long');
  const params = new Map<string, string>();
  if (raw === '') return { ok: true, value: params };
  for (const part of raw.split('&')) {
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = decode(eq < 0 ? '' : part.slice(eq + 1));
    if (name === undefined || value === undefined) return fail('malformed query string');
    if (name === '') return fail('malformed query string');
    if (params.has(name)) return fail(`duplicate query parameter ${name}`);
    params.set(name, value);
  }
  return { ok: true, value: params };
}

/** Builds a query string from decoded pairs, RFC 3986-encoded, in the given order. */
export function buildQuery(params: Iterable<[string, string]>): string {
  return Array.from(params, ([name, value]) => `${rfc3986(name)}=${rfc3986(value)}`).join('&');
}

/**
 * The fingerprint of a presented request: SHA-256 over the decoded key and every
 * decoded query parameter, sorted. SigV4 accepts reordered and re-encoded query
 * strings, so they must map to the same fingerprint; any change S3 would reject
 * (another key, id, expiry, signature, an extra parameter) changes it.
 */
export function linkFingerprint(key: string, params: Map<string, string>): string {
  const canonical = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(`${keyToPath(key)}?${buildQuery(canonical)}`).digest('hex');
}

function amzDateToEpochSeconds(value: string): number | undefined {
  const m = AMZ_DATE_PATTERN.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  // Date.UTC silently rolls over (month 13, second 61): refuse anything that did.
  const back = new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return back === value ? ms / 1000 : undefined;
}

/**
 * Reads a viewer request as a presented one-time link, without any I/O.
 * Returns a reason for anything that cannot be a link we issued, so the caller
 * can refuse it without touching the ledger.
 */
export function parsePresentedLink(uri: string, querystring: string, nowSeconds: number): Parsed<PresentedLink> {
  if (!uri.startsWith('/') || uri.length > MAX_URI_LENGTH) return fail('malformed path');
  // S3 reads a raw '+' as a space (in the path and in the query); decodeURIComponent
  // keeps it a '+'. The two readings name different requests, so refuse the ambiguity
  // rather than spend a use on a request S3 would compute another signature for.
  // Issued links never contain a raw '+': the mint encodes it as %2B.
  if (uri.includes('+') || querystring.includes('+')) return fail('ambiguous "+" in link (write it as %2B)');
  const rawKey = decode(uri.slice(1));
  if (rawKey === undefined) return fail('malformed path');
  const key = validateKey(rawKey);
  if (!key.ok) return fail('malformed path');

  const query = parseQuery(querystring);
  if (!query.ok) return query;
  const params = query.value;
  const id = params.get(LINK_ID_PARAM);
  if (id === undefined || !LINK_ID_PATTERN.test(id)) return fail('not a one-time link');
  if (params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return fail('not a presigned link');
  const credential = params.get('X-Amz-Credential');
  if (credential === undefined || !CREDENTIAL_PATTERN.test(credential)) return fail('not a presigned link');
  const signature = params.get('X-Amz-Signature');
  if (signature === undefined || !SIGNATURE_PATTERN.test(signature)) return fail('not a presigned link');
  const signedHeaders = params.get('X-Amz-SignedHeaders');
  if (signedHeaders === undefined || !SIGNED_HEADERS_PATTERN.test(signedHeaders)) return fail('not a presigned link');
  const signedAt = amzDateToEpochSeconds(params.get('X-Amz-Date') ?? '');
  if (signedAt === undefined) return fail('not a presigned link');
  const expiresRaw = params.get('X-Amz-Expires') ?? '';
  if (!/^[1-9]\d{0,5}$/.test(expiresRaw) || +expiresRaw > MAX_SIGV4_EXPIRES_SECONDS) return fail('not a presigned link');
  const generationRaw = params.get(LINK_GENERATION_PARAM) ?? '';
  if (!/^[1-9]\d{0,5}$/.test(generationRaw)) return fail('not a one-time link');
  const windowRaw = params.get(LINK_WINDOW_PARAM) ?? '';
  if (!/^(0|[1-9]\d{0,5})$/.test(windowRaw) || +windowRaw > MAX_DOWNLOAD_WINDOW_SECONDS) return fail('not a one-time link');
  const pageRaw = params.get(LINK_PAGE_PARAM);
  if (pageRaw !== undefined && pageRaw !== '1') return fail('not a one-time link');
  const sizeRaw = params.get(LINK_SIZE_PARAM) ?? '';
  if (!SIZE_PATTERN.test(sizeRaw)) return fail('not a one-time link');

  if (signedAt > nowSeconds + MAX_CLOCK_SKEW_SECONDS) return fail('link is not yet valid');
  const signatureExpiresAt = signedAt + +expiresRaw;
  if (signatureExpiresAt <= nowSeconds) return fail('link has expired');

  return {
    ok: true,
    value: {
      id,
      key: key.value,
      fingerprint: linkFingerprint(key.value, params),
      signatureExpiresAt,
      generation: +generationRaw,
      windowSeconds: +windowRaw,
      landingPage: pageRaw === '1',
      objectSize: +sizeRaw,
      canonicalUri: keyToPath(key.value),
      canonicalQuery: buildQuery(params),
    },
  };
}
