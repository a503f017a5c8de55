// Hostile variants of valid links, sent through the whole local deployment (its S3
// reading paths and queries as S3 does), for a bucket the construct owns and one the
// user brings. For every variant: either the viewer gets the object's exact bytes and
// one use is spent, or the edge refuses it and nothing is spent. And whatever happens,
// no answer carries S3's internals. (S3 never sees these URLs: the edge sends it the key
// the ledger recorded, signed by itself; what varies here is how the edge reads a link.)
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import * as fc from 'fast-check';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, rawPathOf, type HttpResult } from './util/http';

/** Keys whose encodings differ in every way that matters: '+', space, '~', '%', reserved and non-ASCII characters. */
const OBJECTS: Record<string, Buffer> = {
  'a+b c~d.txt': randomBytes(300),
  'dir/x%y (1)!*.bin': randomBytes(2048),
  'ünï/çødé+.txt': randomBytes(64),
  'plain.bin': randomBytes(128),
};
const KEYS = Object.keys(OBJECTS);

/** One rewrite of a link's path or query that a client, a proxy or an attacker might make. */
type Variant =
  | { kind: 'none' }
  | { kind: 'reorder'; by: number }
  | { kind: 'lowerEscapes'; where: 'path' | 'query' }
  | { kind: 'encodeUnreserved'; where: 'path' | 'query'; nth: number }
  | { kind: 'plusForEscapedPlus'; where: 'path' | 'query' }
  | { kind: 'plusForSpace' }
  | { kind: 'spaceEscapeForPlus'; where: 'path' | 'query' }
  | { kind: 'decodeReserved'; nth: number };

const variant: fc.Arbitrary<Variant> = fc.oneof(
  fc.constant<Variant>({ kind: 'none' }),
  fc.nat(20).map((by): Variant => ({ kind: 'reorder', by })),
  fc.constantFrom<'path' | 'query'>('path', 'query').map((where): Variant => ({ kind: 'lowerEscapes', where })),
  fc.tuple(fc.constantFrom<'path' | 'query'>('path', 'query'), fc.nat(40)).map(([where, nth]): Variant => ({ kind: 'encodeUnreserved', where, nth })),
  fc.constantFrom<'path' | 'query'>('path', 'query').map((where): Variant => ({ kind: 'plusForEscapedPlus', where })),
  fc.constant<Variant>({ kind: 'plusForSpace' }),
  fc.constantFrom<'path' | 'query'>('path', 'query').map((where): Variant => ({ kind: 'spaceEscapeForPlus', where })),
  fc.nat(40).map((nth): Variant => ({ kind: 'decodeReserved', nth })),
);

/** Applies one rewrite to `path?query`; the result is what goes on the wire, byte for byte. */
function apply(path: string, query: string, v: Variant): string {
  const onPart = (where: 'path' | 'query', f: (s: string) => string) =>
    (where === 'path' ? `${f(path)}?${query}` : `${path}?${f(query)}`);
  const nthMatch = (s: string, re: RegExp, nth: number, f: (m: string) => string) => {
    const all = [...s.matchAll(re)];
    if (all.length === 0) return s;
    const m = all[nth % all.length];
    return s.slice(0, m.index) + f(m[0]) + s.slice(m.index! + m[0].length);
  };
  switch (v.kind) {
    case 'none': return `${path}?${query}`;
    case 'reorder': {
      const params = query.split('&');
      const by = v.by % params.length;
      return `${path}?${[...params.slice(by), ...params.slice(0, by)].join('&')}`;
    }
    case 'lowerEscapes': return onPart(v.where, (s) => s.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()));
    case 'encodeUnreserved':
      return onPart(v.where, (s) => nthMatch(s, /[A-Za-z0-9~._-]/g, v.nth, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
    case 'plusForEscapedPlus': return onPart(v.where, (s) => s.replace(/%2B/gi, '+'));
    case 'plusForSpace': return `${path.replace(/%20/g, '+')}?${query}`;
    case 'spaceEscapeForPlus': return onPart(v.where, (s) => s.replace(/%2B/gi, '%20'));
    case 'decodeReserved':
      // Sends a character raw that the signer escaped: S3 decodes both to the same byte.
      return `${nthMatch(path, /%(21|2A|28|29|40|3A|2C|3B|3D|24|26|27)/g, v.nth, (e) => String.fromCharCode(parseInt(e.slice(1), 16)))}?${query}`;
  }
}

/** Nothing S3 says about itself reaches a viewer: no x-amz-* header, no bucket name in a refusal. */
function expectNoS3Internals(d: LocalDeployment, res: HttpResult): void {
  expect(Object.keys(res.headers).filter((name) => name.startsWith('x-amz-'))).toEqual([]);
  if (res.status !== 200) expect(res.body.toString('latin1')).not.toContain(d.bucket);
}

describe.each([
  ['a bucket the construct owns', 'owned' as const],
  ['a bucket the user brings', 'brought' as const],
])('variants of a valid link, through the local deployment, with %s', (_name, bucketOwnership) => {
  let d: LocalDeployment;
  const links = new Map<string, { id: string; path: string; query: string }>();

  beforeAll(async () => {
    d = await startLocalDeployment({ objects: OBJECTS, maxUsesLimit: 100, publicApi: true, bucketOwnership, downloadWindowSeconds: 0 });
    for (const key of KEYS) {
      const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, maxUses: 100 }) });
      const link = JSON.parse(res.text()) as { url: string; id: string };
      const [path, query] = rawPathOf(link.url).split('?');
      links.set(key, { id: link.id, path, query });
    }
  });
  afterAll(async () => d?.close());

  const usesOf = async (id: string): Promise<number> => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;

  it('delivers the exact bytes or refuses without spending a use, and never shows S3\'s internals', async () => {
    const outcomes = { delivered: 0, refused: 0 };
    await fc.assert(fc.asyncProperty(fc.constantFrom(...KEYS), variant, async (key, v) => {
      const link = links.get(key)!;
      const before = await usesOf(link.id);
      const res = await http(`${d.distributionUrl}/`, { rawPath: apply(link.path, link.query, v) });
      expectNoS3Internals(d, res);
      const after = await usesOf(link.id);
      if (res.status === 200) {
        outcomes.delivered++;
        expect(res.body.equals(OBJECTS[key])).toBe(true);
        expect(after).toBe(before + 1);
      } else {
        outcomes.refused++;
        // Refused by the edge itself (no x-cache from the origin path), before the ledger.
        expect([key, v, res.status, after]).toEqual([key, v, 403, before]);
      }
    }), { numRuns: 150 });
    // Both sides of the property ran: equivalent encodings passed, ambiguous ones were refused.
    expect(outcomes.delivered).toBeGreaterThan(20);
    expect(outcomes.refused).toBeGreaterThan(5);
  });

  it('answers an origin failure with a fixed text, never with S3\'s error body', async () => {
    // A link for an object deleted after minting: the edge spends the use, S3 answers 404.
    const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'plain.bin' }) });
    const { url } = JSON.parse(res.text()) as { url: string };
    const s3 = d.s3Client();
    try {
      await s3.send(new DeleteObjectCommand({ Bucket: d.bucket, Key: 'plain.bin' }));
      const gone = await http(url);
      expect(gone.status).toBe(404);
      expect(gone.text()).toBe('The file is no longer available.');
      expect(gone.headers['x-amz-request-id']).toBeUndefined();
      expectNoS3Internals(d, gone);
      await s3.send(new PutObjectCommand({ Bucket: d.bucket, Key: 'plain.bin', Body: OBJECTS['plain.bin'] }));
    } finally {
      s3.destroy();
    }
  });
});
