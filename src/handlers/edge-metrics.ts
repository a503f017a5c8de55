// Download metrics of the edge function: one CloudWatch embedded metric format (EMF) record
// per request it decides, written as one line to stdout.
//
// - The record follows "Specification: Embedded metric format"
//   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
//   `_aws.Timestamp` (ms), `_aws.CloudWatchMetrics[].{Namespace, Dimensions, Metrics}`, and the
//   dimension and metric values as members of the root object.
// - Lambda needs no agent: CloudWatch Logs extracts metrics from any log event of the
//   function's log group that follows the specification ("Using the embedded metric format
//   with Lambda",
//   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html).
//   Lambda@Edge writes its logs to /aws/lambda/us-east-1.<name> in the Region nearest the edge
//   location that ran it ("Edge function logs", CloudFront Developer Guide,
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-logs.html),
//   so the metrics land in that Region: the construct's metric methods sum every Region.
// - The line goes to process.stdout, not console.log: in Node.js, Lambda prefixes console
//   output with a timestamp, request id and level (text format) or wraps it in a JSON object
//   (JSON format), which the EMF client libraries avoid for the same reason ("Log and monitor
//   Node.js Lambda functions", https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html;
//   aws-powertools/powertools-lambda-typescript#1766).
//
// Cost per request: one write of a line whose invariant part is built once per outcome.
// The record carries no link, no address and no user agent: only the outcome.
import {
  DISTRIBUTION_DIMENSION, DOWNLOAD_METRICS_NAMESPACE, DownloadMetric, REASON_DIMENSION, type RefusalReason,
} from '../shared/download-metrics';

/** What the edge decided for one request, as the metrics count it. */
export type EdgeOutcome =
  | { readonly kind: 'redeemed' }
  | { readonly kind: 'continued' }
  | { readonly kind: 'refused'; readonly reason: RefusalReason }
  | { readonly kind: 'ledger-unavailable' }
  | { readonly kind: 'origin-failure' };

/** Outcomes attached to the answers the handler returns (never sent: CloudFront sees the answer unchanged). */
const outcomes = new WeakMap<object, EdgeOutcome>();

export const REDEEMED: EdgeOutcome = { kind: 'redeemed' };
export const CONTINUED: EdgeOutcome = { kind: 'continued' };

/**
 * Marks an answer (a response, or the request sent on) with what it means, and returns it.
 * An answer keeps its first mark: a 503 that forwarding answered stays a ledger failure.
 */
export function withOutcome<T>(answer: T, outcome: EdgeOutcome): T {
  if (typeof answer === 'object' && answer !== null && !outcomes.has(answer)) outcomes.set(answer, outcome);
  return answer;
}

/** The outcome an answer was marked with, if any (a page view or a preview page counts nothing). */
export function outcomeOf(answer: unknown): EdgeOutcome | undefined {
  return typeof answer === 'object' && answer !== null ? outcomes.get(answer) : undefined;
}

/** The record's invariant part per outcome (all but the timestamp), built once per container. */
const cache = new Map<string, [string, string]>();

/** The EMF record of an outcome, as one line of JSON (without the newline). */
export function emfRecord(distribution: string, outcome: EdgeOutcome, timestamp: number): string {
  const key = `${distribution}\n${outcome.kind === 'refused' ? outcome.reason : outcome.kind}`;
  let parts = cache.get(key);
  if (!parts) {
    parts = recordParts(distribution, outcome);
    cache.set(key, parts);
  }
  return parts[0] + timestamp + parts[1];
}

function recordParts(distribution: string, outcome: EdgeOutcome): [string, string] {
  const metrics: string[] = [];
  const values: Record<string, string | number> = { [DISTRIBUTION_DIMENSION]: distribution };
  const dimensions: string[][] = [[DISTRIBUTION_DIMENSION]];
  switch (outcome.kind) {
    case 'redeemed': metrics.push(DownloadMetric.redemptions); break;
    case 'continued': metrics.push(DownloadMetric.continuations); break;
    case 'refused':
      metrics.push(DownloadMetric.refusals);
      // The total (Distribution) and the reason (Distribution, Reason) from one record.
      dimensions.push([DISTRIBUTION_DIMENSION, REASON_DIMENSION]);
      values[REASON_DIMENSION] = outcome.reason;
      break;
    case 'ledger-unavailable': metrics.push(DownloadMetric.ledgerUnavailable, DownloadMetric.edgeErrors); break;
    case 'origin-failure': metrics.push(DownloadMetric.originFailures, DownloadMetric.edgeErrors); break;
  }
  for (const m of metrics) values[m] = 1;
  const directive = [{
    Namespace: DOWNLOAD_METRICS_NAMESPACE,
    Dimensions: dimensions,
    Metrics: metrics.map((Name) => ({ Name, Unit: 'Count' })),
  }];
  const rest = JSON.stringify(values).slice(1);
  return ['{"_aws":{"Timestamp":', `,"CloudWatchMetrics":${JSON.stringify(directive)}},${rest}`];
}

/** Publishes the outcome an answer was marked with (one line to stdout); nothing for an unmarked one. */
export function publishOutcome(distribution: string | undefined, answer: unknown): void {
  const outcome = outcomeOf(answer);
  if (outcome) publish(distribution, outcome);
}

/** Publishes one outcome (one line to stdout). A config staged without a metrics id publishes nothing. */
export function publish(distribution: string | undefined, outcome: EdgeOutcome): void {
  if (distribution === undefined) return;
  process.stdout.write(emfRecord(distribution, outcome, Date.now()) + '\n');
}
