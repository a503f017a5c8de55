// The construct's download metrics: the metric methods sum every Lambda@Edge Region (metric
// math), or give one Region's metric for an alarm; `dashboard` adds a dashboard and nothing
// else; addRecommendedAlarms() alarms in the stack's Region; the edge gets its metrics id.
import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, Stack, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';
import { LAMBDA_EDGE_REGIONS } from '../src/shared/download-metrics';

function synth(props?: OneTimePresignedDistributionProps, region = 'eu-west-1') {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region } });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props);
  return { app, stack, otp };
}

/** The dashboard body as deployed: Fn::Join of strings and tokens, rendered to JSON (tokens become "TOKEN"). */
function dashboardBody(template: Template): { widgets: Array<{ type: string; properties: Record<string, unknown> }> } {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | string;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}

describe('download metric methods', () => {
  const { stack, otp } = synth();
  const ID = 'eu-west-1/Consumer/Downloads';

  it('sum one metric per Lambda@Edge Region with metric math, under this instance\'s Distribution dimension', () => {
    const m = otp.metricLinkRedemptions() as cloudwatch.MathExpression;
    expect(m).toBeInstanceOf(cloudwatch.MathExpression);
    const ids = LAMBDA_EDGE_REGIONS.map((r) => `linkRedemptions_${r.replace(/-/g, '_')}`);
    expect(m.expression).toBe(`SUM([${ids.join(', ')}])`);
    expect(Object.keys(m.usingMetrics)).toEqual(ids);
    const perRegion = Object.values(m.usingMetrics) as cloudwatch.Metric[];
    expect(perRegion.map((x) => x.region)).toEqual([...LAMBDA_EDGE_REGIONS]);
    for (const x of perRegion) {
      expect([x.namespace, x.metricName, x.dimensions, x.statistic, x.period.toSeconds()])
        .toEqual(['OneTimePresignedUrl/Downloads', 'LinkRedemptions', { Distribution: ID }, 'Sum', 300]);
    }
    expect(otp.downloadMetricsId).toBe(ID);
    expect(m.period.toSeconds()).toBe(300);
  });

  it('name the metric each method counts', () => {
    const nameOf = (metric: cloudwatch.IMetric) =>
      (Object.values((metric as cloudwatch.MathExpression).usingMetrics)[0] as cloudwatch.Metric).metricName;
    expect([
      nameOf(otp.metricLinkRedemptions()), nameOf(otp.metricSessionContinuations()), nameOf(otp.metricLinkRefusals()),
      nameOf(otp.metricEdgeErrors()), nameOf(otp.metricOriginFailures()), nameOf(otp.metricLedgerUnavailable()),
    ]).toEqual(['LinkRedemptions', 'SessionContinuations', 'LinkRefusals', 'EdgeErrors', 'OriginFailures', 'LedgerUnavailable']);
  });

  it('take MetricOptions: period and statistic for every Region, label and color for the sum', () => {
    const m = otp.metricLinkRefusals({ period: Duration.minutes(1), statistic: 'Maximum', label: 'Refused', color: '#d62728' }) as cloudwatch.MathExpression;
    expect([m.period.toSeconds(), m.label, m.color]).toEqual([60, 'Refused', '#d62728']);
    for (const x of Object.values(m.usingMetrics) as cloudwatch.Metric[]) expect([x.period.toSeconds(), x.statistic]).toEqual([60, 'Maximum']);
  });

  it('give one Region\'s metric alone with `region`, which an alarm in that Region accepts', () => {
    const m = otp.metricEdgeErrors({ region: 'eu-west-1' }) as cloudwatch.Metric;
    expect(m).toBeInstanceOf(cloudwatch.Metric);
    expect([m.region, m.metricName, m.dimensions]).toEqual(['eu-west-1', 'EdgeErrors', { Distribution: ID }]);
    new cloudwatch.Alarm(stack, 'MyEdgeErrors', { metric: m, threshold: 1, evaluationPeriods: 1 });
    // Not the sum: an alarm's math holds at most 10 metrics, and only its own Region's.
    expect(() => new cloudwatch.Alarm(stack, 'AllRegions', { metric: otp.metricEdgeErrors(), threshold: 1, evaluationPeriods: 1 }))
      .toThrow(/Alarms on math expressions cannot contain more than 10 individual metrics/);
    const { stack: s2, otp: two } = synth({ edgeMetricsRegions: ['eu-west-1', 'us-east-1'] });
    expect(() => new cloudwatch.Alarm(s2, 'TwoRegions', { metric: two.metricEdgeErrors(), threshold: 1, evaluationPeriods: 1 }))
      .toThrow(/Cannot create an Alarm in region 'eu-west-1' based on metric .* in 'us-east-1'/);
  });

  it('count one refusal reason, and refuse a reason the edge never publishes', () => {
    const m = otp.metricLinkRefusalsFor('used', { region: 'us-east-1' }) as cloudwatch.Metric;
    expect(m.dimensions).toEqual({ Distribution: ID, Reason: 'used' });
    expect(() => otp.metricLinkRefusalsFor('stolen')).toThrow(/metricLinkRefusalsFor\(\) reason must be one of unknown, revoked, .*; got "stolen"/);
  });

  it('render on a graph as a hidden metric per Region and the visible sum', () => {
    const graph = new cloudwatch.GraphWidget({ left: [otp.metricLinkRedemptions()] });
    const metrics = (stack.resolve(graph.toJson())[0] as { properties: { metrics: unknown[][] } }).properties.metrics;
    expect(metrics).toHaveLength(1 + LAMBDA_EDGE_REGIONS.length);
    expect(metrics[0]).toEqual([{
      label: 'LinkRedemptions (all edge Regions)',
      expression: `SUM([${LAMBDA_EDGE_REGIONS.map((r) => `linkRedemptions_${r.replace(/-/g, '_')}`).join(', ')}])`,
    }]);
    expect(metrics[1]).toEqual(['OneTimePresignedUrl/Downloads', 'LinkRedemptions', 'Distribution', ID,
      { region: 'us-east-1', stat: 'Sum', visible: false, id: 'linkRedemptions_us_east_1', label: 'us-east-1' }]);
  });

  it('sum only edgeMetricsRegions when given, and refuse a bad list naming the prop', () => {
    const { otp: narrow } = synth({ edgeMetricsRegions: ['eu-west-1', 'eu-central-1'] });
    expect((narrow.metricLinkRedemptions() as cloudwatch.MathExpression).expression).toBe('SUM([linkRedemptions_eu_west_1, linkRedemptions_eu_central_1])');
    expect((narrow.metricLinkRefusalsFor('cross-site') as cloudwatch.MathExpression).expression)
      .toBe('SUM([linkRefusals_cross_site_eu_west_1, linkRefusals_cross_site_eu_central_1])');
    expect(() => synth({ edgeMetricsRegions: [] })).toThrow(/edgeMetricsRegions must name at least one Region.*got \[\]/);
    expect(() => synth({ edgeMetricsRegions: ['Europe'] })).toThrow(/edgeMetricsRegions entries must be Region names such as eu-west-1; got "Europe"/);
    expect(() => synth({ edgeMetricsRegions: ['eu-west-1', 'eu-west-1'] })).toThrow(/edgeMetricsRegions must not repeat a Region/);
  });
});

describe('the edge function', () => {
  it('is staged with this instance\'s metrics id', () => {
    const { app, otp } = synth();
    const dir = fs.readdirSync(path.join(app.outdir, 'asset.otp-edge-sources'))[0];
    const config = JSON.parse(fs.readFileSync(path.join(app.outdir, 'asset.otp-edge-sources', dir, 'config.json'), 'utf8'));
    expect(config.metricsId).toBe(otp.downloadMetricsId);
  });
});

describe('dashboard', () => {
  it('is off by default: no dashboard, no alarm', () => {
    const { stack, otp } = synth();
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(otp.dashboard).toBeUndefined();
  });

  it('with dashboard: true, shows downloads, refusals (total and by reason in each Region), edge errors and the links API', () => {
    const { stack, otp } = synth({ dashboard: true, linkEvents: true });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(otp.dashboard).toBeInstanceOf(cloudwatch.Dashboard);
    const body = dashboardBody(template);
    const titles = body.widgets.map((w) => w.properties.title).filter(Boolean);
    expect(titles).toEqual([
      'Downloads: uses opened and session requests', 'Refusals', 'Edge errors: origin failures and ledger unavailable (503)',
      'Refusals by reason and Region', 'Links API: errors', 'Links API: latency', 'Link events not delivered',
    ]);
    const text = JSON.stringify(body);
    for (const name of ['LinkRedemptions', 'SessionContinuations', 'LinkRefusals', 'OriginFailures', 'LedgerUnavailable']) expect(text).toContain(`"${name}"`);
    for (const region of LAMBDA_EDGE_REGIONS) expect(text).toContain(`"region":"${region}"`);
    const byReason = body.widgets.find((w) => w.properties.title === 'Refusals by reason and Region')!;
    expect(JSON.stringify(byReason)).toContain('SEARCH(\'{OneTimePresignedUrl/Downloads,Distribution,Reason} MetricName=\\"LinkRefusals\\" Distribution=\\"eu-west-1/Consumer/Downloads\\"\'');
  });
});

describe('recommended alarms', () => {
  it('alarm on edge errors in the stack\'s Region, links API 5xx and undelivered link events; missing data does not breach', () => {
    const { stack, otp } = synth({ dashboard: true, linkEvents: true });
    const alarms = otp.addRecommendedAlarms();
    expect(alarms.map((a) => a.node.id)).toEqual(['EdgeErrorsAlarm', 'MintServerErrorsAlarm', 'LinkEventDeliveryFailuresAlarm']);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'OneTimePresignedUrl/Downloads',
      MetricName: 'EdgeErrors',
      Dimensions: [{ Name: 'Distribution', Value: 'eu-west-1/Consumer/Downloads' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5xx', Namespace: 'AWS/ApiGateway', Threshold: 5, Statistic: 'Sum' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 });
    expect(JSON.stringify(dashboardBody(template))).toContain('"title":"Recommended alarms"');
    expect(() => otp.addRecommendedAlarms()).toThrow(/addRecommendedAlarms\(\) was already called on Consumer\/Downloads/);
  });

  it('leave out the edge alarm in a stack Region where Lambda@Edge does not run, and the events alarm without link events', () => {
    const { stack, otp } = synth({}, 'eu-north-1');
    expect(otp.addRecommendedAlarms().map((a) => a.node.id)).toEqual(['MintServerErrorsAlarm']);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5xx', Dimensions: Match.anyValue() });
  });
});
