// Redemption benchmarks: the edge handlers called directly with viewer-request events,
// against the emulated services, with every AWS call counted at those services.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outcomeOf, viewerRequestEvent, type ViewerRequestHandler } from './events';
import { diffCalls, serviceCalls } from './mint';
import { childEnv, runProcess } from './proc';
import { msSince } from './stats';
import type { LocalDeployment } from '../local/deployment';
import { EDGE_STAGED_CONFIG_FILE, type EdgeStagedConfig } from '../src/shared/config';

export type SubjectName = 'ours' | 'baseline';

export interface Subject {
  readonly name: SubjectName;
  /** The staged bundle (index.js, with config.json beside it when it needs one). */
  readonly file: string;
}

/** Copies a bundle into its own folder, with the staged config.json the construct writes at synth. */
export function stageBundle(source: string, dir: string, staged?: EdgeStagedConfig): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(source, join(dir, 'index.js'));
  if (staged) writeFileSync(join(dir, EDGE_STAGED_CONFIG_FILE), JSON.stringify(staged));
  return join(dir, 'index.js');
}

/** Loads a bundle the way Lambda does: a CommonJS module from a path known only at run time. */
export function loadHandler(file: string): ViewerRequestHandler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { handler?: ViewerRequestHandler };
  if (typeof mod.handler !== 'function') throw new Error(`${file} exports no handler`);
  return mod.handler;
}

export interface Invocation {
  readonly ms: number;
  readonly outcome: string;
  /** Calls the emulated services received during this invocation, `Service:Operation` -> n. */
  readonly calls: Record<string, number>;
}

export async function invoke(
  dep: LocalDeployment,
  handler: ViewerRequestHandler,
  url: string,
  extraHeaders: ReadonlyArray<[string, string]> = [],
  method = 'GET',
): Promise<Invocation & { result: Awaited<ReturnType<ViewerRequestHandler>> }> {
  const event = viewerRequestEvent(url, method, extraHeaders);
  const before = serviceCalls(dep);
  const t = process.hrtime.bigint();
  const result = await handler(event);
  const ms = msSince(t);
  return { ms, outcome: outcomeOf(result), calls: diffCalls(serviceCalls(dep), before), result };
}

export interface RedemptionStats {
  readonly latencies: number[];
  /** Latencies per round (for per-round ratios). */
  readonly rounds: number[][];
  readonly outcomes: Record<string, number>;
  /** Per-request call pattern -> number of requests that made exactly those calls. */
  readonly callPatterns: Record<string, number>;
  /** All calls, summed. */
  readonly calls: Record<string, number>;
  readonly requests: number;
}

export function emptyStats(rounds: number): RedemptionStats {
  return { latencies: [], rounds: Array.from({ length: rounds }, () => []), outcomes: {}, callPatterns: {}, calls: {}, requests: 0 };
}

export function callPattern(calls: Record<string, number>): string {
  const parts = Object.entries(calls).sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op} x${n}`);
  return parts.length ? parts.join(' + ') : 'no AWS calls';
}

export function record(stats: RedemptionStats, round: number, inv: Invocation): void {
  const s = stats as { -readonly [K in keyof RedemptionStats]: RedemptionStats[K] };
  s.latencies.push(inv.ms);
  s.rounds[round].push(inv.ms);
  s.outcomes[inv.outcome] = (s.outcomes[inv.outcome] ?? 0) + 1;
  const pattern = callPattern(inv.calls);
  s.callPatterns[pattern] = (s.callPatterns[pattern] ?? 0) + 1;
  for (const [op, n] of Object.entries(inv.calls)) s.calls[op] = (s.calls[op] ?? 0) + n;
  s.requests++;
}

export interface RedemptionOptions {
  readonly warmup: number;
  readonly rounds: number;
  readonly perRound: number;
  /** Called before each measured round (a garbage collection, say). */
  readonly betweenRounds?: () => void;
}

/**
 * Warm redemptions: each fresh link is presented once to each handler (each has its own
 * ledger), one request at a time, alternating which handler goes first.
 */
export async function measureWarm(
  dep: LocalDeployment,
  handlers: Record<SubjectName, ViewerRequestHandler>,
  links: string[],
  opts: RedemptionOptions,
): Promise<{ stats: Record<SubjectName, RedemptionStats>; used: string[] }> {
  const need = opts.warmup + opts.rounds * opts.perRound;
  if (links.length < need) throw new Error(`warm redemption needs ${need} fresh links, have ${links.length}`);
  const used: string[] = [];
  // Warm-up: the first request of each container reads SSM (ours) and opens connections.
  for (let i = 0; i < opts.warmup; i++) {
    const url = links.shift()!;
    for (const name of ['ours', 'baseline'] as const) {
      const inv = await invoke(dep, handlers[name], url);
      if (inv.outcome !== 'pass') throw new Error(`warm-up: ${name} answered ${inv.outcome} for a fresh link`);
    }
    used.push(url);
  }
  const stats = { ours: emptyStats(opts.rounds), baseline: emptyStats(opts.rounds) };
  for (let round = 0; round < opts.rounds; round++) {
    opts.betweenRounds?.();
    for (let i = 0; i < opts.perRound; i++) {
      const url = links.shift()!;
      const order: SubjectName[] = i % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
      for (const name of order) record(stats[name], round, await invoke(dep, handlers[name], url));
      used.push(url);
    }
  }
  return { stats, used };
}

/**
 * Session continuations (ours only; the seed has no sessions): the client that redeemed a
 * link asks for a byte range within its download window, as a media player or a resumed
 * download does. It must pass with the same single conditional write as a new use.
 */
export async function measureContinuations(
  dep: LocalDeployment,
  handler: ViewerRequestHandler,
  usedLinks: readonly string[],
  count: number,
): Promise<RedemptionStats> {
  const stats = emptyStats(1);
  for (let i = 0; i < Math.min(count, usedLinks.length); i++) {
    record(stats, 0, await invoke(dep, handler, usedLinks[i], [['Range', `bytes=${i}-${i + 1023}`]]));
  }
  return stats;
}

/** Replays of already-redeemed links: both handlers must refuse them. */
export async function measureReplays(
  dep: LocalDeployment,
  handlers: Record<SubjectName, ViewerRequestHandler>,
  usedLinks: readonly string[],
  count: number,
): Promise<Record<SubjectName, RedemptionStats>> {
  const stats = { ours: emptyStats(1), baseline: emptyStats(1) };
  for (let i = 0; i < Math.min(count, usedLinks.length); i++) {
    const order: SubjectName[] = i % 2 === 0 ? ['ours', 'baseline'] : ['baseline', 'ours'];
    // Another client: the redeeming client's own download session would continue the use.
    for (const name of order) record(stats[name], 0, await invoke(dep, handlers[name], usedLinks[i], [['User-Agent', 'bench-replayer/1.0']]));
  }
  return stats;
}

// ---------------------------------------------------------------------------
// Fresh processes

const LOAD_ONLY = `
const t = process.hrtime.bigint();
require(process.argv[1]);
const loadMs = Number(process.hrtime.bigint() - t) / 1e6;
process.stdout.write('\\n' + JSON.stringify({ loadMs }), () => process.exit(0));
`;

const FIRST_REQUEST = `
const t0 = process.hrtime.bigint();
const mod = require(process.argv[1]);
const t1 = process.hrtime.bigint();
const event = JSON.parse(process.argv[2]);
mod.handler(event).then((r) => {
  const t2 = process.hrtime.bigint();
  const outcome = r && r.status !== undefined ? String(r.status) : (r && r.uri ? 'pass' : 'invalid');
  process.stdout.write('\\n' + JSON.stringify({ loadMs: Number(t1 - t0) / 1e6, firstMs: Number(t2 - t1) / 1e6, outcome }), () => process.exit(0));
}, (err) => {
  process.stderr.write(String((err && err.stack) || err));
  process.exit(1);
});
`;

async function node(code: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await runProcess(process.execPath, ['-e', code, ...args], { cwd: __dirname, env: childEnv(), timeoutMs: 30_000 });
  if (r.code !== 0 || r.timedOut) throw new Error(`fresh node process failed (${r.timedOut ? 'timeout' : r.code}): ${r.stderr.slice(-2000)}`);
  // The handler's own lines (its download metrics) come first: the result is the last line.
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
}

/**
 * Module load time of each bundle in a fresh `node` process (process.hrtime around
 * require, inside the child). Interleaved with a rotating order, after one unmeasured
 * load of each (so the OS file cache is equally warm for all).
 */
export async function measureLoadTimes(files: Record<string, string>, runs: number): Promise<Record<string, number[]>> {
  const names = Object.keys(files);
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await node(LOAD_ONLY, [files[name]]);
  for (let i = 0; i < runs; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length];
      out[name].push((await node(LOAD_ONLY, [files[name]])).loadMs as number);
    }
  }
  return out;
}

export interface ColdRequest {
  readonly loadMs: number;
  readonly firstMs: number;
  readonly outcome: string;
  /** Every call the emulators counted during the run, on the request path or not. */
  readonly calls: Record<string, number>;
  /** SSM was held unanswered: its calls were not on the request path. */
  readonly ssmHeld: boolean;
}

/** The calls a request waited for: all counted ones, less SSM reads that were held unanswered. */
export function callsOnPath(c: ColdRequest): Record<string, number> {
  if (!c.ssmHeld) return c.calls;
  return Object.fromEntries(Object.entries(c.calls).filter(([op]) => !op.startsWith('SSM:')));
}

/**
 * The first request of a fresh process (a cold container): load the bundle, then one
 * viewer request with a fresh link; the emulated services count the calls it made.
 */
export async function measureColdRequests(
  dep: LocalDeployment,
  subjects: readonly Subject[],
  links: string[],
  runs: number,
  /**
   * Subjects whose SSM reads are held unanswered during their runs: a first request that
   * still completes proves SSM was not on its path (ours reads it in the background).
   */
  holdSsm: readonly SubjectName[] = [],
): Promise<Record<SubjectName, ColdRequest[]>> {
  const out: Record<SubjectName, ColdRequest[]> = { ours: [], baseline: [] };
  // Run -1 is unmeasured (file cache warm-up).
  for (let i = -1; i < runs; i++) {
    const url = links.shift();
    if (!url) throw new Error('cold requests ran out of fresh links');
    const order = i % 2 === 0 ? subjects : [...subjects].reverse();
    for (const s of order) {
      const before = serviceCalls(dep);
      const held = holdSsm.includes(s.name);
      if (held) dep.services.awsJson.fault.set({ mode: 'hang', operations: ['GetParameter'] });
      let res: Record<string, unknown>;
      try {
        res = await node(FIRST_REQUEST, [s.file, JSON.stringify(viewerRequestEvent(url))]);
      } finally {
        if (held) dep.services.awsJson.fault.clear();
      }
      const calls = diffCalls(serviceCalls(dep), before);
      if (res.outcome !== 'pass') throw new Error(`cold request: ${s.name} answered ${String(res.outcome)} for a fresh link`);
      if (i >= 0) {
        out[s.name].push({ loadMs: res.loadMs as number, firstMs: res.firstMs as number, outcome: res.outcome as string, calls, ssmHeld: held });
      }
    }
  }
  return out;
}

/**
 * Landing-page links (ours only): opening one (a page view: one eventually consistent read,
 * never a write), and a request of the browser that pressed the button (its session cookie:
 * one conditional write, like any continuation). The button itself is pressed outside the
 * measurement.
 */
export async function measureLandingPages(
  dep: LocalDeployment,
  handler: ViewerRequestHandler,
  landingLinks: readonly string[],
): Promise<{ views: RedemptionStats; downloads: RedemptionStats }> {
  const views = emptyStats(1);
  const downloads = emptyStats(1);
  for (const url of landingLinks) {
    record(views, 0, await invoke(dep, handler, url));
    const pressed = await invoke(dep, handler, url, [['Sec-Fetch-Site', 'same-origin']], 'POST');
    const setCookie = pressed.result && 'status' in pressed.result ? pressed.result.headers?.['set-cookie']?.[0]?.value : undefined;
    if (!setCookie) throw new Error(`pressing a landing page's button answered ${pressed.outcome}`);
    record(downloads, 0, await invoke(dep, handler, url, [['Cookie', setCookie.split(';')[0]], ['Range', 'bytes=0-1023']]));
  }
  return { views, downloads };
}

/**
 * The origin-request trigger (ours only; the seed forwarded a presigned URL as it was): the
 * edge signs the one request it sends to S3, with its own session, for the key the
 * viewer-request trigger read back from the ledger. No AWS call: the cost a download adds.
 */
export async function measureOriginSigning(dep: LocalDeployment, handler: ViewerRequestHandler, keys: readonly string[]): Promise<RedemptionStats> {
  const stats = emptyStats(1);
  for (const [i, key] of keys.entries()) {
    const event = {
      Records: [{
        cf: {
          config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EBENCHDISTRIBUTION', eventType: 'origin-request', requestId: `bench-${i}` },
          request: {
            clientIp: '198.51.100.23',
            method: 'GET',
            uri: `/${key}`,
            querystring: `x-link-id=bench${String(i).padStart(18, '0')}`,
            headers: {},
            origin: { s3: { authMethod: 'none', customHeaders: {}, domainName: dep.originHost, path: '' } },
          },
        },
      }],
    } as unknown as Parameters<ViewerRequestHandler>[0];
    const before = serviceCalls(dep);
    const t = process.hrtime.bigint();
    const result = await handler(event);
    const ms = msSince(t);
    const signed = result && 'querystring' in result && /X-Amz-Signature=/.test(String(result.querystring));
    record(stats, 0, { ms, outcome: signed ? 'signed' : outcomeOf(result), calls: diffCalls(serviceCalls(dep), before) });
  }
  return stats;
}
