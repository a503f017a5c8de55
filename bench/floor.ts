// The floor under a warm redemption (issue 23, item 7): what the edge handler adds on top of
// the one DynamoDB call it cannot avoid. Measured in one process against one local deployment:
// - the handler: the shipped edge bundle redeeming a fresh link;
// - the floor: the very conditional UpdateItem the handler sends for a fresh link
//   (redeemInput, for the same viewer), sent bare for another fresh link by the "bare
//   clients" bundle (the SDK built with the edge bundle's own esbuild arguments), with the
//   edge's client settings (src/handlers/edge.ts ledgerClient);
// - the smallest conditional UpdateItem (one counter) from that same client: beside the
//   floor, what the redemption rule's expression and item cost the emulator itself.
// The handler and the floor alternate request by request, so load on the machine and the
// JIT's warm-up hit both alike; each prepares its request (the event, the write) untimed.
//
// `npm run bench` reports it; alone (p50s on stderr, writes nothing):
//   npx projen bundle && npx ts-node --transpile-only -P tsconfig.dev.json bench/floor.ts [rounds] [perRound]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient as Client, UpdateItemCommand as Command, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { bundle, edgeBundleRecipe, REPO_ROOT } from './bundles';
import { BROWSER_USER_AGENT, VIEWER_IP, viewerRequestEvent, type ViewerRequestHandler } from './events';
import { diffCalls, mintPhase, serviceCalls } from './mint';
import { emptyStats, loadHandler, record, stageBundle, type RedemptionOptions, type RedemptionStats } from './redeem';
import { fmtMs, fmtRatio, max, min, msSince, quantile, verdict } from './stats';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { requestedBytes } from '../src/handlers/byte-range';
import { directHolder, redeemInput, sessionKey, type ViewerRequest } from '../src/handlers/download-session';
import { boundedHttpHandler, deadlines } from '../src/handlers/sdk';
import { Attr } from '../src/shared/ledger';
import { parsePresentedLink } from '../src/shared/link';

export const FLOOR_SUBJECTS = ['handler', 'floor', 'smallest'] as const;
export type FloorSubject = typeof FLOOR_SUBJECTS[number];
const INTERLEAVED = ['handler', 'floor'] as const;
type InterleavedSubject = typeof INTERLEAVED[number];

/** What bench/bare-clients.ts exports, as loaded from its bundle. */
interface BareClients {
  readonly DynamoDBClient: typeof Client;
  readonly UpdateItemCommand: typeof Command;
}

/** Fresh links the measurement consumes: two per measured step (the handler's and the floor's). */
export const floorLinksNeeded = (opts: RedemptionOptions): number => 2 * (opts.warmup + opts.rounds * opts.perRound);

export async function measureFloor(
  dep: LocalDeployment,
  handler: ViewerRequestHandler,
  bareClientsFile: string,
  links: string[],
  opts: RedemptionOptions,
): Promise<Record<FloorSubject, RedemptionStats>> {
  if (links.length < floorLinksNeeded(opts)) throw new Error(`the floor needs ${floorLinksNeeded(opts)} fresh links, have ${links.length}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bare = require(bareClientsFile) as BareClients;
  // The edge's ledgerClient (src/handlers/edge.ts), built by the bare bundle's SDK.
  const client = new bare.DynamoDBClient({
    region: dep.region,
    maxAttempts: 2,
    cacheMiddleware: true,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 }),
  });
  client.middlewareStack.use(deadlines);
  const send = (input: UpdateItemCommandInput) => client.send(new bare.UpdateItemCommand(input));
  // Each step prepares its request first (the event, or the write), then times only the call.
  const prepare: Record<InterleavedSubject, () => () => Promise<string>> = {
    handler: () => {
      const event = viewerRequestEvent(links.shift()!);
      return async () => {
        const result = await handler(event);
        return result && 'uri' in result ? 'pass' : 'refused';
      };
    },
    floor: () => {
      const input = handlersWrite(dep.tableName, links.shift()!);
      // It let the request through: the key came back, as it does for the handler.
      return async () => ((await send(input)).Attributes?.[Attr.key]?.S ? 'pass' : 'no key read back');
    },
  };
  const stats = Object.fromEntries(FLOOR_SUBJECTS.map((s) => [s, emptyStats(opts.rounds)])) as Record<FloorSubject, RedemptionStats>;
  const timed = async (subject: FloorSubject, run: () => Promise<string>, round: number | undefined) => {
    const before = serviceCalls(dep);
    const t = process.hrtime.bigint();
    const outcome = await run();
    const ms = msSince(t);
    if (outcome !== 'pass') throw new Error(`floor: ${subject} answered ${outcome}`);
    if (round !== undefined) record(stats[subject], round, { ms, outcome, calls: diffCalls(serviceCalls(dep), before) });
  };
  try {
    // The handler and the floor alternate which goes first; each SDK copy sends one write a step.
    const step = async (i: number, round?: number) => {
      for (const s of i % 2 ? INTERLEAVED : [...INTERLEAVED].reverse()) await timed(s, prepare[s](), round);
    };
    for (let i = 0; i < opts.warmup; i++) await step(i);
    for (let round = 0; round < opts.rounds; round++) {
      opts.betweenRounds?.();
      for (let i = 0; i < opts.perRound; i++) await step(i, round);
    }
    // The smallest write, after them from the same warm client (it is context, not the target).
    for (let round = 0; round < opts.rounds; round++) {
      for (let i = 0; i < opts.perRound; i++) {
        const input: UpdateItemCommandInput = {
          TableName: dep.tableName,
          Key: { id: { S: `floor-${round}-${i}-${Date.now()}` } },
          UpdateExpression: 'SET #n = if_not_exists(#n, :zero) + :one',
          ConditionExpression: 'attribute_not_exists(#n) OR #n < :max',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':zero': { N: '0' }, ':one': { N: '1' }, ':max': { N: '1' } },
        };
        await timed('smallest', async () => (await send(input), 'pass'), round);
      }
    }
  } finally {
    client.destroy();
  }
  return stats;
}

/** The report's rows for the floor (bench/run.ts's table), and what it missed. `oneCall` is the call pattern of one UpdateItem. */
export function floorReport(fl: Record<FloorSubject, RedemptionStats>, oneCall: string): { rows: string[][]; misses: string[] } {
  const p50 = (x: FloorSubject) => quantile(fl[x].latencies, 0.5);
  const overFloor = p50('handler') / p50('floor');
  const roundRatios = fl.handler.rounds.map((round, k) => quantile(round, 0.5) / quantile(fl.floor.rounds[k], 0.5));
  const oneCallEach = FLOOR_SUBJECTS.every((x) => fl[x].callPatterns[oneCall] === fl[x].requests && fl[x].requests > 0);
  const met = overFloor <= 1.1 && oneCallEach;
  return {
    rows: [
      [
        'Warm redemption p50 beside the floor: the same conditional UpdateItem the handler sends, sent bare (same emulator, SDK build and '
          + 'client settings; interleaved request by request)',
        `${fmtMs(p50('handler'))} vs ${fmtMs(p50('floor'))}`, '-',
        `handler / floor: ${fmtRatio(overFloor)} (per round: ${fmtRatio(min(roundRatios))} to ${fmtRatio(max(roundRatios))})`,
        '<= 1.10x the floor, one UpdateItem each',
        verdict(met, `: ${fmtRatio(overFloor)}${oneCallEach ? '' : ', not one UpdateItem each'}`),
      ],
      [
        'What the redemption rule\'s write costs the emulator: the floor beside the smallest conditional UpdateItem (one counter, same client)',
        `${fmtMs(p50('floor'))} vs ${fmtMs(p50('smallest'))}`, '-',
        `floor / smallest: ${fmtRatio(p50('floor') / p50('smallest'))}; handler / smallest: ${fmtRatio(p50('handler') / p50('smallest'))}`,
        '-', '-',
      ],
    ],
    misses: met ? [] : [`Warm redemption p50 is ${fmtRatio(overFloor)} the floor (target 1.10x)${oneCallEach ? '' : '; not one UpdateItem each'}.`],
  };
}

/** How the floor is measured, for the report's method section. */
export function floorMethod(warmup: number): string[] {
  return [
    '- **The floor** (bench/floor.ts): what the handler cannot avoid is its one conditional UpdateItem. The bench builds that very write',
    '  for another fresh link with the handler\'s own functions (`redeemInput`, for the same viewer) and sends it bare from the "bare clients"',
    '  bundle (the SDK built with the edge bundle\'s esbuild arguments) with the edge\'s client settings; the handler redeems a fresh link',
    `  beside it. The two alternate request by request, switching which goes first, after ${warmup} unmeasured pairs, each request`,
    '  prepared (the event, the write) before its clock starts; handler over floor is what the handler itself adds. The smallest',
    '  conditional UpdateItem (one counter) goes from the same client after them: floor over smallest is what the rule\'s write costs.',
  ];
}

/**
 * The write the edge sends to redeem a fresh direct link for the viewer viewerRequestEvent
 * describes (no Range: the whole object), built by the handler's own functions.
 */
function handlersWrite(tableName: string, url: string): UpdateItemCommandInput {
  const u = new URL(url);
  const now = Math.floor(Date.now() / 1000);
  const parsed = parsePresentedLink(u.pathname, u.search.slice(1), now);
  if (!parsed.ok) throw new Error(`floor: ${parsed.reason}`);
  const link = parsed.value;
  const who: ViewerRequest = {
    at: new Date().toISOString(),
    ip: VIEWER_IP,
    userAgent: BROWSER_USER_AGENT,
    requestId: randomBytes(16).toString('base64url'),
    bytes: requestedBytes(undefined, link.objectSize),
  };
  return redeemInput(tableName, link, sessionKey(directHolder(link, who)), who, now);
}

async function main(): Promise<void> {
  const opts: RedemptionOptions = { warmup: 20, rounds: Number(process.argv[2] ?? 5), perRound: Number(process.argv[3] ?? 200) };
  const scratch = mkdtempSync(join(tmpdir(), 'otp-floor-'));
  // The mint's and the handler's log lines would bury the result: stdout is dropped.
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  const dep = await startLocalDeployment({ objects: { 'reports/q4.pdf': Buffer.alloc(65536, 7) } });
  try {
    const bare = await bundle(edgeBundleRecipe().options, 'bench/bare-clients.ts', join(scratch, 'bare-clients', 'index.js'));
    const handler = loadHandler(stageBundle(join(REPO_ROOT, 'assets', 'handlers', 'edge', 'index.js'), join(scratch, 'edge'), dep.edgeConfig));
    const links: string[] = [];
    await mintPhase(dep, 'reports/q4.pdf', floorLinksNeeded(opts), 8, links);
    const stats = await measureFloor(dep, handler, bare.file, links, opts);
    const p50 = (s: FloorSubject) => quantile(stats[s].latencies, 0.5);
    for (const s of FLOOR_SUBJECTS) process.stderr.write(`${s.padEnd(9)} p50 ${p50(s).toFixed(3)} ms (n=${stats[s].requests})\n`);
    const rounds = stats.handler.rounds.map((r, k) => (quantile(r, 0.5) / quantile(stats.floor.rounds[k], 0.5)).toFixed(2));
    process.stderr.write(`handler / floor ${(p50('handler') / p50('floor')).toFixed(2)}x (rounds ${rounds.join(', ')}); `
      + `floor / smallest ${(p50('floor') / p50('smallest')).toFixed(2)}x\n`);
  } finally {
    process.stdout.write = write;
    await dep.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
