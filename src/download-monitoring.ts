// Download metrics as CloudWatch metric objects, the opt-in dashboard and the recommended
// alarms. The edge function publishes its metrics in whichever Region ran it
// (src/handlers/edge-metrics.ts), so:
// - the metric methods sum one metric per Lambda@Edge Region with metric math. Dashboards
//   graph metrics of any Region (each metric carries its own `region`), so the sum works on a
//   dashboard and in GetMetricData;
// - an alarm cannot: a CloudWatch alarm watches metrics of its own Region only (CDK refuses
//   "Cannot create an Alarm in region X based on metric Y in Z", aws/aws-cdk#30483), and the
//   metric math of an alarm holds at most 10 metrics ("MetricDataQuery", CloudWatch API
//   Reference: "as many as 10 structures that contain a MetricStat parameter",
//   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html).
//   With `region` in the options, each method returns that Region's metric alone, for an
//   alarm in a stack of that Region; the recommended alarms watch the stack's own Region.
import { Duration, Stack, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  DISTRIBUTION_DIMENSION, DOWNLOAD_METRICS_NAMESPACE, DownloadMetric, LAMBDA_EDGE_REGIONS, REASON_DIMENSION,
} from './shared/download-metrics';

/** Validates the edgeMetricsRegions prop: a non-empty list of distinct Region names. */
export function validateEdgeMetricsRegions(regions: string[] | undefined): readonly string[] {
  if (regions === undefined) return LAMBDA_EDGE_REGIONS;
  if (regions.length === 0) throw new Error('edgeMetricsRegions must name at least one Region (leave it out for every Lambda@Edge Region); got []');
  for (const r of regions) {
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(r)) throw new Error(`edgeMetricsRegions entries must be Region names such as eu-west-1; got ${JSON.stringify(r)}`);
  }
  if (new Set(regions).size !== regions.length) throw new Error(`edgeMetricsRegions must not repeat a Region; got ${JSON.stringify(regions)}`);
  return regions;
}

/** The download metrics of one construct instance. */
export class DownloadMetrics {
  constructor(private readonly id: string, private readonly regions: readonly string[]) {}

  /**
   * One download metric (Sum over 5 minutes unless the options say otherwise): summed over
   * every edge Region, or with `options.region` that Region's alone.
   */
  public metric(name: string, options: cloudwatch.MetricOptions = {}, extraDimensions: Record<string, string> = {}): cloudwatch.IMetric {
    const { region, label, color, period, statistic, ...rest } = options;
    const base = {
      namespace: DOWNLOAD_METRICS_NAMESPACE,
      metricName: name,
      statistic: statistic ?? cloudwatch.Stats.SUM,
      period: period ?? Duration.minutes(5),
      ...rest,
      dimensionsMap: { [DISTRIBUTION_DIMENSION]: this.id, ...extraDimensions, ...options.dimensionsMap },
    };
    if (region !== undefined) return new cloudwatch.Metric({ ...base, region, label, color });
    // Ids unique within a graph or alarm (several sums share one graph): metric, dimensions, Region.
    const prefix = [name, ...Object.values(extraDimensions)].join('_').replace(/[^A-Za-z0-9]/g, '_');
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const r of this.regions) usingMetrics[`${prefix[0].toLowerCase()}${prefix.slice(1)}_${r.replace(/-/g, '_')}`] = new cloudwatch.Metric({ ...base, region: r, label: r });
    return new cloudwatch.MathExpression({
      // SUM of an array adds the series present at each time: a Region without traffic has no data.
      expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label: label ?? `${name} (all edge Regions)`,
      color,
      period: base.period,
    });
  }

  /**
   * Refusals by reason, one search per edge Region (a graph line per Region and reason):
   * for dashboards only (a search cannot drive an alarm).
   */
  public refusalsByReason(period: Duration): cloudwatch.IMetric[] {
    const query = `{${DOWNLOAD_METRICS_NAMESPACE},${DISTRIBUTION_DIMENSION},${REASON_DIMENSION}} `
      + `MetricName="${DownloadMetric.refusals}" ${DISTRIBUTION_DIMENSION}="${this.id}"`;
    return this.regions.map((r) => new cloudwatch.MathExpression({
      expression: `SEARCH('${query}', 'Sum', ${period.toSeconds()})`,
      searchRegion: r,
      label: r,
      period,
    }));
  }
}

/** What the dashboard shows besides the download metrics. */
export interface DashboardSources {
  readonly metrics: DownloadMetrics;
  readonly mintServerErrors: cloudwatch.IMetric;
  readonly mintClientErrors: cloudwatch.IMetric;
  readonly mintLatency: cloudwatch.IMetric;
  readonly eventDeliveryFailures?: cloudwatch.IMetric;
}

/** The opt-in dashboard: downloads (every edge Region), refusals, errors, the links API and link events. */
export function createDownloadsDashboard(scope: Construct, id: string, sources: DashboardSources): cloudwatch.Dashboard {
  const m = sources.metrics;
  const period = Duration.minutes(5);
  const dashboard = new cloudwatch.Dashboard(scope, id, { defaultInterval: Duration.days(1) });
  dashboard.addWidgets(new cloudwatch.TextWidget({
    markdown: `# One-time links: ${Stack.of(scope).region}/${scope.node.path}\n`
      + 'Download metrics are published by the edge function in each Region that serves viewers, and summed here over the '
      + 'Lambda@Edge Regions. Alarms watch one Region each (see the README, "Download metrics").',
    width: 24,
    height: 2,
  }));
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Downloads: uses opened and session requests',
      left: [m.metric(DownloadMetric.redemptions, { period }), m.metric(DownloadMetric.continuations, { period })],
      width: 8,
    }),
    new cloudwatch.GraphWidget({ title: 'Refusals', left: [m.metric(DownloadMetric.refusals, { period })], width: 8 }),
    new cloudwatch.GraphWidget({
      title: 'Edge errors: origin failures and ledger unavailable (503)',
      left: [m.metric(DownloadMetric.originFailures, { period }), m.metric(DownloadMetric.ledgerUnavailable, { period })],
      width: 8,
    }),
  );
  dashboard.addWidgets(new cloudwatch.GraphWidget({ title: 'Refusals by reason and Region', left: m.refusalsByReason(period), width: 24 }));
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Links API: errors', left: [sources.mintServerErrors, sources.mintClientErrors], width: 8 }),
    new cloudwatch.GraphWidget({ title: 'Links API: latency', left: [sources.mintLatency], width: 8 }),
    ...(sources.eventDeliveryFailures
      ? [new cloudwatch.GraphWidget({ title: 'Link events not delivered', left: [sources.eventDeliveryFailures], width: 8 })]
      : []),
  );
  return dashboard;
}

/** The alarms {@link createRecommendedAlarms} makes. */
export interface RecommendedAlarmSources {
  readonly metrics: DownloadMetrics;
  readonly mintServerErrors: cloudwatch.IMetric;
  readonly eventDeliveryFailures?: cloudwatch.IMetric;
}

/**
 * Recommended alarms, in the stack's Region (the only Region an alarm of this stack can watch):
 * - edge errors (origin failures + ledger unavailable) of the edge in the stack's Region, when
 *   it is one of the edge Regions: 5 or more in 5 minutes;
 * - links API 5xx answers: 5 or more in 5 minutes;
 * - link events not delivered (with linkEvents): any.
 * EMF metrics exist only when something happened, so missing data is not breaching
 * ("Setting alarms on metrics created with the embedded metric format", CloudWatch User Guide).
 */
export function createRecommendedAlarms(scope: Construct, sources: RecommendedAlarmSources, edgeRegions: readonly string[]): cloudwatch.Alarm[] {
  const region = Stack.of(scope).region;
  const alarms: cloudwatch.Alarm[] = [];
  const common = {
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  };
  if (edgeRegions.includes(region)) {
    alarms.push(new cloudwatch.Alarm(scope, 'EdgeErrorsAlarm', {
      ...common,
      metric: sources.metrics.metric(DownloadMetric.edgeErrors, { region, period: Duration.minutes(5) }),
      threshold: 5,
      alarmDescription: `Downloads served from ${region} met 5 or more origin failures or ledger failures (503) in 5 minutes.`,
    }));
  }
  alarms.push(new cloudwatch.Alarm(scope, 'MintServerErrorsAlarm', {
    ...common,
    metric: sources.mintServerErrors,
    threshold: 5,
    alarmDescription: 'The links API answered 5 or more 5xx in 5 minutes.',
  }));
  if (sources.eventDeliveryFailures) {
    alarms.push(new cloudwatch.Alarm(scope, 'LinkEventDeliveryFailuresAlarm', {
      ...common,
      metric: sources.eventDeliveryFailures,
      threshold: 1,
      alarmDescription: 'Link events could not be delivered (messages in the dead-letter queue).',
    }));
  }
  return alarms;
}
