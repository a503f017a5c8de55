// Link events in the synthesized templates: off by default (nothing added), on with a
// stream, a publisher function with least privilege, a dead-letter queue and rules.
import { App, Stack, aws_events as events, aws_events_targets as targets, aws_sns as sns } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';

function synth(props: (stack: Stack) => OneTimePresignedDistributionProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region: 'eu-west-1', account: '123456789012' } });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props(stack));
  return { stack, otp, template: () => Template.fromStack(stack) };
}

describe('link events', () => {
  it('are off by default: no stream, no publisher, no queue', () => {
    const template = synth().template();
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    // Neither the ledger nor the sessions table has a stream.
    expect(tables).toHaveLength(2);
    for (const table of tables) expect(table.Properties.StreamSpecification).toBeUndefined();
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    template.resourceCountIs('AWS::SQS::Queue', 0);
    expect(() => synth().otp.onLinkRedeemed('R')).toThrow(/onLinkRedeemed\(\) needs link events: set linkEvents: true on Consumer\/Downloads/);
  });

  it('publish from the streams of the ledger and the sessions table to the default bus, in order, retried, with failures in a dead-letter queue', () => {
    const template = synth(() => ({ linkEvents: true })).template();
    const tables = template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(tables).sort()).toEqual([expect.stringMatching(/^DownloadsLedger/), expect.stringMatching(/^DownloadsSessions/)]);
    for (const table of Object.values(tables)) expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    // One mapping per stream, configured alike, with no filter: a session item's INSERT (a use of an N-use link) must reach the function.
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings.map((m) => m.Properties.EventSourceArn['Fn::GetAtt']).sort()).toEqual([
      [expect.stringMatching(/^DownloadsLedger/), 'StreamArn'], [expect.stringMatching(/^DownloadsSessions/), 'StreamArn'],
    ]);
    const [ledgerMapping, sessionsMapping] = mappings.map(({ Properties: { EventSourceArn: _arn, ...settings } }) => settings);
    expect(sessionsMapping).toEqual(ledgerMapping);
    expect(ledgerMapping).toEqual({
      FunctionName: { Ref: expect.stringMatching(/LinkEventsFunction/) },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ParallelizationFactor: 1,
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/LinkEventsDeadLetterQueue/), 'Arn'] } } },
    });
    expect(ledgerMapping.FilterCriteria).toBeUndefined();
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { OTP_EVENT_BUS_NAME: 'default' } },
      Description: Match.stringLikeRegexp('link events'),
    });
  });

  it('may only PutEvents with their own source, on their bus, and read only the ledger\'s stream', () => {
    const template = synth(() => ({ linkEvents: true })).template();
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('LinkEventsRole') }] } }));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>);
    const put = statements.find((st) => st.Action === 'events:PutEvents')!;
    expect(put.Condition).toEqual({ StringEquals: { 'events:source': 'cdk-one-time-presigned-url' } });
    expect(JSON.stringify(put.Resource)).toContain(':event-bus/default');
    const streams = statements.filter((st) => Array.isArray(st.Action) && (st.Action as string[]).includes('dynamodb:GetRecords'));
    expect(streams.map((st) => JSON.stringify(st.Resource)).sort()).toEqual([
      expect.stringMatching(/^\{"Fn::GetAtt":\["DownloadsLedger[0-9A-F]+","StreamArn"\]\}$/),
      expect.stringMatching(/^\{"Fn::GetAtt":\["DownloadsSessions[0-9A-F]+","StreamArn"\]\}$/),
    ]);
    // Nothing else touches the items of either table.
    expect(JSON.stringify(statements)).not.toMatch(/dynamodb:(PutItem|UpdateItem|DeleteItem|GetItem)/);
  });

  it('go to a bus the user passes, and rules from onLinkRedeemed/onLinkUsedUp/onLinkRevoked/onLinkLocked match exactly their type', () => {
    const { otp, template } = synth((stack) => ({ linkEvents: true, eventBus: new events.EventBus(stack, 'Bus') }));
    const topic = new sns.Topic(otp, 'SenderNotifications');
    otp.onLinkRedeemed('Redeemed', { target: new targets.SnsTopic(topic) });
    otp.onLinkUsedUp('UsedUp');
    otp.onLinkRevoked('Revoked', { eventPattern: { detail: { owner: ['jwt:https://issuer#alice'] } } });
    otp.onLinkLocked('Locked');
    const t = template();
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { OTP_EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('^Bus') } } } });
    for (const [type, extra] of [['Link Redeemed', {}], ['Link Used Up', {}], ['Link Revoked', { detail: { owner: ['jwt:https://issuer#alice'] } }], ['Link Locked', {}]] as const) {
      t.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: { Ref: Match.stringLikeRegexp('^Bus') },
        EventPattern: { 'source': ['cdk-one-time-presigned-url'], 'detail-type': [type], ...extra },
      });
    }
    t.hasResourceProperties('AWS::Events::Rule', { Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('SenderNotifications') } })] });
    expect(otp.metricLinkEventDeliveryFailures().metricName).toBe('ApproximateNumberOfMessagesVisible');
  });

  it('refuse an eventBus without linkEvents, naming both', () => {
    expect(() => synth((stack) => ({ eventBus: new events.EventBus(stack, 'Bus') })))
      .toThrow(/eventBus is only used with linkEvents: true; got eventBus Consumer\/Bus and linkEvents undefined/);
  });
});
