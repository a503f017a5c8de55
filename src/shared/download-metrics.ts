// Download metrics: what the edge function publishes for each request it decides (as
// CloudWatch embedded metric format records, src/handlers/edge-metrics.ts), and what the
// construct's metric methods, dashboard and alarms read. One module, so the names the edge
// writes and the names the construct reads cannot drift apart.

/** Namespace of every download metric. */
export const DOWNLOAD_METRICS_NAMESPACE = 'OneTimePresignedUrl/Downloads';

/**
 * The dimension that keeps construct instances apart (two in one account publish into the
 * same namespace in the same edge regions). Its value is staged at synth
 * ({@link downloadMetricsId}): the distribution id is not known then, and the edge function
 * lives in the us-east-1 edge stack, which cannot take the regional stack's tokens.
 */
export const DISTRIBUTION_DIMENSION = 'Distribution';

/** The dimension of {@link DownloadMetric.refusals} that says why. */
export const REASON_DIMENSION = 'Reason';

/** Metric names, one per outcome of a request the edge function decides. */
export const DownloadMetric = {
  /** A use opened: a direct link's first request, a landing page's button, a new use after a session ended. */
  redemptions: 'LinkRedemptions',
  /** A request served by a session already open (a Range request, a resume, a landing-page download). */
  continuations: 'SessionContinuations',
  /** A request refused (403, or 503 while paused), also published per {@link REASON_DIMENSION}. */
  refusals: 'LinkRefusals',
  /** An origin failure (S3 answered 5xx, or 404: the object is gone) the origin-response trigger gave a use back for. */
  originFailures: 'OriginFailures',
  /** A request answered 503 because the ledger (DynamoDB) failed or timed out. */
  ledgerUnavailable: 'LedgerUnavailable',
  /** OriginFailures + LedgerUnavailable, published with each, so one metric per region sums them. */
  edgeErrors: 'EdgeErrors',
} as const;

/** Why the edge refused a request: the values of the {@link REASON_DIMENSION}. */
export const REFUSAL_REASONS = [
  // What the ledger says of a link or its session (download-session.ts's Refusal).
  'unknown', 'revoked', 'expired', 'used', 'allowance', 'ended',
  // Refused before any I/O.
  'method', 'malformed', 'prefetch', 'preview', 'cross-site', 'other-browser',
  // A protected link's press: no usable passphrase, or a wrong one (passphrase.ts); locked.
  'passphrase', 'locked',
  // An upload link's PUT refused before any I/O: no length, chunked, too large, another type (upload.ts).
  'upload',
  // The operator's switch (answered 503).
  'paused',
  // A refusal this list does not name (a new one without its own reason yet).
  'other',
] as const;
export type RefusalReason = typeof REFUSAL_REASONS[number];

/**
 * The AWS Regions with CloudFront regional edge caches, where Lambda@Edge runs and writes its
 * logs, so its embedded metrics land there too: a Lambda@Edge function logs to
 * /aws/lambda/us-east-1.<name> in the Region nearest the edge location that ran it ("Edge
 * function logs", CloudFront Developer Guide,
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/edge-functions-logs.html;
 * the Regions where it ran show in the CloudFront console's Lambda@Edge metrics). The list is
 * the regional edge cache Regions as collected in Gruntwork's Lambda@Edge log group module
 * ("Which regions have regional edge caches?", as of 22 Aug 2022,
 * https://docs.gruntwork.io/reference/modules/terraform-aws-lambda/lambda-edge-multi-region-log-groups):
 * CloudFront adds regional edge caches over time, so the construct's `edgeMetricsRegions` prop
 * replaces it.
 */
export const LAMBDA_EDGE_REGIONS: readonly string[] = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
  'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-1', 'ap-southeast-2',
  'eu-central-1', 'eu-west-1', 'eu-west-2',
  'sa-east-1',
];

/**
 * The value of the {@link DISTRIBUTION_DIMENSION} for one construct instance: its stack's
 * region and its path, so two instances in one account (two stacks, or one app deployed to
 * two regions) never share a series.
 */
export function downloadMetricsId(region: string, path: string): string {
  return `${region}/${path}`;
}
