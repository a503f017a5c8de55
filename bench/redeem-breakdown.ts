// Where a warm redemption spends its time beyond the floor, measured in one process against
// one local deployment, interleaved request by request so load on the machine hits all alike:
// - handler: the edge bundle on a fresh link (download metrics on: one EMF line per request);
// - handler without metrics: the same bundle staged without a metrics id (publishes nothing);
// - its UpdateItem, bare: the exact write the handler sends for a fresh link (redeemInput),
//   from a bare client with the handler's client settings: the cost of the write's shape;
// - floor: one bare conditional UpdateItem of a new tiny item (bench/redeem.ts measureFloor).
// Handler minus its bare UpdateItem is the handler's own work; the bare UpdateItem minus the
// floor is what the bigger write costs the SDK and the emulator.
//
//   npx ts-node --transpile-only -P tsconfig.dev.json bench/redeem-breakdown.ts [N]
//
// (`npx projen bundle` first.) Prints medians on stderr; writes nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, UpdateItemCommand, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { BROWSER_USER_AGENT, VIEWER_IP, viewerRequestEvent, type ViewerRequestHandler } from './events';
import { mintPhase } from './mint';
import { loadHandler, stageBundle } from './redeem';
import { median } from './stats';
import { startLocalDeployment } from '../local/deployment';
import { directHolder, redeemInput, sessionKey } from '../src/handlers/download-session';
import { boundedHttpHandler } from '../src/handlers/sdk';
import { parsePresentedLink } from '../src/shared/link';

const N = Number(process.argv[2] ?? 400);
const WARMUP = 20;
const msSince = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'otp-breakdown-'));
  const dep = await startLocalDeployment({ objects: { 'reports/q4.pdf': Buffer.alloc(65536, 7) } });
  // The handler's EMF lines, built and written, then dropped (as bench/run.ts does).
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"_aws"')) return true;
    return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  const client = new DynamoDBClient({
    region: dep.region,
    maxAttempts: 2,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 }),
  });
  try {
    const bundle = join(__dirname, '..', 'assets', 'handlers', 'edge', 'index.js');
    const { metricsId: _, ...withoutMetrics } = dep.edgeConfig;
    const handlers: Record<'handler' | 'handler without metrics', ViewerRequestHandler> = {
      'handler': loadHandler(stageBundle(bundle, join(scratch, 'on'), dep.edgeConfig)),
      'handler without metrics': loadHandler(stageBundle(bundle, join(scratch, 'off'), withoutMetrics as typeof dep.edgeConfig)),
    };
    const links: string[] = [];
    await mintPhase(dep, 'reports/q4.pdf', 3 * (N + WARMUP), 8, links);
    const times: Record<string, number[]> = { 'handler': [], 'handler without metrics': [], 'its UpdateItem, bare': [], 'floor': [] };
    const time = async (name: string, i: number, run: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await run();
      if (i >= WARMUP) times[name].push(msSince(t));
    };
    for (let i = 0; i < N + WARMUP; i++) {
      const names = Object.keys(handlers) as Array<keyof typeof handlers>;
      for (const name of i % 2 ? names : names.reverse()) {
        const event = viewerRequestEvent(links.pop()!);
        await time(name, i, async () => {
          const r = await handlers[name](event);
          if (!(r && 'uri' in r)) throw new Error(`${name} did not let a fresh link through`);
        });
      }
      const own = ownUpdateItem(dep.tableName, links.pop()!, i);
      await time('its UpdateItem, bare', i, () => client.send(new UpdateItemCommand(own)));
      const floor: UpdateItemCommandInput = {
        TableName: dep.tableName,
        Key: { id: { S: `floor-${i}-${Date.now()}` } },
        UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one',
        ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
        ExpressionAttributeNames: { '#n': 'n' },
        ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' }, ':max': { N: '1' } },
      };
      await time('floor', i, () => client.send(new UpdateItemCommand(floor)));
    }
    const floorP50 = median(times.floor);
    for (const [name, t] of Object.entries(times)) {
      process.stderr.write(`${name.padEnd(24)} p50 ${median(t).toFixed(3)} ms  ${(median(t) / floorP50).toFixed(2)}x the floor  (n=${t.length})\n`);
    }
  } finally {
    process.stdout.write = write;
    client.destroy();
    await dep.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The write the edge sends to redeem a fresh direct link, for a viewer like the bench's. */
function ownUpdateItem(tableName: string, url: string, i: number): UpdateItemCommandInput {
  const u = new URL(url);
  const now = Math.floor(Date.now() / 1000);
  const parsed = parsePresentedLink(u.pathname, u.search.slice(1), now);
  if (!parsed.ok) throw new Error(parsed.reason);
  const who = { at: new Date().toISOString(), ip: VIEWER_IP, userAgent: BROWSER_USER_AGENT, requestId: `breakdown-${i}`, bytes: 65536 };
  return redeemInput(tableName, parsed.value, sessionKey(directHolder(parsed.value, who)), who, now);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
