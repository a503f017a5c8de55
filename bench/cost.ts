// Cost model: cost per million downloads from measured durations and published prices.
// Excludes data transfer, and CloudFront requests (the same for both designs).
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { mean } from './stats';

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
  readonly asOf: string;
}

/**
 * Published prices (USD). Quoted from the pages named in `source`, as given in the
 * benchmark brief (issue 6); the benchmark has no network and does not re-fetch them.
 */
export const LAMBDA_EDGE_REQUEST: Price = {
  usd: 0.60 / 1e6,
  unit: 'per request ($0.60 per 1M)',
  source: 'https://aws.amazon.com/lambda/pricing/ (Lambda@Edge pricing)',
  asOf: 'price current as quoted 2026-11; no free tier for Lambda@Edge',
};
export const LAMBDA_EDGE_GB_SECOND: Price = {
  usd: 0.00005001,
  unit: 'per GB-second, billed per 1 ms',
  source: 'https://aws.amazon.com/lambda/pricing/ (Lambda@Edge); 1 ms granularity: https://aws.amazon.com/about-aws/whats-new/2021/03/cloudfront-lambda-at-edge-billing-granularity/',
  asOf: '1 ms billing since 2021-04-01; price as quoted 2026-11',
};
export const DYNAMODB_WRITE_REQUEST_UNIT: Price = {
  usd: 0.625 / 1e6,
  unit: 'per write request unit, on-demand, us-east-1 ($0.625 per 1M)',
  source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  asOf: 'after the on-demand price cut effective 2024-11-01',
};
export const DYNAMODB_READ_REQUEST_UNIT: Price = {
  usd: 0.125 / 1e6,
  unit: 'per read request unit, on-demand, us-east-1 ($0.125 per 1M)',
  source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  asOf: 'after the on-demand price cut effective 2024-11-01',
};
export const SSM_GET_PARAMETER_STANDARD: Price = {
  usd: 0,
  unit: 'per GetParameter, standard throughput (free; the account shares a default 40 TPS quota)',
  source: 'https://aws.amazon.com/systems-manager/pricing/ (Parameter Store)',
  asOf: 'as quoted 2026-11',
};
export const SSM_GET_PARAMETER_HIGH_THROUGHPUT: Price = {
  usd: 0.05 / 10_000,
  unit: 'per API interaction with higher throughput enabled ($0.05 per 10,000)',
  source: 'https://aws.amazon.com/systems-manager/pricing/ (Parameter Store)',
  asOf: 'as quoted 2026-11',
};

/** Lambda@Edge viewer triggers: 128 MB is the maximum (and what the construct configures). */
export const MEMORY_GB = 128 / 1024;
/** The second scenario's assumed round trip per AWS call (edge location to the table's region). */
export const ASSUMED_RTT_MS_PER_CALL = 20;

/**
 * Approximate DynamoDB item size per the documented rules: attribute name bytes plus
 * value bytes; strings as UTF-8, numbers about 1 byte per 2 significant digits + 1,
 * booleans 1, lists and maps 3 bytes plus 1 byte per element.
 */
export function itemSize(item: Record<string, AttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.B !== undefined) return v.B.length;
  if (v.L !== undefined) return 3 + v.L.reduce((n, e) => n + valueSize(e) + 1, 0);
  if (v.M !== undefined) return 3 + Object.entries(v.M).reduce((n, [k, e]) => n + Buffer.byteLength(k) + valueSize(e) + 1, 0);
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + Buffer.byteLength(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + Math.ceil(s.length / 2) + 1, 0);
  return 0;
}

export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
/** Eventually consistent read: half a unit per 4 KB. */
export const eventualReadUnits = (bytes: number) => 0.5 * Math.max(1, Math.ceil(bytes / 4096));

export interface DesignCostInput {
  /** Measured warm handler durations (ms). */
  readonly durationsMs: readonly number[];
  /** AWS calls per warm request (for the RTT scenario). */
  readonly awsCallsPerRequest: number;
  readonly writeUnitsPerDownload: number;
  readonly readUnitsPerDownload: number;
  readonly ssmCallsPerDownload: number;
  /**
   * Lambda@Edge invocations per download besides the viewer request that redeems it,
   * each billed the 1 ms minimum (ours: the origin-request trigger that signs the request
   * to S3 and the origin-response trigger that replaces origin errors; neither makes an AWS
   * call on a successful download).
   */
  readonly extraEdgeInvocationsPerDownload: number;
}

export interface CostLine {
  readonly billedMs: number;
  readonly edgeRequests: number;
  readonly edgeDuration: number;
  readonly dynamodb: number;
  readonly ssmStandard: number;
  readonly ssmHighThroughput: number;
  readonly totalStandard: number;
  readonly totalHighThroughput: number;
}

/** USD per million downloads. `extraMsPerCall` adds an assumed network round trip per AWS call. */
export function costPerMillion(input: DesignCostInput, extraMsPerCall: number): CostLine {
  const perMillion = 1e6;
  // Each request is billed rounded up to the next 1 ms.
  const billedMs = mean(input.durationsMs.map((ms) => Math.ceil(ms + extraMsPerCall * input.awsCallsPerRequest)));
  const invocations = 1 + input.extraEdgeInvocationsPerDownload;
  const edgeRequests = invocations * LAMBDA_EDGE_REQUEST.usd * perMillion;
  const edgeDuration = ((billedMs + input.extraEdgeInvocationsPerDownload) / 1000) * MEMORY_GB * LAMBDA_EDGE_GB_SECOND.usd * perMillion;
  const dynamodb = (input.writeUnitsPerDownload * DYNAMODB_WRITE_REQUEST_UNIT.usd
    + input.readUnitsPerDownload * DYNAMODB_READ_REQUEST_UNIT.usd) * perMillion;
  const ssmStandard = input.ssmCallsPerDownload * SSM_GET_PARAMETER_STANDARD.usd * perMillion;
  const ssmHighThroughput = input.ssmCallsPerDownload * SSM_GET_PARAMETER_HIGH_THROUGHPUT.usd * perMillion;
  const base = edgeRequests + edgeDuration + dynamodb;
  return {
    billedMs,
    edgeRequests,
    edgeDuration,
    dynamodb,
    ssmStandard,
    ssmHighThroughput,
    totalStandard: base + ssmStandard,
    totalHighThroughput: base + ssmHighThroughput,
  };
}
