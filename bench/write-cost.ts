// Write units per request (issue 23 item 2), measured with ReturnConsumedCapacity: the edge's
// own UpdateItem inputs (download-session.ts, the functions the handler calls) sent to the
// emulator with `ReturnConsumedCapacity: TOTAL`, which charges as DynamoDB documents: one write
// unit per KB of the larger of the item before and after the write (DynamoDB Developer Guide,
// "Read/write capacity mode": UpdateItem is charged for the larger of the item's sizes before and
// after the update; a failed conditional write is charged too).
//
// Side by side: a fresh 1-use direct link, and a 100-use direct link after 99 uses by distinct
// clients with 500-character user agents (the audit trail and the sessions live in the link's
// one item): a continuation of the first client's session, and the 100th client's redemption.
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { startLocalDeployment } from '../local/deployment';
import { directHolder, redeemInput, sessionKey, type ViewerRequest } from '../src/handlers/download-session';
import { parsePresentedLink, type PresentedLink } from '../src/shared/link';

export interface WriteCost {
  /** Write units of the redemption of a fresh 1-use link. */
  readonly fresh: number;
  /** Write units of a continuation of a 100-use link's session after 99 long-user-agent uses. */
  readonly continuation: number;
  /** Write units of the 100th use's redemption of that link. */
  readonly redemption: number;
  /** Uses and user-agent length behind the last two. */
  readonly uses: number;
  readonly userAgentLength: number;
}

const USES = 100;
const USER_AGENT_LENGTH = 500;

export async function measureWriteCost(): Promise<WriteCost> {
  const dep = await startLocalDeployment({ objects: { 'w.bin': Buffer.alloc(65_536, 1) }, maxUsesLimit: USES, publicApi: true });
  const client = new DynamoDBClient({ region: dep.region, endpoint: dep.services.dynamodb.endpoint });
  const now = Math.floor(Date.now() / 1000);
  const mint = async (maxUses: number): Promise<PresentedLink> => {
    const res = await fetch(`${dep.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'w.bin', maxUses }) });
    if (res.status !== 201) throw new Error(`write cost: mint answered ${res.status}: ${await res.text()}`);
    const u = new URL(((await res.json()) as { url: string }).url);
    const parsed = parsePresentedLink(u.pathname, u.search.slice(1), now);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.value;
  };
  const viewer = (i: number): ViewerRequest => ({
    at: new Date().toISOString(),
    ip: `10.${Math.floor(i / 250)}.${i % 250}.7`,
    userAgent: `Mozilla/5.0 (client ${i}) ${'x'.repeat(USER_AGENT_LENGTH - 24)}`.slice(0, USER_AGENT_LENGTH),
    requestId: `write-cost-${i}-${Date.now()}`,
    bytes: 65_536,
  });
  /** The handler's write for this viewer, charged: write units, and whether it passed. */
  const redeem = async (link: PresentedLink, who: ViewerRequest): Promise<number> => {
    const input: UpdateItemCommandInput = { ...redeemInput(dep.tableName, link, sessionKey(directHolder(link, who)), who, now), ReturnConsumedCapacity: 'TOTAL' };
    const out = await client.send(new UpdateItemCommand(input));
    return out.ConsumedCapacity?.CapacityUnits ?? NaN;
  };
  try {
    const fresh = await redeem(await mint(1), viewer(0));
    const busy = await mint(USES);
    const first = viewer(0);
    for (let i = 0; i < USES - 1; i++) await redeem(busy, i === 0 ? first : viewer(i));
    const continuation = await redeem(busy, { ...first, requestId: `${first.requestId}-again`, at: new Date().toISOString() });
    const redemption = await redeem(busy, viewer(USES - 1));
    return { fresh, continuation, redemption, uses: USES, userAgentLength: USER_AGENT_LENGTH };
  } finally {
    client.destroy();
    await dep.close();
  }
}
