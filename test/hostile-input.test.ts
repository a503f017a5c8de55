// Property-based tests: the real handler bundles, fed arbitrary and mutated input.
// The edge never throws, never lets through anything but a live, issued, matching link,
// and never touches the ledger for malformed input. The mint never answers 5xx to bad
// input and never writes for it.
import type { APIGatewayProxyEventV2, CloudFrontRequestEvent } from 'aws-lambda';
import * as fc from 'fast-check';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { keyToPath, parsePresentedLink } from '../src/shared/link';

let d: LocalDeployment;
/** Fingerprints of the links issued in this run, with the key they were issued for. */
const issued = new Map<string, string>();
let links: string[] = [];

let requests = 0;

function viewerEvent(method: string, uri: string, querystring: string, headers: Record<string, string>): CloudFrontRequestEvent {
  const cfHeaders: Record<string, Array<{ key: string; value: string }>> = {};
  for (const [key, value] of Object.entries(headers)) cfHeaders[key.toLowerCase()] = [{ key, value }];
  return {
    Records: [{
      cf: {
        config: { distributionDomainName: 'd111.cloudfront.net', distributionId: 'EFUZZ', eventType: 'viewer-request', requestId: `fuzz-${++requests}` },
        request: { clientIp: '203.0.113.9', headers: cfHeaders, method, querystring, uri },
      },
    }],
  };
}

function apiEvent(routeKey: string, rawQueryString: string, body?: string, id?: string): APIGatewayProxyEventV2 {
  const [method, rawPath] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath: id ? rawPath.replace('{id}', id) : rawPath,
    rawQueryString,
    headers: {},
    pathParameters: id === undefined ? undefined : { id },
    requestContext: {
      accountId: '123456789012',
      apiId: 'fuzz',
      domainName: 'fuzz',
      domainPrefix: 'fuzz',
      requestId: 'fuzz',
      routeKey,
      stage: '$default',
      time: '',
      timeEpoch: 0,
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'fuzz' },
    },
    body,
    isBase64Encoded: false,
  };
}

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'a.txt': 'a', 'dir/b c.txt': 'b', 'ünï/çødé.txt': 'c' }, maxUsesLimit: 100, publicApi: true });
  for (const key of ['a.txt', 'dir/b c.txt', 'ünï/çødé.txt']) {
    const res = await d.handlers.mint(apiEvent('POST /urls', '', JSON.stringify({ key, maxUses: 100 })));
    const { url } = JSON.parse(res.body!) as { url: string };
    links.push(url);
    const [path, query] = url.replace(/^https?:\/\/[^/]+/, '').split('?');
    const parsed = parsePresentedLink(path, query, Math.floor(Date.now() / 1000));
    if (!parsed.ok) throw new Error(parsed.reason);
    issued.set(parsed.value.fingerprint, key);
  }
  links = links.map((u) => u.replace(/^https?:\/\/[^/]+/, ''));
});
afterAll(async () => d?.close());

/** Mutations an attacker would try on a real link. */
const mutatedLink = fc.record({
  link: fc.integer({ min: 0, max: 2 }),
  op: fc.constantFrom('none', 'dropParam', 'dupParam', 'reorder', 'reencode', 'flipChar', 'appendParam', 'emptyValue', 'truncate', 'unicode', 'swapPath'),
  n: fc.nat(),
  junk: fc.string({ unit: 'binary', maxLength: 40 }),
}).map(({ link, op, n, junk }) => {
  const [path, query] = links[link].split('?');
  const params = query.split('&');
  const i = n % params.length;
  const enc = encodeURIComponent(junk);
  switch (op) {
    case 'dropParam': return [path, params.filter((_, j) => j !== i).join('&')];
    case 'dupParam': return [path, [...params, params[i]].join('&')];
    case 'reorder': return [path, [...params.slice(i), ...params.slice(0, i)].join('&')];
    case 'reencode': return [path, params.map((p) => p.replace(/[A-Za-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)).join('&')];
    case 'flipChar': {
      const p = params[i];
      const at = n % p.length;
      return [path, [...params.slice(0, i), p.slice(0, at) + (p[at] === 'a' ? 'b' : 'a') + p.slice(at + 1), ...params.slice(i + 1)].join('&')];
    }
    case 'appendParam': return [path, `${query}&${enc}=${enc}`];
    case 'emptyValue': return [path, params.map((p, j) => (j === i ? p.split('=')[0] + '=' : p)).join('&')];
    case 'truncate': return [path, query.slice(0, n % query.length)];
    case 'unicode': return [`${path}${enc}`, query];
    case 'swapPath': return [links[(link + 1) % links.length].split('?')[0], query];
    default: return [path, query];
  }
});

const arbitraryRequest = fc.tuple(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 400 }))
  .map(([uri, query]) => ['/' + uri, query]);

describe('edge handler under hostile input', () => {
  it('never throws, never passes anything but an issued link, never writes for malformed input', async () => {
    let passes = 0;
    let refusals = 0;
    await fc.assert(fc.asyncProperty(
      fc.oneof(mutatedLink, arbitraryRequest),
      fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'get'),
      fc.dictionary(fc.constantFrom('user-agent', 'referer', 'range', 'x-forwarded-for', 'cookie', 'origin', 'sec-fetch-site'), fc.string({ maxLength: 200 })),
      async ([uri, query], method, headers) => {
        const updatesBefore = d.services.dynamodb.calls.get('UpdateItem');
        const result = await d.handlers.edge(viewerEvent(method, uri, query, headers));
        const parsed = parsePresentedLink(uri, query, Math.floor(Date.now() / 1000));
        const passed = result != null && !('status' in result && result.status !== undefined);
        if (passed) {
          passes++;
          expect(method).toBe('GET');
          expect(parsed.ok && issued.has(parsed.value.fingerprint)).toBe(true);
          // Forwarded for the key the ledger recorded (an issued link's path is that key's), with
          // only the link id (and an N-use link's session) in the query, whatever the viewer sent.
          if (parsed.ok) {
            expect(result).toMatchObject({ uri: keyToPath(parsed.value.path) });
            expect((result as { querystring: string }).querystring).toMatch(new RegExp(`^x-link-id=${parsed.value.id}(&x-link-session=[\\w-]{22}\\.\\d{3})?$`));
          }
        } else {
          refusals++;
          expect(['403', '503']).toContain((result as { status: string }).status);
        }
        if (method !== 'GET' || !parsed.ok) {
          expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(updatesBefore);
        }
      },
    ), { numRuns: 400 });
    // Both sides of the property were exercised: real links (and their harmless
    // reorderings and re-encodings) passed, the rest was refused.
    expect(passes).toBeGreaterThan(5);
    expect(refusals).toBeGreaterThan(100);
  });
});

describe('mint handler under hostile input', () => {
  it('answers 4xx (never 5xx) to arbitrary queries and bodies, writing nothing for them', async () => {
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }).map((q) => ['GET /get-url', q, undefined] as const),
        fc.string({ unit: 'binary', maxLength: 300 }).map((b) => ['POST /urls', '', b] as const),
        fc.jsonValue().map((v) => ['POST /urls', '', JSON.stringify(v)] as const),
        fc.record({ key: fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.constant(null)), maxUses: fc.oneof(fc.integer(), fc.double(), fc.string()), expiresInSeconds: fc.oneof(fc.integer(), fc.double()) }, { requiredKeys: [] })
          .map((v) => ['POST /urls', '', JSON.stringify(v)] as const),
      ),
      async ([route, query, body]) => {
        const writesBefore = d.services.dynamodb.calls.get('PutItem');
        const res = await d.handlers.mint(apiEvent(route, query, body));
        expect(res.statusCode).toBeLessThan(500);
        if (res.statusCode! >= 400) expect(d.services.dynamodb.calls.get('PutItem')).toBe(writesBefore);
        expect(() => JSON.parse(res.body!)).not.toThrow();
      },
    ), { numRuns: 300 });
  });

  it('answers 404 to arbitrary link ids on status and revoke, changing nothing', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 64 }), async (id) => {
      const updates = d.services.dynamodb.calls.get('UpdateItem');
      for (const route of ['GET /urls/{id}', 'DELETE /urls/{id}']) {
        const res = await d.handlers.mint(apiEvent(route, '', undefined, id));
        expect(res.statusCode).toBe(404);
      }
      // Only a well-formed id may even reach the ledger (and then finds nothing).
      if (!/^[A-Za-z0-9_-]{22}$/.test(id)) expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(updates);
    }), { numRuns: 150 });
  });
});
