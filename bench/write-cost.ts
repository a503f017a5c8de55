// Write units per request (issue 23 item 2): the edge handler's bundle redeems real links
// against the local deployment, whose DynamoDB charges every write as DynamoDB documents (one
// write unit per KB of the larger of the item's sizes before and after, refused conditional
// writes included: local/servers/dynamodb.ts writeUnits names the pages); a request's cost is
// every unit charged while the handler decided it, whichever items it wrote.
//
// Side by side: a fresh 1-use direct link's redemption, and a 100-use direct link redeemed by
// 100 distinct clients with 500-character user agents, each continuing its session once: the
// most any of those redemptions and continuations cost (the 100th ones come after the link's
// whole history).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { viewerRequestEvent, type ViewerRequestHandler } from './events';
import { loadHandler, stageBundle } from './redeem';
import { median, msSince } from './stats';
import { startLocalDeployment } from '../local/deployment';

export interface WriteCost {
  /** Write units of the redemption of a fresh 1-use link. */
  readonly fresh: number;
  /** The most write units a continuation of a 100-use link's session cost, its last one after 100 long-user-agent uses. */
  readonly continuation: number;
  /** The most write units one of that link's 100 redemptions cost. */
  readonly redemption: number;
  /** Uses and user-agent length behind the last two. */
  readonly uses: number;
  readonly userAgentLength: number;
  /**
   * What the bounded cost takes in round trips: DynamoDB calls and warm p50 (ms) of the same
   * handler, interleaved, for a 1-use link's redemption, and a 3-use link's redemption and
   * continuation by a direct link's client (Query + take + put, Query + update).
   */
  readonly trips: Record<'oneUseRedemption' | 'nUseRedemption' | 'nUseContinuation', { readonly calls: number; readonly p50: number }>;
}

const USES = 100;
const USER_AGENT_LENGTH = 500;

const TRIP_SAMPLES = 150;

/** Calls and p50 of the three kinds of request in `WriteCost.trips`, interleaved request by request. */
async function measureTrips(
  mint: (maxUses: number) => Promise<string>, handler: ViewerRequestHandler, calls: { total(): number },
): Promise<WriteCost['trips']> {
  const kinds = ['oneUseRedemption', 'nUseRedemption', 'nUseContinuation'] as const;
  const times: Record<typeof kinds[number], number[]> = { oneUseRedemption: [], nUseRedemption: [], nUseContinuation: [] };
  const counted: Record<typeof kinds[number], number> = { oneUseRedemption: 0, nUseRedemption: 0, nUseContinuation: 0 };
  const run = async (kind: typeof kinds[number], url: string, i: number, range?: string) => {
    const event = viewerRequestEvent(url, 'GET', [['User-Agent', `bench-trips/${i}`], ...(range ? [['Range', range] as [string, string]] : [])]);
    const before = calls.total();
    const t = process.hrtime.bigint();
    const result = await handler(event);
    const ms = msSince(t);
    if (!(result && 'uri' in result)) throw new Error(`write cost: ${kind} ${i} was not let through`);
    // The most calls any one request of the kind made.
    counted[kind] = Math.max(counted[kind], calls.total() - before);
    if (i >= 10) times[kind].push(ms);
  };
  for (let i = 0; i < TRIP_SAMPLES + 10; i++) {
    const [one, n] = [await mint(1), await mint(3)];
    await run('oneUseRedemption', one, i);
    await run('nUseRedemption', n, i);
    await run('nUseContinuation', n, i, 'bytes=0-1023');
  }
  return Object.fromEntries(kinds.map((k) => [k, { calls: counted[k], p50: median(times[k]) }])) as WriteCost['trips'];
}

export async function measureWriteCost(): Promise<WriteCost> {
  const scratch = mkdtempSync(join(tmpdir(), 'otp-write-cost-'));
  const dep = await startLocalDeployment({ objects: { 'w.bin': Buffer.alloc(65_536, 1) }, maxUsesLimit: USES, publicApi: true });
  // The handler's log lines go wherever the caller sends stdout (bench/run.ts counts them).
  try {
    const handler: ViewerRequestHandler = loadHandler(stageBundle(join(__dirname, '..', 'assets', 'handlers', 'edge', 'index.js'), scratch, dep.edgeConfig));
    const mint = async (maxUses: number): Promise<string> => {
      const res = await fetch(`${dep.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'w.bin', maxUses }) });
      if (res.status !== 201) throw new Error(`write cost: mint answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { url: string }).url;
    };
    /** Write units charged while the handler decided client `i`'s request; it must let it through. */
    const charged = async (url: string, i: number, range?: string): Promise<number> => {
      const userAgent = `Mozilla/5.0 (client ${i}) ${'x'.repeat(USER_AGENT_LENGTH)}`.slice(0, USER_AGENT_LENGTH);
      const event = viewerRequestEvent(url, 'GET', [['User-Agent', userAgent], ...(range ? [['Range', range] as [string, string]] : [])]);
      const cf = event.Records[0].cf;
      cf.request = { ...cf.request, clientIp: `10.${Math.floor(i / 250)}.${i % 250}.7` };
      const before = dep.services.dynamodb.writeUnits();
      const result = await handler(event);
      if (!(result && 'uri' in result)) throw new Error(`write cost: request ${i} was not let through: ${JSON.stringify(result).slice(0, 200)}`);
      return dep.services.dynamodb.writeUnits() - before;
    };
    const fresh = await charged(await mint(1), 0);
    const busy = await mint(USES);
    let redemption = 0;
    let continuation = 0;
    for (let i = 0; i < USES; i++) {
      redemption = Math.max(redemption, await charged(busy, i));
      continuation = Math.max(continuation, await charged(busy, i, 'bytes=0-1023'));
    }
    // The first client again, after the link's whole history.
    continuation = Math.max(continuation, await charged(busy, 0, 'bytes=1024-2047'));
    const trips = await measureTrips(mint, handler, dep.services.dynamodb.calls);
    return { fresh, continuation, redemption, uses: USES, userAgentLength: USER_AGENT_LENGTH, trips };
  } finally {
    await dep.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
