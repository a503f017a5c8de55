import * as fc from 'fast-check';
import { presignLinkQuery } from './util/presign';
import { keyToPath, linkFingerprint, parsePresentedLink, parseQuery, rfc3986, validateKey } from '../src/shared/link';

const HOST = 'downloads.s3.eu-west-1.amazonaws.com';
const ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const SIGNED_AT = Date.UTC(2026, 10, 28, 12, 0, 0);
const NOW = SIGNED_AT / 1000 + 10;

function presign(key: string, expiresIn = 900, id = ID): Promise<string> {
  return presignLinkQuery({
    host: HOST,
    key,
    id,
    expiresIn,
    region: 'eu-west-1',
    originSecret: 'secret',
    signingDate: new Date(SIGNED_AT),
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  });
}

function fingerprintOf(key: string, query: string): string {
  const parsed = parseQuery(query);
  if (!parsed.ok) throw new Error(parsed.reason);
  return linkFingerprint(key, parsed.value);
}

describe('object keys', () => {
  it('encodes keys as S3 paths, keeping slashes and encoding everything else RFC 3986 style', () => {
    expect(keyToPath("a b/c+d/é!'()*~.txt")).toBe('/a%20b/c%2Bd/%C3%A9%21%27%28%29%2A~.txt');
    expect(rfc3986('x/y=z&')).toBe('x%2Fy%3Dz%26');
  });

  it('accepts keys up to 1024 bytes of valid UTF-8 only', () => {
    expect(validateKey('reports/2026.pdf')).toEqual({ ok: true, value: 'reports/2026.pdf' });
    expect(validateKey('é'.repeat(512)).ok).toBe(true);
    expect(validateKey('é'.repeat(513))).toEqual({ ok: false, reason: 'key must be at most 1024 bytes of UTF-8' });
    expect(validateKey('')).toEqual({ ok: false, reason: 'key is required' });
    expect(validateKey(undefined)).toEqual({ ok: false, reason: 'key is required' });
    expect(validateKey('bad\uD800key')).toEqual({ ok: false, reason: 'key must be valid UTF-8' });
  });
});

describe('query strings', () => {
  it('refuses duplicates, malformed escapes and empty names', () => {
    expect(parseQuery('a=1&a=2')).toEqual({ ok: false, reason: 'duplicate query parameter a' });
    expect(parseQuery('a=%E0%A4%A')).toEqual({ ok: false, reason: 'malformed query string' });
    expect(parseQuery('a=%C3%28')).toEqual({ ok: false, reason: 'malformed query string' });
    expect(parseQuery('=x')).toEqual({ ok: false, reason: 'malformed query string' });
    expect(parseQuery('x'.repeat(9000)).ok).toBe(false);
  });

  it('decodes percent escapes but keeps + literal', () => {
    const parsed = parseQuery('key=a+b%20c&flag');
    expect(parsed.ok && [...parsed.value]).toEqual([['key', 'a+b c'], ['flag', '']]);
  });
});

describe('presented links', () => {
  it('reads a freshly presigned link', async () => {
    const query = await presign('docs/report 2026.pdf');
    expect(query).toContain('X-Amz-SignedHeaders=host%3Bx-origin-verify');
    expect(query).not.toMatch(/x-amz-checksum-mode|x-id=/i);
    const link = parsePresentedLink(keyToPath('docs/report 2026.pdf'), query, NOW);
    expect(link).toEqual({
      ok: true,
      value: {
        id: ID,
        key: 'docs/report 2026.pdf',
        fingerprint: fingerprintOf('docs/report 2026.pdf', query),
        signatureExpiresAt: SIGNED_AT / 1000 + 900,
        generation: 1,
        windowSeconds: 1800,
        landingPage: false,
        objectSize: 1000,
        canonicalUri: '/docs/report%202026.pdf',
        canonicalQuery: query,
      },
    });
  });

  it('hands back the canonical encoding of whatever equivalent form the viewer sent', async () => {
    const key = 'a~b/c%d+e.txt';
    const query = await presign(key);
    const original = parsePresentedLink(keyToPath(key), query, NOW);
    if (!original.ok) throw new Error(original.reason);
    const variant = parsePresentedLink('/a%7Eb/c%25d%2be.txt', query.split('&').reverse().join('&').replace(/%2F/g, '%2f'), NOW);
    if (!variant.ok) throw new Error(variant.reason);
    expect(variant.value.fingerprint).toBe(original.value.fingerprint);
    expect(variant.value.canonicalUri).toBe('/a~b/c%25d%2Be.txt');
    // Same parameters, canonically encoded (order is free in SigV4).
    expect(new Set(variant.value.canonicalQuery.split('&'))).toEqual(new Set(query.split('&')));
  });

  it('refuses a raw "+", which S3 reads as a space, before any I/O', async () => {
    const query = await presign('a+b.txt');
    expect(parsePresentedLink('/a%2Bb.txt', query, NOW).ok).toBe(true);
    expect(parsePresentedLink('/a+b.txt', query, NOW)).toEqual({ ok: false, reason: 'ambiguous "+" in link (write it as %2B)' });
    const withPlusInQuery = query.replace(/X-Amz-Credential=[^&]+/, (m) => `${m}+`);
    expect(parsePresentedLink('/a%2Bb.txt', withPlusInQuery, NOW).ok).toBe(false);
  });

  it('refuses keys with dot segments, which browsers resolve away', () => {
    expect(validateKey('a/../b.txt').ok).toBe(false);
    expect(validateKey('./b.txt').ok).toBe(false);
    expect(validateKey('a/.').ok).toBe(false);
    expect(validateKey('a/..b/.c/d..').ok).toBe(true);
  });

  it('gives reordered and re-encoded queries the fingerprint of the original', async () => {
    const query = await presign('a.txt');
    const original = parsePresentedLink('/a.txt', query, NOW);
    const reordered = query.split('&').reverse().join('&');
    const reencoded = query.replace(/%2F/g, '%2f').replace('AWS4-HMAC-SHA256', '%41WS4-HMAC-SHA256');
    const pathReencoded = '/%61.txt';
    for (const [uri, q] of [['/a.txt', reordered], ['/a.txt', reencoded], [pathReencoded, query]]) {
      const link = parsePresentedLink(uri, q, NOW);
      expect(link.ok && original.ok && link.value.fingerprint).toBe(original.ok && original.value.fingerprint);
    }
  });

  it('gives any tampered key, id, expiry, signature or extra parameter a different fingerprint', async () => {
    const query = await presign('a.txt');
    const original = parsePresentedLink('/a.txt', query, NOW);
    if (!original.ok) throw new Error(original.reason);
    const sig = /X-Amz-Signature=([0-9a-f]+)/.exec(query)![1];
    const tampered: Array<[string, string]> = [
      ['/b.txt', query],
      ['/a.txt', query.replace(sig, sig.replace(/^./, (c) => (c === '0' ? '1' : '0')))],
      ['/a.txt', query.replace('X-Amz-Expires=900', 'X-Amz-Expires=901')],
      ['/a.txt', query.replace(ID, 'BAAAAAAAAAAAAAAAAAAAAA')],
      ['/a.txt', `${query}&response-content-type=text%2Fhtml`],
    ];
    for (const [uri, q] of tampered) {
      const link = parsePresentedLink(uri, q, NOW);
      expect(link.ok && link.value.fingerprint).not.toBe(original.value.fingerprint);
    }
  });

  it('refuses expired, future-dated and malformed links before any I/O', async () => {
    const query = await presign('a.txt', 60);
    expect(parsePresentedLink('/a.txt', query, SIGNED_AT / 1000 + 60)).toEqual({ ok: false, reason: 'link has expired' });
    expect(parsePresentedLink('/a.txt', query, SIGNED_AT / 1000 - 3600)).toEqual({ ok: false, reason: 'link is not yet valid' });
    const broken = [
      query.replace(/x-link-id=[^&]+&?/, ''),
      query.replace(/x-link-gen=[^&]+&?/, ''),
      query.replace('x-link-gen=1', 'x-link-gen=0'),
      query.replace(/x-link-window=[^&]+&?/, ''),
      query.replace('x-link-window=1800', 'x-link-window=86401'),
      query.replace('x-link-window=1800', 'x-link-window=-1'),
      query.replace(/x-link-size=[^&]+&?/, ''),
      query.replace('x-link-size=1000', 'x-link-size=-1'),
      query.replace('x-link-size=1000', 'x-link-size=01000'),
      query.replace(ID, 'short'),
      query.replace('X-Amz-Date=20261128', 'X-Amz-Date=20261328'),
      query.replace('X-Amz-Expires=60', 'X-Amz-Expires=0'),
      query.replace('X-Amz-Expires=60', 'X-Amz-Expires=604801'),
      query.replace(/X-Amz-Signature=[0-9a-f]+/, 'X-Amz-Signature=XYZ'),
      query.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1'),
      `${query}&x-link-id=${ID}`,
      '',
    ];
    for (const q of broken) expect(parsePresentedLink('/a.txt', q, NOW).ok).toBe(false);
    expect(parsePresentedLink('a.txt', query, NOW).ok).toBe(false);
    expect(parsePresentedLink('/', query, NOW).ok).toBe(false);
    expect(parsePresentedLink('/%E0%A4%A', query, NOW).ok).toBe(false);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 600 }), fc.integer(), (uri, query, now) => {
      const result = parsePresentedLink(uri, query, now);
      expect(typeof result.ok).toBe('boolean');
    }), { numRuns: 2000 });
  });
});
