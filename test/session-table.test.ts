// N-use links keep each download session in its own item of the sessions table
// (src/handlers/session-table.ts), so a request's write cost does not grow with the link's
// history. Real HTTP from distinct addresses through the local CloudFront and edge, with the
// local DynamoDB charging write units as DynamoDB documents them.
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, type HttpResult } from './util/http';
import { sessionKey } from '../src/handlers/download-session';
import { openSessionInput, returnUseInput, sessionSortKey, takeUseInput } from '../src/handlers/session-table';
import { parsePresentedLink, type PresentedLink } from '../src/shared/link';

const FILE = randomBytes(20_000);
const LONG_UA = (i: number) => `Mozilla/5.0 (client ${i}) ${'x'.repeat(480)}`.slice(0, 500);

let d: LocalDeployment;
let dynamo: DynamoDBClient;

async function mint(body: Record<string, unknown>): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'f.bin', ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

/** A GET from client `i`: its own address in 127.0.0.0/8 and a 500-character user agent. */
function get(url: string, i: number, headers: Record<string, string> = {}): Promise<HttpResult> {
  return http(url, { localAddress: `127.0.${Math.floor(i / 200) + 1}.${(i % 200) + 2}`, headers: { 'user-agent': LONG_UA(i), ...headers } });
}

interface Status { uses: number; revoked: boolean; redemptions: Array<{ ip: string; userAgent: string; requests: number; requestId: string }> }
async function statusOf(id: string): Promise<Status> {
  return JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as Status;
}

/** Write units the local DynamoDB charged while `run` ran (nothing else writes meanwhile). */
async function writeUnitsOf(run: () => Promise<unknown>): Promise<number> {
  const before = d.services.dynamodb.writeUnits();
  await run();
  return d.services.dynamodb.writeUnits() - before;
}

/** A link as the edge reads it from its URL. */
function presented(url: string, nowSeconds: number): PresentedLink {
  const u = new URL(url);
  const parsed = parsePresentedLink(u.pathname, u.search.slice(1), nowSeconds);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
}

async function sessionItems(id: string) {
  return (await dynamo.send(new QueryCommand({
    TableName: d.sessionsTableName, KeyConditionExpression: 'link = :l', ExpressionAttributeValues: { ':l': { S: id } }, ConsistentRead: true,
  }))).Items ?? [];
}

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'f.bin': FILE }, publicApi: true, maxUsesLimit: 100 });
  dynamo = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint });
});
afterAll(async () => {
  dynamo?.destroy();
  await d?.close();
});
afterEach(() => {
  d.services.dynamodb.fault.clear();
  d.services.s3.fault.clear();
});

describe('an N-use link\'s sessions in the sessions table', () => {
  it('costs each request at most 2 write units whatever the link\'s history: 100 clients with 500-character user agents', async () => {
    const link = await mint({ maxUses: 100 });
    expect(new URL(link.url).searchParams.get('x-link-uses')).toBe('100');
    const fresh = await mint({ maxUses: 2 });
    const first = await writeUnitsOf(async () => expect((await get(fresh.url, 0)).status).toBe(200));
    // A take of the link's item and a put of the session's item.
    expect(first).toBe(2);
    const redemptions: number[] = [];
    const continuations: number[] = [];
    for (let i = 0; i < 100; i++) {
      redemptions.push(await writeUnitsOf(async () => expect([i, (await get(link.url, i)).status]).toEqual([i, 200])));
      continuations.push(await writeUnitsOf(async () => expect([i, (await get(link.url, i, { range: 'bytes=0-99' })).status]).toEqual([i, 206])));
    }
    expect(new Set(redemptions)).toEqual(new Set([2]));
    expect(new Set(continuations)).toEqual(new Set([1]));
    // After 100 uses and 200 requests, the first client's session still continues for 1 unit.
    expect(await writeUnitsOf(async () => expect((await get(link.url, 0, { range: 'bytes=100-199' })).status).toBe(206))).toBe(1);
    // The 101st client is refused: its take is refused (1 unit) and nothing else is written.
    expect(await writeUnitsOf(async () => expect((await get(link.url, 100)).status).toBe(403))).toBe(1);
    // The audit trail is complete: 100 records, each with its user agent and requests.
    const status = await statusOf(link.id);
    expect(status.uses).toBe(100);
    expect(status.redemptions).toHaveLength(100);
    expect(status.redemptions.map((r) => r.userAgent).sort()).toEqual(Array.from({ length: 100 }, (_, i) => LONG_UA(i)).sort());
    expect(status.redemptions.map((r) => r.requests).reduce((a, b) => a + b, 0)).toBe(201);
    // The link's own item stays small: no sessions, no audit trail.
    const item = (await dynamo.send(new GetItemCommand({ TableName: d.tableName, Key: { id: { S: link.id } }, ConsistentRead: true }))).Item!;
    expect(JSON.stringify(item).length).toBeLessThan(1024);
    expect(item.sessions).toBeUndefined();
  });

  it('spends one use for one client\'s parallel first requests (a download manager), and serves them all', async () => {
    const link = await mint({ maxUses: 3 });
    const parts = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => get(link.url, 300, { range: `bytes=${k * 1000}-${k * 1000 + 999}` })));
    expect(parts.map((p) => p.status)).toEqual([206, 206, 206, 206, 206, 206]);
    parts.forEach((p, k) => expect(p.body.equals(FILE.subarray(k * 1000, k * 1000 + 1000))).toBe(true));
    const status = await statusOf(link.id);
    expect(status.uses).toBe(1);
    expect(status.redemptions).toEqual([expect.objectContaining({ requests: 6 })]);
  });

  it('refuses every client once the uses are spent, and a client whose session ended takes another use as a new session', async () => {
    const link = await mint({ maxUses: 2, downloadWindowSeconds: 1 });
    expect((await get(link.url, 310)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    // Its window ended: the same client starts the link's second use, in a session of its own.
    expect((await get(link.url, 310)).status).toBe(200);
    expect((await get(link.url, 311)).status).toBe(403);
    const status = await statusOf(link.id);
    expect(status.uses).toBe(2);
    expect(status.redemptions).toHaveLength(2);
    expect((await sessionItems(link.id)).map((s) => s.session.S!.slice(-4)).sort()).toEqual(['.001', '.002']);
  });

  it('stops open sessions when the link is revoked', async () => {
    const link = await mint({ maxUses: 5 });
    expect((await get(link.url, 320)).status).toBe(200);
    expect((await get(link.url, 321)).status).toBe(200);
    expect((await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' })).status).toBe(204);
    for (const i of [320, 321, 322]) expect([i, (await get(link.url, i, { range: 'bytes=0-9' })).status]).toEqual([i, 403]);
    expect((await get(link.url, 320, { range: 'bytes=0-9' })).text()).toMatch(/revoked/);
    expect((await sessionItems(link.id)).map((s) => s.revoked.BOOL)).toEqual([true, true]);
  });

  it('stops a session written after the revocation\'s first sweep: DELETE looks again once the edge\'s budget has passed', async () => {
    // An edge request took a use just before the revocation; its session's put lands while DELETE waits.
    const link = await mint({ maxUses: 3 });
    const now = Math.floor(Date.now() / 1000);
    const edgeLink = presented(link.url, now);
    const who = { at: new Date().toISOString(), ip: '127.0.2.200', userAgent: LONG_UA(400), requestId: 'late-put', bytes: 100 };
    const sk = sessionSortKey(sessionKey({ kind: 'client', ip: who.ip, userAgent: who.userAgent }), 1);
    const taken = await dynamo.send(new UpdateItemCommand(takeUseInput(d.tableName, edgeLink, sk, who, now)));
    const started = Date.now();
    const queries = d.services.dynamodb.calls.get('Query');
    const revoking = http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' });
    // After the first sweep's Query has been answered, before the second.
    await until(() => d.services.dynamodb.calls.get('Query') > queries);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await dynamo.send(new PutItemCommand(openSessionInput(d.sessionsTableName, edgeLink, sk, who, taken.Attributes!, now, who)));
    expect(d.services.dynamodb.calls.get('Query')).toBe(queries + 1);
    expect((await revoking).status).toBe(204);
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect((await sessionItems(link.id)).map((item) => item.revoked.BOOL)).toEqual([true]);
    expect((await get(link.url, 400, { range: 'bytes=0-9' })).status).toBe(403);
  });

  it('gives back a use the origin failed to deliver, and a continuation\'s bytes', async () => {
    const link = await mint({ maxUses: 2 });
    d.services.s3.fault.set({ mode: 'error', status: 503, code: 'SlowDown', operations: ['GetObject'], times: 1 });
    expect((await get(link.url, 330)).status).toBe(503);
    let status = await statusOf(link.id);
    expect([status.uses, status.redemptions]).toEqual([0, []]);
    expect(await sessionItems(link.id)).toEqual([]);
    expect((await get(link.url, 330)).status).toBe(200);
    d.services.s3.fault.set({ mode: 'error', status: 500, code: 'InternalError', operations: ['GetObject'], times: 1 });
    expect((await get(link.url, 330, { range: 'bytes=0-9' })).status).toBe(503);
    status = await statusOf(link.id);
    expect([status.uses, status.redemptions.map((r) => r.requests)]).toEqual([1, [1]]);
    const [session] = await sessionItems(link.id);
    expect(Number(session.bytes.N)).toBe(3 * FILE.length + 1024 * 1024 - FILE.length);
  });

  it('refuses a tampered or stripped x-link-uses without spending anything', async () => {
    const link = await mint({ maxUses: 3 });
    const edited = (uses: string | undefined) => {
      const u = new URL(link.url);
      if (uses === undefined) u.searchParams.delete('x-link-uses');
      else u.searchParams.set('x-link-uses', uses);
      return u.toString();
    };
    for (const url of [edited('2'), edited('4'), edited(undefined), edited('1'), edited('03')]) {
      expect([url, (await get(url, 340)).status]).toEqual([url, 403]);
    }
    const status = await statusOf(link.id);
    expect([status.uses, status.redemptions]).toEqual([0, []]);
    expect(await sessionItems(link.id)).toEqual([]);
  });

  it('still redeems an N-use link minted before sessions had a table (its sessions on its item)', async () => {
    // Such a link has no x-link-uses and an item with the session maps: a one-use link's item
    // given more uses is exactly that.
    const link = await mint({ maxUses: 1 });
    await dynamo.send(new UpdateItemCommand({
      TableName: d.tableName, Key: { id: { S: link.id } }, UpdateExpression: 'SET maxUses = :n, cap = :n', ExpressionAttributeValues: { ':n': { N: '2' } },
    }));
    expect((await get(link.url, 350)).status).toBe(200);
    expect((await get(link.url, 351)).status).toBe(200);
    expect((await get(link.url, 352)).status).toBe(403);
    expect((await statusOf(link.id)).uses).toBe(2);
    expect(await sessionItems(link.id)).toEqual([]);
  });

  it('gives a use back once when the answer to that write is lost (it is never retried): the link serves no more than its uses', async () => {
    const link = await mint({ maxUses: 2 });
    expect((await get(link.url, 370)).status).toBe(200);
    d.services.s3.fault.set({ mode: 'error', status: 503, code: 'SlowDown', operations: ['GetObject'], times: 1 });
    const deletes = d.services.dynamodb.calls.get('DeleteItem');
    const failing = get(link.url, 371);
    await until(() => d.services.dynamodb.calls.get('DeleteItem') > deletes);
    // The give-back's decrement commits and its answer is lost.
    d.services.dynamodb.fault.set({ mode: 'commit-then-reset', operations: ['UpdateItem'], times: 1 });
    expect((await failing).status).toBe(503);
    expect((await statusOf(link.id)).uses).toBe(1);
    expect([(await get(link.url, 372)).status, (await get(link.url, 373)).status]).toEqual([200, 403]);
  });

  it('lets one client\'s burst of parallel first parts take one use, so other clients are served alongside', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const link = await mint({ maxUses: 3 });
      const burst = [0, 1, 2, 3, 4, 5].map((k) => get(link.url, 380 + trial, { range: `bytes=${k * 100}-${k * 100 + 99}` }));
      const others = [0, 1].map((k) => get(link.url, 390 + 2 * trial + k));
      const [parts, rest] = await Promise.all([Promise.all(burst), Promise.all(others)]);
      expect([trial, parts.map((p) => p.status), rest.map((r) => r.status)]).toEqual([trial, [206, 206, 206, 206, 206, 206], [200, 200]]);
      const status = await statusOf(link.id);
      expect([status.uses, status.redemptions.length]).toEqual([3, 3]);
    }
  });

  it('looks again before refusing a link used up by a take whose use goes back (a race loser\'s)', async () => {
    const link = await mint({ maxUses: 2 });
    expect((await get(link.url, 410)).status).toBe(200);
    // A parallel first part of another client takes the last use; its session will lose the put race.
    const now = Math.floor(Date.now() / 1000);
    const edgeLink = presented(link.url, now);
    const loser = { at: new Date().toISOString(), ip: '127.0.2.211', userAgent: LONG_UA(411), requestId: 'race-loser', bytes: 100 };
    await dynamo.send(new UpdateItemCommand(takeUseInput(d.tableName, edgeLink, sessionSortKey('L'.repeat(22), 1), loser, now)));
    const gets = d.services.dynamodb.calls.get('GetItem');
    // The refused request looks at the link again; its first look is held until the loser has given its use back.
    d.services.dynamodb.fault.set({ mode: 'delay', delayMs: 500, operations: ['GetItem'], times: 1 });
    const waiting = get(link.url, 412);
    await Promise.race([until(() => d.services.dynamodb.calls.get('GetItem') > gets), waiting]);
    await dynamo.send(new UpdateItemCommand(returnUseInput(d.tableName, link.id)));
    expect((await waiting).status).toBe(200);
    expect((await statusOf(link.id)).uses).toBe(2);
  });

  it('refuses a viewer\'s own x-link-session without spending anything', async () => {
    const link = await mint({ maxUses: 3 });
    expect((await get(link.url, 399)).status).toBe(200);
    const [session] = await sessionItems(link.id);
    const forged = await get(`${link.url}&x-link-session=${session.session.S}`, 398);
    expect([forged.status, forged.text()]).toEqual([403, 'Refused: not a one-time link.']);
    expect((await statusOf(link.id)).uses).toBe(1);
  });

  it('recognizes its own take when the SDK retries a write whose answer was lost: one use, one session', async () => {
    const link = await mint({ maxUses: 2 });
    d.services.dynamodb.fault.set({ mode: 'commit-then-reset', operations: ['UpdateItem'], times: 1 });
    expect((await get(link.url, 360)).status).toBe(200);
    const status = await statusOf(link.id);
    expect([status.uses, status.redemptions.length]).toEqual([1, 1]);
  });
});
