// Mint: latency per minted link through the local HTTP API (SigV4-signed, as a
// backend calls it), sequentially and with modest concurrency. The links it mints are
// the fresh links the redemption benchmarks consume.
import { msSince } from './stats';
import { callApi } from '../local/api-client';
import type { LocalDeployment } from '../local/deployment';

export interface MintPhase {
  readonly concurrency: number;
  readonly latencies: number[];
  readonly wallMs: number;
  /** Calls received by the emulated services during the phase, per service and operation. */
  readonly calls: Record<string, number>;
}

export function serviceCalls(dep: LocalDeployment): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (service: string, snapshot: Record<string, number>) => {
    for (const [op, n] of Object.entries(snapshot)) out[`${service}:${op}`] = n;
  };
  add('DynamoDB', dep.services.dynamodb.calls.snapshot());
  // One emulator serves SSM and EventBridge: name each operation by its service.
  for (const [op, n] of Object.entries(dep.services.awsJson.calls.snapshot())) {
    out[`${op === 'PutEvents' ? 'EventBridge' : 'SSM'}:${op}`] = n;
  }
  add('S3', dep.services.s3.calls.snapshot());
  return out;
}

export function diffCalls(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(after)) {
    const d = n - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export async function mintOne(dep: LocalDeployment, key: string): Promise<string> {
  const res = await callApi(`${dep.apiUrl}/get-url?key=${encodeURIComponent(key)}`, dep.region, dep);
  if (res.status !== 200) throw new Error(`mint failed: ${res.status} ${res.body}`);
  return res.json<{ url: string }>().url;
}

/** One landing-page link (POST /urls with landingPage). */
export async function mintLandingPage(dep: LocalDeployment, key: string): Promise<string> {
  const res = await callApi(`${dep.apiUrl}/urls`, dep.region, dep, { method: 'POST', body: JSON.stringify({ key, landingPage: true }) });
  if (res.status !== 201) throw new Error(`mint failed: ${res.status} ${res.body}`);
  return res.json<{ url: string }>().url;
}

/** Mints `count` links with `concurrency` callers in flight; pushes the URLs into `links`. */
export async function mintPhase(dep: LocalDeployment, key: string, count: number, concurrency: number, links: string[]): Promise<MintPhase> {
  const latencies: number[] = [];
  const before = serviceCalls(dep);
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const t = process.hrtime.bigint();
      const url = await mintOne(dep, key);
      latencies.push(msSince(t));
      links.push(url);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const wallMs = msSince(started);
  return { concurrency, latencies, wallMs, calls: diffCalls(serviceCalls(dep), before) };
}
