import * as path from 'path';
import {
  Duration,
  RemovalPolicy,
  aws_cloudwatch as cloudwatch,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_lambda_event_sources as sources,
  aws_logs as logs,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ASSETS_DIR } from './edge-staging';
import { acknowledge } from './nag';
import { EventsEnv } from './shared/config';
import { LINK_EVENT_SOURCE } from './shared/link-events';

export interface LinkEventPublisherProps {
  /** The ledger: one item per link. */
  readonly table: dynamodb.ITable;
  /** The sessions table: one item per download session of an N-use link; its INSERTs are redemptions. */
  readonly sessionsTable: dynamodb.ITable;
  readonly eventBus: events.IEventBus;
  readonly runtime: lambda.Runtime;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Publishes link events from the change streams of the ledger and of the sessions table (where
 * a use of an N-use link opens a session item). A small regional function
 * rather than EventBridge Pipes: one change can mean several events (a redemption that
 * spends the last use is both `Link Redeemed` and `Link Used Up`), which needs the old and
 * new images compared, and a continuation of a download session changes only counters and
 * must mean none. Pipes' filters and input transformers see one image at a time.
 *
 * Delivery: records are processed in order per item (one shard iterator, parallelization
 * 1); a record whose events cannot be delivered is retried (bisecting the batch), and after
 * the retries its description goes to a dead-letter queue, whose depth is the metric to
 * alarm on. Delivery is at least once: a retried record can publish an event again, with
 * the same `eventId`.
 */
export class LinkEventPublisher extends Construct {
  public readonly eventBus: events.IEventBus;
  public readonly function: lambda.Function;
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: LinkEventPublisherProps) {
    super(scope, id);
    this.eventBus = props.eventBus;
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3', 'This is the dead-letter queue of the link events publisher: it holds descriptions of stream records whose events could not be delivered.');

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: props.removalPolicy });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Publishes link events from the ledger and sessions streams to EventBridge',
    });
    logGroup.grantWrite(role);
    this.function = new lambda.Function(this, 'Function', {
      code: lambda.Code.fromAsset(path.join(ASSETS_DIR, 'events')),
      handler: 'index.handler',
      runtime: props.runtime,
      role,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      description: 'Publishes link events to EventBridge (cdk-one-time-presigned-url)',
      logGroup,
      environment: { [EventsEnv.eventBusName]: props.eventBus.eventBusName },
    });
    // One mapping per table, configured alike, with no filter: every change of either table
    // reaches the function, which alone decides what it means (a session item's INSERT is a
    // redemption of an N-use link; its continuations mean nothing).
    for (const table of [props.table, props.sessionsTable]) {
      this.function.addEventSource(new sources.DynamoEventSource(table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        retryAttempts: 10,
        maxRecordAge: Duration.days(1),
        reportBatchItemFailures: true,
        parallelizationFactor: 1,
        onFailure: new sources.SqsDlq(this.deadLetterQueue),
      }));
    }
    // Only PutEvents with this construct's source, on this bus.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [props.eventBus.eventBusArn],
      conditions: { StringEquals: { 'events:source': LINK_EVENT_SOURCE } },
    }));
    acknowledge(role, 'AwsSolutions-IAM5[Resource::*]',
      'dynamodb:ListStreams, added by the DynamoDB event source, has no resource-level permissions; reading the streams is scoped to the streams of the ledger and the sessions table.');
  }

  /** Messages in the dead-letter queue: link events that could not be delivered. Alarm on it above 0. */
  public metricDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5), ...props });
  }

  /** A rule on this bus for link events of one detail type. */
  public onEvent(scope: Construct, id: string, detailType: string, options: events.OnEventOptions = {}): events.Rule {
    const rule = new events.Rule(scope, id, {
      eventBus: this.eventBus,
      description: options.description,
      ruleName: options.ruleName,
      crossStackScope: options.crossStackScope,
    });
    rule.addEventPattern({ source: [LINK_EVENT_SOURCE], detailType: [detailType] });
    rule.addEventPattern(options.eventPattern);
    if (options.target) rule.addTarget(options.target);
    return rule;
  }
}
