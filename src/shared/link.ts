// What a one-time link looks like on the wire, shared by the mint handler (which
// issues links), the edge handler (which redeems them) and the CLI.
//
// A link is a token, not a signature: a random id (the secret a recipient holds), a
// readable path (the file name browsers save under) and the parameters the edge needs
// before its one ledger call. The ledger keeps a fingerprint of all of it, so an edited
// link matches nothing. S3 never sees this URL: the edge signs the one request it sends.
//
// Runtime-neutral: only node:crypto, no AWS SDK, so both handler bundles stay small.
import { createHash } from 'crypto';

/** Query parameter carrying the link's random id (the ledger key). */
export const LINK_ID_PARAM = 'x-link-id';

/** Query parameter carrying when the link stops working, in epoch seconds. */
export const LINK_EXPIRES_PARAM = 'x-link-exp';

/** Query parameter carrying the link's download window in seconds (0: no sessions). */
export const LINK_WINDOW_PARAM = 'x-link-window';

/** Query parameter marking a landing-page link (`1`): opening it shows a page, the page's button downloads. */
export const LINK_PAGE_PARAM = 'x-link-page';

/**
 * Query parameter carrying the object's size in bytes when the link was minted: a download
 * session is charged the bytes each request asks for, and the ledger condition needs the
 * number before S3 answers.
 */
export const LINK_SIZE_PARAM = 'x-link-size';

/**
 * Query parameter marking a passphrase-protected link (`1`, only with the page flag): the edge
 * knows before any I/O that its button needs a passphrase, so a press without one (a mail
 * scanner submitting the form) is refused without a ledger call. Fingerprinted like the rest:
 * a link stripped of it matches nothing. It carries no secret.
 */
export const LINK_PASS_PARAM = 'x-link-pass';

/**
 * Query parameter marking an upload link (`1`): it takes one PUT of a file (its `x-link-size`
 * is the most bytes it takes) instead of serving one. Fingerprinted: a download link cannot be
 * turned into an upload link, nor the other way round.
 */
export const LINK_UPLOAD_PARAM = 'x-link-upload';

/** Query parameter carrying the media type an upload link requires (only with the upload flag). */
export const LINK_TYPE_PARAM = 'x-link-type';

/**
 * Query parameter carrying a link's number of uses when it has more than one (absent: one). It
 * tells the edge, before any I/O, where the link's download sessions live: a one-use link keeps
 * its one session on its ledger item, an N-use link keeps each in its own item of the sessions
 * table (shared/ledger.ts). Fingerprinted; the ledger's own count is what limits the uses.
 */
export const LINK_USES_PARAM = 'x-link-uses';

/** The parameters a link consists of, in the order the mint writes them. */
const LINK_PARAMS = [
  LINK_ID_PARAM, LINK_EXPIRES_PARAM, LINK_USES_PARAM, LINK_WINDOW_PARAM, LINK_SIZE_PARAM, LINK_PAGE_PARAM, LINK_PASS_PARAM, LINK_UPLOAD_PARAM,
  LINK_TYPE_PARAM,
];

/** A media type without parameters (`type/subtype`, RFC 9110 tokens), at most 129 characters. */
const MEDIA_TYPE_PATTERN = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+-]{1,64}$/;

/** Whether a string is a media type an upload link may require (`type/subtype`, no parameters). */
export function isMediaType(value: string): boolean {
  return MEDIA_TYPE_PATTERN.test(value);
}

/**
 * The media type of a Content-Type header value, lowercased, without its parameters
 * (`Text/Plain; charset=utf-8` is `text/plain`), or undefined for none.
 */
export function mediaTypeOf(header: string | undefined): string | undefined {
  const type = header?.split(';')[0].trim().toLowerCase();
  return type ? type : undefined;
}

/** S3's largest object: 5 TiB (50 TB in newer S3 limits); 16 digits leave room for either. */
const SIZE_PATTERN = /^(0|[1-9]\d{0,15})$/;

/** Longest download window a link may carry: a day. */
export const MAX_DOWNLOAD_WINDOW_SECONDS = 86_400;

/** S3 object keys are at most 1024 bytes of UTF-8. */
export const MAX_KEY_BYTES = 1024;

/**
 * Longest a link may live: a year. The ledger enforces expiry; nothing signed in the link
 * has to stay valid (the edge signs each origin request when it sends it).
 */
export const MAX_LINK_LIFETIME_SECONDS = 365 * 86_400;

/** 16 random bytes, base64url without padding. */
const LINK_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Bounds the work done on hostile input before anything else looks at it. */
const MAX_QUERY_LENGTH = 8192;
const MAX_URI_LENGTH = 3 * MAX_KEY_BYTES + 1;
/** A link may say it expires a little later than a year from now (clock skew between mint and edge). */
const MAX_CLOCK_SKEW_SECONDS = 900;

/** A link that is well-formed enough to be worth one ledger call. */
export interface PresentedLink {
  /** The link id (the ledger key). */
  readonly id: string;
  /** The decoded path: the file name the link shows browsers. The edge never reads S3 by it. */
  readonly path: string;
  /** Hash of the path and the link's parameters: what the ledger stored at issue time. */
  readonly fingerprint: string;
  /** When the link stops working, in epoch seconds. */
  readonly expiresAt: number;
  /** How long a use's download session lasts, in seconds (0: every request is a use). */
  readonly windowSeconds: number;
  /**
   * Uses the link says it has (`x-link-uses`, 1 when absent). Above 1, its sessions live in the
   * sessions table; links minted before the parameter existed say 1 and keep theirs on their item.
   */
  readonly maxUses: number;
  /** Whether opening the link shows a landing page whose button downloads. */
  readonly landingPage: boolean;
  /** The object's size in bytes when the link was minted. */
  readonly objectSize: number;
  /** Whether the link's button needs its passphrase (always a landing-page link). */
  readonly passphrase: boolean;
  /** Whether this is an upload link: it takes one PUT of at most `objectSize` bytes. */
  readonly upload: boolean;
  /** An upload link's required media type, lowercased (absent: any). */
  readonly contentType?: string;
  /** The link's path and query as the mint wrote them: where the landing page's button redirects. */
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
  // Ids, numbers and most file names are unreserved already: nothing to encode.
  if (UNRESERVED.test(value)) return value;
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

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
 * The fingerprint of a link: SHA-256 over its decoded path and its own parameters, sorted.
 * Any edit of the path, id, expiry, uses, window, size, page, passphrase or upload flag, or type changes it; a re-encoded or
 * reordered URL keeps it.
 */
export function linkFingerprint(path: string, params: Map<string, string>): string {
  return fingerprintOf(keyToPath(path), params);
}

/** linkFingerprint for a path already encoded (keyToPath). */
function fingerprintOf(encodedPath: string, params: Map<string, string>): string {
  return createHash('sha256').update(`${encodedPath}?${ownQuery(params, SORTED_LINK_PARAMS)}`).digest('hex');
}
const SORTED_LINK_PARAMS = [...LINK_PARAMS].sort();

/** The query string of a link: its own parameters, in the mint's order. */
export function linkQuery(params: Map<string, string>): string {
  return ownQuery(params, LINK_PARAMS);
}

/** A link's own parameters that `params` has, in the given order, as a query string. */
function ownQuery(params: Map<string, string>, order: readonly string[]): string {
  return buildQuery(order.filter((name) => params.has(name)).map((name): [string, string] => [name, params.get(name)!]));
}

/**
 * Reads a viewer request as a presented one-time link, without any I/O.
 * Returns a reason for anything that cannot be a link we issued, so the caller
 * can refuse it without touching the ledger. Parameters that are not the link's own
 * (a mail tracker's `utm_source`, say) are ignored: neither fingerprinted nor forwarded.
 */
export function parsePresentedLink(uri: string, querystring: string, nowSeconds: number): Parsed<PresentedLink> {
  if (!uri.startsWith('/') || uri.length > MAX_URI_LENGTH) return fail('malformed path');
  const rawPath = decode(uri.slice(1));
  if (rawPath === undefined) return fail('malformed path');
  const path = validateKey(rawPath);
  if (!path.ok) return fail('malformed path');

  const query = parseQuery(querystring);
  if (!query.ok) return query;
  // The link's own parameters; any other x-link- one is not ours.
  const params = new Map<string, string>();
  for (const [name, value] of query.value) {
    if (LINK_PARAMS.includes(name)) params.set(name, value);
    else if (name.toLowerCase().startsWith('x-link-')) return fail('not a one-time link');
  }

  const id = params.get(LINK_ID_PARAM);
  if (id === undefined || !LINK_ID_PATTERN.test(id)) return fail('not a one-time link');
  const expiresRaw = params.get(LINK_EXPIRES_PARAM) ?? '';
  if (!/^[1-9]\d{0,10}$/.test(expiresRaw)) return fail('not a one-time link');
  const windowRaw = params.get(LINK_WINDOW_PARAM) ?? '';
  if (!/^(0|[1-9]\d{0,5})$/.test(windowRaw) || +windowRaw > MAX_DOWNLOAD_WINDOW_SECONDS) return fail('not a one-time link');
  const pageRaw = params.get(LINK_PAGE_PARAM);
  if (pageRaw !== undefined && pageRaw !== '1') return fail('not a one-time link');
  const passRaw = params.get(LINK_PASS_PARAM);
  if (passRaw !== undefined && (passRaw !== '1' || pageRaw !== '1')) return fail('not a one-time link');
  const uploadRaw = params.get(LINK_UPLOAD_PARAM);
  if (uploadRaw !== undefined && (uploadRaw !== '1' || passRaw !== undefined || windowRaw !== '0')) return fail('not a one-time link');
  const typeRaw = params.get(LINK_TYPE_PARAM);
  if (typeRaw !== undefined && (uploadRaw === undefined || !isMediaType(typeRaw))) return fail('not a one-time link');
  const usesRaw = params.get(LINK_USES_PARAM);
  if (usesRaw !== undefined && (!/^[2-9]$|^[1-9]\d{1,3}$/.test(usesRaw) || uploadRaw !== undefined)) return fail('not a one-time link');
  const sizeRaw = params.get(LINK_SIZE_PARAM) ?? '';
  if (!SIZE_PATTERN.test(sizeRaw)) return fail('not a one-time link');

  const expiresAt = +expiresRaw;
  if (expiresAt > nowSeconds + MAX_LINK_LIFETIME_SECONDS + MAX_CLOCK_SKEW_SECONDS) return fail('not a one-time link');
  if (expiresAt <= nowSeconds) return fail('link has expired');
  const canonicalUri = keyToPath(path.value);

  return {
    ok: true,
    value: {
      id,
      path: path.value,
      fingerprint: fingerprintOf(canonicalUri, params),
      expiresAt,
      windowSeconds: +windowRaw,
      maxUses: usesRaw === undefined ? 1 : +usesRaw,
      landingPage: pageRaw === '1',
      objectSize: +sizeRaw,
      passphrase: passRaw === '1',
      upload: uploadRaw === '1',
      canonicalUri,
      canonicalQuery: linkQuery(params),
      ...(typeRaw === undefined ? {} : { contentType: typeRaw.toLowerCase() }),
    },
  };
}
