import * as fc from 'fast-check';
import { buildQuery, isMediaType, keyToPath, linkFingerprint, mediaTypeOf, parsePresentedLink, parseQuery, rfc3986, validateKey } from '../src/shared/link';

const ID = 'AAAAAAAAAAAAAAAAAAAAAA';
const NOW = Date.UTC(2026, 10, 28, 12, 0, 10) / 1000;

/** A link's query as the mint writes it. */
function linkQueryOf(opts: { id?: string; expiresAt?: number; window?: number; size?: number; page?: boolean } = {}): string {
  return buildQuery([
    ['x-link-id', opts.id ?? ID],
    ['x-link-exp', String(opts.expiresAt ?? NOW + 900)],
    ['x-link-window', String(opts.window ?? 1800)],
    ['x-link-size', String(opts.size ?? 1000)],
    ...(opts.page ? [['x-link-page', '1'] as [string, string]] : []),
  ]);
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
  it('reads a freshly minted link', () => {
    const query = linkQueryOf();
    expect(query).not.toMatch(/X-Amz-/i);
    const link = parsePresentedLink(keyToPath('docs/report 2026.pdf'), query, NOW);
    expect(link).toEqual({
      ok: true,
      value: {
        id: ID,
        path: 'docs/report 2026.pdf',
        fingerprint: fingerprintOf('docs/report 2026.pdf', query),
        expiresAt: NOW + 900,
        windowSeconds: 1800,
        maxUses: 1,
        landingPage: false,
        objectSize: 1000,
        passphrase: false,
        upload: false,
        canonicalUri: '/docs/report%202026.pdf',
        canonicalQuery: query,
      },
    });
  });

  it('gives reordered and re-encoded forms the fingerprint of the original, and ignores parameters that are not the link\'s', () => {
    const query = linkQueryOf({ page: true });
    const original = parsePresentedLink('/a~b/c+d.txt', query, NOW);
    if (!original.ok) throw new Error(original.reason);
    const variants: Array<[string, string]> = [
      ['/a%7Eb/c%2Bd.txt', query.split('&').reverse().join('&')],
      ['/%61~b/c+d.txt', query.replace('x-link-id', 'x-link-%69d')],
      ['/a~b/c+d.txt', `${query}&utm_source=newsletter&fbclid=abc`],
    ];
    for (const [uri, q] of variants) {
      const link = parsePresentedLink(uri, q, NOW);
      expect([uri, link.ok && link.value.fingerprint, link.ok && link.value.canonicalQuery]).toEqual([uri, original.value.fingerprint, query]);
    }
  });

  it('refuses keys with dot segments, which browsers resolve away', () => {
    expect(validateKey('a/../b.txt').ok).toBe(false);
    expect(validateKey('./b.txt').ok).toBe(false);
    expect(validateKey('a/.').ok).toBe(false);
    expect(validateKey('a/..b/.c/d..').ok).toBe(true);
  });

  it('gives any edited path, id, expiry, window, size or page flag a different fingerprint', () => {
    const query = linkQueryOf();
    const original = parsePresentedLink('/a.txt', query, NOW);
    if (!original.ok) throw new Error(original.reason);
    const edited: Array<[string, string]> = [
      ['/b.txt', query],
      ['/a.txt', linkQueryOf({ id: 'BAAAAAAAAAAAAAAAAAAAAA' })],
      ['/a.txt', linkQueryOf({ expiresAt: NOW + 901 })],
      ['/a.txt', linkQueryOf({ window: 0 })],
      ['/a.txt', linkQueryOf({ size: 1001 })],
      ['/a.txt', linkQueryOf({ page: true })],
    ];
    for (const [uri, q] of edited) {
      const link = parsePresentedLink(uri, q, NOW);
      expect([uri, q, link.ok && link.value.fingerprint !== original.value.fingerprint]).toEqual([uri, q, true]);
    }
  });

  it('reads links that live up to a year, and refuses expired, over-long and malformed links before any I/O', () => {
    expect(parsePresentedLink('/a.txt', linkQueryOf({ expiresAt: NOW + 365 * 86_400 }), NOW).ok).toBe(true);
    expect(parsePresentedLink('/a.txt', linkQueryOf({ expiresAt: NOW }), NOW)).toEqual({ ok: false, reason: 'link has expired' });
    expect(parsePresentedLink('/a.txt', linkQueryOf({ expiresAt: NOW + 366 * 86_400 }), NOW)).toEqual({ ok: false, reason: 'not a one-time link' });
    const query = linkQueryOf();
    const broken = [
      query.replace(/x-link-id=[^&]+&?/, ''),
      query.replace(/x-link-exp=[^&]+&?/, ''),
      query.replace(/x-link-exp=\d+/, 'x-link-exp=0'),
      query.replace(/x-link-exp=\d+/, 'x-link-exp=soon'),
      query.replace(/x-link-window=[^&]+&?/, ''),
      query.replace('x-link-window=1800', 'x-link-window=86401'),
      query.replace('x-link-window=1800', 'x-link-window=-1'),
      query.replace(/x-link-size=[^&]+&?/, ''),
      query.replace('x-link-size=1000', 'x-link-size=-1'),
      query.replace('x-link-size=1000', 'x-link-size=01000'),
      `${query}&x-link-page=0`,
      `${query}&x-link-gen=1`,
      query.replace(ID, 'short'),
      `${query}&x-link-id=${ID}`,
      '',
    ];
    for (const q of broken) expect([q, parsePresentedLink('/a.txt', q, NOW).ok]).toEqual([q, false]);
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

describe('N-use links', () => {
  const withUses = (uses: string) => buildQuery([
    ['x-link-id', ID], ['x-link-exp', String(NOW + 900)], ['x-link-uses', uses], ['x-link-window', '1800'], ['x-link-size', '1000'],
  ]);

  it('read their uses (where their sessions live), fingerprinted: another count is another link', () => {
    const three = parsePresentedLink('/a.pdf', withUses('3'), NOW);
    if (!three.ok) throw new Error(three.reason);
    expect(three.value.maxUses).toBe(3);
    const hundred = parsePresentedLink('/a.pdf', withUses('100'), NOW);
    expect(hundred.ok && hundred.value.maxUses).toBe(100);
    expect(hundred.ok && hundred.value.fingerprint).not.toBe(three.value.fingerprint);
    const one = parsePresentedLink('/a.pdf', linkQueryOf(), NOW);
    expect(one.ok && one.value.maxUses).toBe(1);
    expect(one.ok && one.value.fingerprint).not.toBe(three.value.fingerprint);
  });

  it('refuse what no mint writes: one use spelled out, zero, a leading zero, a word, five digits, an upload link with uses', () => {
    const bad = [withUses('1'), withUses('0'), withUses('03'), withUses('three'), withUses('10000'), withUses(''), withUses('-2')];
    for (const query of bad) expect([query, parsePresentedLink('/a.pdf', query, NOW)]).toEqual([query, { ok: false, reason: 'not a one-time link' }]);
    const upload = buildQuery([['x-link-id', ID], ['x-link-exp', String(NOW + 900)], ['x-link-uses', '2'], ['x-link-window', '0'], ['x-link-size', '5'], ['x-link-upload', '1']]);
    expect(parsePresentedLink('/a.pdf', upload, NOW)).toEqual({ ok: false, reason: 'not a one-time link' });
  });
});

describe('upload links', () => {
  const upload = (extra: Array<[string, string]> = [], window = '0') => buildQuery([
    ['x-link-id', ID], ['x-link-exp', String(NOW + 900)], ['x-link-window', window], ['x-link-size', '5000'], ['x-link-upload', '1'], ...extra,
  ]);

  it('reads the upload flag, the size limit and the required type (lowercased)', () => {
    const link = parsePresentedLink('/uploads/a.pdf', upload([['x-link-type', 'Application/PDF']]), NOW);
    if (!link.ok) throw new Error(link.reason);
    expect(link.value).toMatchObject({ upload: true, objectSize: 5000, contentType: 'application/pdf', windowSeconds: 0 });
    // The type is fingerprinted: another type is another link.
    const other = parsePresentedLink('/uploads/a.pdf', upload([['x-link-type', 'text/plain']]), NOW);
    expect(other.ok && other.value.fingerprint).not.toBe(link.value.fingerprint);
    const none = parsePresentedLink('/uploads/a.pdf', upload(), NOW);
    expect(none.ok && none.value.fingerprint).not.toBe(link.value.fingerprint);
  });

  it('refuses what no mint writes: a type without the upload flag, a bad type, a window, a passphrase, another flag value', () => {
    const bad = [
      linkQueryOf() + '&x-link-type=text%2Fplain',
      upload([['x-link-type', 'pdf']]),
      upload([['x-link-type', 'text/plain; charset=utf-8']]),
      upload([], '1800'),
      upload([['x-link-page', '1'], ['x-link-pass', '1']]),
      upload().replace('x-link-upload=1', 'x-link-upload=yes'),
    ];
    for (const query of bad) expect(parsePresentedLink('/uploads/a.pdf', query, NOW)).toEqual({ ok: false, reason: 'not a one-time link' });
  });

  it('names media types and reads them from Content-Type headers', () => {
    expect(isMediaType('application/vnd.openxmlformats-officedocument.wordprocessingml.document')).toBe(true);
    expect(isMediaType('image/svg+xml')).toBe(true);
    expect(isMediaType('text/plain;charset=utf-8')).toBe(false);
    expect(isMediaType('text')).toBe(false);
    expect(mediaTypeOf('Text/Plain; charset=UTF-8')).toBe('text/plain');
    expect(mediaTypeOf('')).toBeUndefined();
    expect(mediaTypeOf(undefined)).toBeUndefined();
  });
});
