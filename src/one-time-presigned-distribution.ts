import * as path from 'path';
import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Names,
  RemovalPolicy,
  Size,
  Stack,
  Token,
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_authorizers as authorizers,
  aws_apigatewayv2_integrations as integrations,
  aws_certificatemanager as acm,
  aws_cloudfront as cloudfront,
  aws_cloudwatch as cloudwatch,
  aws_cloudfront_origins as origins,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_s3 as s3,
  aws_sqs as sqs,
  aws_ssm as ssm,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { createDownloadsDashboard, createRecommendedAlarms, DownloadMetrics, validateEdgeMetricsRegions } from './download-monitoring';
import { ASSETS_DIR, stageEdgeCode } from './edge-staging';
import { LinkEventPublisher } from './link-events';
import { acknowledge, nagResource } from './nag';
import { resolveSettings, type Settings } from './settings';
import { EdgeOperatorConfig, MANAGE_ROUTE_KEYS, MINT_ROUTE_KEYS, MintEnv } from './shared/config';
import { LINKS_API_CORS } from './shared/cors';
import { DownloadMetric, downloadMetricsId, REASON_DIMENSION, REFUSAL_REASONS } from './shared/download-metrics';
import {
  LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE, SESSIONS_PARTITION_KEY, SESSIONS_SORT_KEY, SESSIONS_TTL_ATTRIBUTE, sessionsTableNameFor,
} from './shared/ledger';
import { LinkEventType } from './shared/link-events';
import { NO_THREATS_FOUND, SCAN_STATUS_CONDITION_KEY } from './shared/scan-status';
import { UploadScanning } from './upload-scanning';

/** Every status an origin error can have for which CloudFront allows an error-caching TTL. */
const ORIGIN_ERROR_CODES = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/**
 * Properties of a {@link OneTimePresignedDistribution}. Every property is optional.
 */
export interface OneTimePresignedDistributionProps {
  /**
   * The bucket that holds the objects links point at.
   *
   * Only the edge function's role reads objects: it is granted `s3:GetObject` on the
   * objects of `allowedKeyPrefixes` (and `kms:Decrypt` on the bucket's KMS key if it has
   * one); the mint function gets only `s3:ListBucket` (so a missing key answers 404). A
   * bucket with a concrete name (`Bucket.fromBucketName`) is granted through the role's
   * identity policy; a `Bucket` of this app with a generated name through its bucket
   * policy. Cross-account buckets and restrictive key policies need the statement in the
   * README ("A bucket you bring"), naming `edgeRoleArn`.
   *
   * @default - a new bucket that blocks all public access, enforces TLS, uses
   * S3-managed encryption and bucket-owner-enforced object ownership, and whose policy
   * lets no principal but the edge function's role read the objects of `allowedKeyPrefixes`
   */
  readonly bucket?: s3.IBucket;

  /**
   * What happens to the bucket and the log groups this construct
   * creates when they leave the stack. The ledger and sessions tables have their own
   * `ledgerRemovalPolicy`.
   *
   * With `RemovalPolicy.DESTROY`, a new bucket is also emptied on deletion.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * What happens to the ledger table, and the sessions table beside it, when they leave
   * the stack (`cdk destroy`, or a change of `ledgerTableName`).
   *
   * The ledger holds short-lived state: every item ends with its link, and links die
   * with the distribution anyway. Deleting it lets `cdk destroy` followed by
   * `cdk deploy` work (the table has a fixed name, which a retained table would still
   * hold), and with point-in-time recovery on, DynamoDB keeps a system backup of a
   * deleted table for 35 days. With `RemovalPolicy.RETAIN`, deploying again after a
   * destroy needs a new `ledgerTableName`, and synth warns.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly ledgerRemovalPolicy?: RemovalPolicy;

  /**
   * Name of the ledger table. The us-east-1 edge function must know it at synth, so it
   * is a concrete name rather than a generated one. Change it to move to a new, empty
   * table: CloudFormation cannot replace a table that keeps its custom name, and links
   * issued before the change stop working (the new table does not know them).
   *
   * The sessions table beside it is named `<ledgerTableName>-sessions`, so the name has
   * at most 246 characters (DynamoDB table names have at most 255).
   *
   * @default - derived from the construct path: `<stack>-<path>-<hash>-ledger`
   */
  readonly ledgerTableName?: string;

  /**
   * Lifetime of a link when the caller does not ask for one.
   *
   * @default Duration.minutes(15)
   */
  readonly defaultLinkLifetime?: Duration;

  /**
   * Longest lifetime a caller may ask for, at most `Duration.days(365)`. The ledger ends
   * every link at its `expiresAt`; the edge signs each request to S3 afresh with its own
   * role, so no credential limits how long a link lives.
   *
   * @default Duration.hours(1)
   */
  readonly maxLinkLifetime?: Duration;

  /**
   * CloudFront price class of the distribution.
   *
   * @default cloudfront.PriceClass.PRICE_CLASS_100
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * Lambda runtime of both functions. Must be Node.js 20 or later: the bundled
   * handlers target Node.js 20.
   *
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;

  /**
   * Enable point-in-time recovery on the ledger table and the sessions table.
   *
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;

  /**
   * Authorizer of the mint API routes. Pass `new HttpNoneAuthorizer()` (from
   * `aws-cdk-lib/aws-apigatewayv2`) to open the API to anyone on the internet: then
   * anyone can mint a working link to any object, and synth warns.
   *
   * @default - IAM (SigV4) authorization: grant callers with `grantMint()`
   */
  readonly authorizer?: apigwv2.IHttpRouteAuthorizer;

  /**
   * Authorizer of the management routes (`GET /urls/{id}`, `DELETE /urls/{id}`), which
   * show who downloaded a link and revoke it. Independent of `authorizer`: a JWT
   * authorizer on the mint routes does not open management to every signed-in user.
   *
   * IAM callers (granted with `grantManage()`) manage every link. With a JWT authorizer
   * a caller manages only the links it minted (matched by the token's `iss` and `sub`),
   * and with a Lambda authorizer only those minted under the same `sub` (or
   * `principalId`) context value; any other link answers 403.
   *
   * @default - IAM (SigV4) authorization: grant callers with `grantManage()`
   */
  readonly manageAuthorizer?: apigwv2.IHttpRouteAuthorizer;

  /**
   * Write CloudFormation outputs for the distribution domain, the mint URL
   * endpoint, the bucket, the ledger table and the sessions table.
   *
   * @default false
   */
  readonly createOutputs?: boolean;

  /**
   * Key prefixes links may be minted for. A request for any other key is refused
   * with 403, and the mint function's S3 permissions are scoped to the same prefixes.
   *
   * @default [''] - the whole bucket
   */
  readonly allowedKeyPrefixes?: string[];

  /**
   * How long the download session that a use opens lasts. Within it, the client that
   * redeemed the use (same address, same User-Agent) continues its download with Range
   * requests (a media player's probe and fetches, a download manager's parallel parts, a
   * resume after a broken transfer) without spending another use; a request without
   * `Range`, or from any other client, needs a use of its own. The window never outlasts
   * the link, and a session serves at most 1000 requests. `Duration.seconds(0)` makes
   * every request a use. Callers may choose another window per link
   * (`downloadWindowSeconds` in `POST /urls`).
   *
   * @default Duration.minutes(30)
   */
  readonly downloadWindow?: Duration;

  /**
   * Make links open a small landing page (a neutral title, the expiry, the uses left and one
   * Download button) instead of being the file. Opening the link costs one eventually
   * consistent read and shows what the ledger says: a used, expired, revoked or never-issued
   * link says so before any click. Opening it, and anything a mail scanner or a chat preview
   * does with it (fetching it and everything the page references, following redirects, HEAD,
   * prefetch, running the page without clicking), spends nothing: only the button spends a
   * use. The button's redirect gives the browser a session cookie (`Secure`, `HttpOnly`,
   * scoped to the link), so that browser's download, media seeks and resumes continue on
   * any address. Callers may choose per link (`landingPage` in `POST /urls`). Off by
   * default, so a link stays the file for `curl`.
   *
   * @default false
   */
  readonly landingPage?: boolean;

  /**
   * Heading of the landing page, and its OpenGraph title (what a chat preview shows).
   *
   * @default 'A file was shared with you'
   */
  readonly landingPageTitle?: string;

  /**
   * Show the file name (the key's last segment) and size recorded at mint on the landing
   * page. A key can be sensitive, and the page is shown to whoever opens the link, scanners
   * included.
   *
   * @default false
   */
  readonly landingPageShowsFileName?: boolean;

  /**
   * Wrong passphrases a passphrase-protected link takes before it locks (`passphrase` or
   * `generatePassphrase` in `POST /urls`). Each wrong try is counted atomically and spends
   * nothing; once the limit is reached every later try, right or wrong, is refused, the
   * link's status says `locked`, and link events (when on) publish `Link Locked`. The limit
   * is recorded on each link when it is minted: changing it later affects new links only.
   *
   * @default 5
   * @stability experimental
   */
  readonly passphraseAttempts?: number;

  /**
   * Key prefixes upload links may be minted for (`POST /uploads`): a recipient PUTs exactly
   * one file, of at most `maxUploadBytes`, to a new key under one of them. The edge function's
   * role, and nothing else, is granted `s3:PutObject` on `prefix*` of each; S3 refuses to
   * overwrite an object that exists. The distribution then forwards `Content-Type` and
   * `If-None-Match` to S3 (the edge sets `If-None-Match: *` on every upload). `''` allows
   * uploads anywhere in the bucket.
   *
   * @default - none: no upload links (`POST /uploads` answers 403)
   * @stability experimental
   */
  readonly uploadKeyPrefixes?: string[];

  /**
   * Largest file an upload link takes, and the `maxBytes` of `POST /uploads` when the caller
   * does not ask for less. At most `Size.gibibytes(5)`: an upload is one PUT, and S3 takes at
   * most 5 GiB in one ("Uploading objects", Amazon S3 User Guide).
   *
   * @default Size.mebibytes(100)
   * @stability experimental
   */
  readonly maxUploadBytes?: Size;

  /**
   * Scan what upload links receive with GuardDuty Malware Protection for S3: a protection plan
   * on the bucket, limited to `uploadKeyPrefixes` (at most 5), which tags each object with
   * its result (`GuardDutyMalwareScanStatus`), and the role GuardDuty uses. Results arrive on
   * the default event bus: subscribe with `onUploadScanned()`. The edge then reads an object
   * under the upload prefixes only once it is tagged `NO_THREATS_FOUND`: a download link to an
   * upload that is not scanned yet, or was found infected, is refused without spending its use.
   * Needs `uploadKeyPrefixes`, and the bucket in the stack's account and Region. GuardDuty
   * charges per GB scanned.
   *
   * @default false
   * @stability experimental
   */
  readonly scanUploads?: boolean;

  /**
   * How many downloads a link allows when the caller does not say.
   *
   * @default 1
   */
  readonly defaultMaxUses?: number;

  /**
   * The most downloads a caller may ask one link to allow (`maxUses` of `POST /urls`).
   * At most 100: every use keeps an audit record (an N-use link's in the sessions table), and the
   * links API lists them all.
   *
   * @default 10
   */
  readonly maxUsesLimit?: number;

  /**
   * Refuse requests from well-known link-preview agents (Slack, Teams, WhatsApp,
   * Outlook and Office link probes, social networks, search renderers) with 403,
   * without consuming a use. A recipient pasting a link into a chat would otherwise
   * burn it on the chat's preview fetch.
   *
   * @default true
   */
  readonly linkPreviewProtection?: boolean;

  /**
   * More user-agent patterns (case-insensitive regular expressions) treated as link
   * previews, on top of the built-in list.
   *
   * @default - only the built-in list
   */
  readonly additionalPreviewAgents?: string[];

  /**
   * Custom domain names for the distribution. Minted links use the first one.
   * Requires `certificate`.
   *
   * @default - the distribution's cloudfront.net domain
   */
  readonly domainNames?: string[];

  /**
   * Certificate for `domainNames`. It must be in us-east-1 (a CloudFront requirement).
   * Viewers then need TLS 1.2 or later.
   *
   * @default - the cloudfront.net certificate
   */
  readonly certificate?: acm.ICertificate;

  /**
   * ARN of an AWS WAF web ACL (scope CLOUDFRONT, in us-east-1) to attach to the distribution.
   *
   * @default - no web ACL
   */
  readonly webAclId?: string;

  /**
   * Bucket for CloudFront standard access logs (legacy standard logging). Each line records
   * the request's full query string, so these logs hold working links: a landing page opened
   * but not pressed, a request refused as a link preview, a link with uses left or within its
   * download session. Whoever reads the bucket can use them until they expire, and synth warns.
   * For logs without links, leave this out and configure standard logging (v2) without the
   * `cs-uri-query` field (README "Logs and live links").
   *
   * @default - no distribution access logs
   */
  readonly distributionLogBucket?: s3.IBucket;

  /**
   * Bucket for S3 server access logs of the bucket this construct creates. Their Request-URI
   * is CloudFront's request to S3, which carries the link's query string: like
   * `distributionLogBucket`, they hold working links (README "Logs and live links").
   *
   * @default - no server access logs
   */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /**
   * Enable versioning on the bucket this construct creates.
   *
   * @default false
   */
  readonly versioned?: boolean;

  /**
   * Geographic restriction of the distribution.
   *
   * @default - served everywhere
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;

  /**
   * Publish link events to EventBridge: `Link Issued`, `Link Redeemed`, `Link Used Up` and
   * `Link Revoked`, source `cdk-one-time-presigned-url`, with a versioned `detail` (see the
   * README). They are built from the DynamoDB streams of the ledger and the sessions table by
   * a small regional function, off the download path: a download never waits for an event. Delivery is at least once
   * (dedupe on `detail.eventId`); undeliverable changes land in a dead-letter queue
   * (`metricLinkEventDeliveryFailures()`). Subscribe with `onLinkRedeemed()`,
   * `onLinkUsedUp()` and `onLinkRevoked()`.
   *
   * @default false - no stream, no function, no events
   */
  readonly linkEvents?: boolean;

  /**
   * The bus link events go to. Only with `linkEvents: true`.
   *
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;

  /**
   * Throttling of the mint API's default stage.
   *
   * @default - 50 requests per second, bursts of 100
   */
  readonly mintThrottle?: apigwv2.ThrottleSettings;

  /**
   * Origins of web apps that may call the links API from a browser.
   *
   * Each is `scheme://host[:port]` exactly as browsers send it (`https://app.example.com`,
   * `http://localhost:3000`): no path, no trailing slash, no wildcard. The HTTP API then answers CORS preflight requests itself
   * (the routes' authorizers never see them) and adds `Access-Control-Allow-Origin` to its
   * answers for these origins only: `GET`, `POST` and `DELETE` with the headers a JWT caller
   * (`authorization`, `content-type`) or a browser signing SigV4 (`x-amz-date`,
   * `x-amz-security-token`, `x-amz-content-sha256`) sends; browsers cache the preflight answer
   * for 10 minutes. Cookies are not allowed (callers authenticate with headers). A page of any
   * other origin cannot read an answer. CORS only binds browsers: callers still need the routes'
   * authorization.
   *
   * @default - no CORS: browsers refuse cross-origin calls; servers, SDKs and CLIs are unaffected
   * @stability experimental
   */
  readonly corsAllowedOrigins?: string[];

  /**
   * How often each edge container reads the operator switches (`configParameter`), on average.
   *
   * Each wait is a random 80 to 120 % of this interval, so containers started together do not
   * read in step; after a failed read the wait doubles, up to 5 minutes (or this interval if
   * longer). Every container of the fleet, whichever region serves it, reads the one parameter
   * in the stack's region: about (warm containers ÷ interval) GetParameter calls per second,
   * against the account's Parameter Store throughput there (40 per second by default, shared
   * with everything else in that account and region). A longer interval lowers the rate and
   * makes a switch such as `paused` slower to apply. See the README's "Operations".
   *
   * @default Duration.minutes(1)
   * @stability experimental
   */
  readonly operatorRefreshInterval?: Duration;

  /**
   * Create a CloudWatch dashboard (`dashboard`) with the download metrics summed over every
   * edge Region (uses opened, session requests, refusals in total and by reason, origin
   * failures, ledger unavailable), the links API's errors and latency, and undelivered link
   * events. Alarms are separate: {@link OneTimePresignedDistribution.addRecommendedAlarms}.
   *
   * @default false
   * @stability experimental
   */
  readonly dashboard?: boolean;

  /**
   * The Regions whose download metrics the metric methods and the dashboard sum: where
   * Lambda@Edge runs the edge function (the Regions with CloudFront regional edge caches) and
   * so where it writes its logs and metrics. Narrow it to the Regions your viewers reach
   * (`priceClass`) to keep dashboards smaller.
   *
   * @default - the 13 Regions with regional edge caches: us-east-1, us-east-2, us-west-1, us-west-2, ap-south-1,
   * ap-northeast-1, ap-northeast-2, ap-southeast-1, ap-southeast-2, eu-central-1, eu-west-1, eu-west-2, sa-east-1
   * @stability experimental
   */
  readonly edgeMetricsRegions?: string[];
}

/**
 * Download links that work once, then answer 403.
 *
 * A mint API (HTTP API + Lambda) records each link in a DynamoDB ledger and returns a
 * token URL on a CloudFront distribution. A Lambda@Edge function redeems every link with
 * one conditional write, then signs the one request CloudFront sends to S3 with its own
 * role: only that role reads the objects, and nothing a viewer holds works at S3.
 */
export class OneTimePresignedDistribution extends Construct {
  /** The bucket that holds the objects. */
  public readonly bucket: s3.IBucket;
  /** The ledger: one item per issued link. */
  public readonly table: dynamodb.Table;
  /**
   * The sessions table: one item per download session of a link with more than one use.
   *
   * Each request of such a link writes one small item here instead of growing the link's
   * ledger item, so what a request costs in write units stays bounded whatever the link's
   * history. Named `<ledger name>-sessions`, keyed by `link` (the link id) and `session`;
   * items expire with their link (TTL attribute `ttl`). Billing, point-in-time recovery,
   * removal policy and (with `linkEvents: true`) stream are the ledger's.
   */
  public readonly sessionsTable: dynamodb.Table;
  /** The CloudFront distribution links point at. */
  public readonly distribution: cloudfront.Distribution;
  /** The mint API. */
  public readonly httpApi: apigwv2.HttpApi;
  /** The regional function behind the mint API. */
  public readonly mintFunction: lambda.Function;
  /**
   * The edge function (deployed in us-east-1, replicated by CloudFront): viewer request,
   * origin request and origin response of the distribution.
   */
  public readonly edgeFunction: cloudfront.experimental.EdgeFunction;
  /**
   * ARN of the edge function's role, the only principal that reads the objects. Built from
   * the role's fixed name, so any stack of the account can use it: name it in the policy of
   * a bucket you bring, or of its KMS key, when they need to allow it (see the README).
   */
  public readonly edgeRoleArn: string;
  /** SSM parameter holding the edge function's runtime configuration. */
  public readonly configParameter: ssm.StringParameter;
  /** Full URL of the `GET /get-url?key=...` mint route. */
  public readonly mintUrlEndpoint: string;
  /** Base URL of the mint API (`POST /urls`, `GET /urls/{id}`, `DELETE /urls/{id}`, `GET /get-url`). */
  public readonly apiEndpoint: string;
  /** Domain name minted links point at: the first custom domain, or the distribution's own. */
  public readonly distributionDomainName: string;
  /** The bus link events go to, with `linkEvents: true`. */
  public readonly linkEventBus?: events.IEventBus;
  /** Descriptions of ledger and session changes whose link events could not be delivered, with `linkEvents: true`. */
  public readonly linkEventDeadLetterQueue?: sqs.IQueue;
  /**
   * Value of the `Distribution` dimension of this instance's download metrics (namespace
   * `OneTimePresignedUrl/Downloads`): the stack's Region and the construct's path.
   *
   * @stability experimental
   */
  public readonly downloadMetricsId: string;
  /**
   * The dashboard, with `dashboard: true`.
   *
   * @stability experimental
   */
  public readonly dashboard?: cloudwatch.Dashboard;

  private readonly downloadMetrics: DownloadMetrics;
  private readonly edgeMetricsRegions: readonly string[];

  private readonly linkEventPublisher?: LinkEventPublisher;
  private readonly uploadScanning?: UploadScanning;

  private readonly mintRoutes: apigwv2.HttpRoute[];
  private readonly manageRoutes: apigwv2.HttpRoute[];

  /**
   * @param scope a construct in a stack with a concrete region (`env.region`)
   * @param id the construct id; it names the resources, so changing it replaces them
   * @param props all optional; see {@link OneTimePresignedDistributionProps}
   */
  constructor(scope: Construct, id: string, props: OneTimePresignedDistributionProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.region)) {
      throw new Error(
        `OneTimePresignedDistribution at ${this.node.path} needs a stack with a concrete region: set env on the stack, `
        + 'for example `env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }`. '
        + 'Its edge function is deployed to us-east-1 and configured at synth with the stack\'s region.',
      );
    }
    const settings = resolveSettings(props);
    this.edgeMetricsRegions = validateEdgeMetricsRegions(props.edgeMetricsRegions);
    this.downloadMetricsId = downloadMetricsId(stack.region, this.node.path);
    this.downloadMetrics = new DownloadMetrics(this.downloadMetricsId, this.edgeMetricsRegions);
    if (props.distributionLogBucket || props.serverAccessLogsBucket) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:linksInAccessLogs',
        'distributionLogBucket or serverAccessLogsBucket: these access logs record each request\'s query string, so they hold working links '
        + '(a landing page opened but not pressed, a refused link preview, a link with uses left). Restrict who reads the bucket; '
        + 'see the README\'s "Logs and live links" for logs without them.');
    }
    if (settings.ledgerRemovalPolicy !== RemovalPolicy.DESTROY) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:retainedLedger',
        'The ledger table is kept when it leaves the stack (ledgerRemovalPolicy), with its sessions table: after cdk destroy, deploy again with a new '
        + 'ledgerTableName, or delete both tables first.');
    }

    const ownedBucket = props.bucket ? undefined : this.createBucket(props, settings.removalPolicy);
    this.bucket = props.bucket ?? ownedBucket!;

    // A concrete name, derived from the construct path, lets the us-east-1 edge stack
    // name the table in its policy without cross-region references (even with no account set).
    const tableName = settings.ledgerTableName ?? Names.uniqueResourceName(this, { maxLength: 200, separator: '-' }) + '-ledger';
    // Both tables hold state that ends with the links, and are kept, recovered and billed alike.
    const tableSettings = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      removalPolicy: settings.ledgerRemovalPolicy,
      // Link events are built from the tables' own changes.
      stream: props.linkEvents ? dynamodb.StreamViewType.NEW_AND_OLD_IMAGES : undefined,
    };
    this.table = new dynamodb.Table(this, 'Ledger', {
      tableName,
      partitionKey: { name: LEDGER_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: LEDGER_TTL_ATTRIBUTE,
      ...tableSettings,
    });
    // The download sessions of N-use links, one small item each, so a request writes one item
    // of bounded size however many uses the link has had. Named from the ledger's concrete
    // name, for the same reason.
    const sessionsTableName = sessionsTableNameFor(tableName);
    this.sessionsTable = new dynamodb.Table(this, 'Sessions', {
      tableName: sessionsTableName,
      partitionKey: { name: SESSIONS_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: { name: SESSIONS_SORT_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: SESSIONS_TTL_ATTRIBUTE,
      ...tableSettings,
    });
    if (props.eventBus && !props.linkEvents) {
      throw new Error(`eventBus is only used with linkEvents: true; got eventBus ${props.eventBus.node.path} and linkEvents ${props.linkEvents}`);
    }
    if (props.linkEvents) {
      this.linkEventPublisher = new LinkEventPublisher(this, 'LinkEvents', {
        table: this.table,
        sessionsTable: this.sessionsTable,
        eventBus: props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default'),
        runtime: settings.runtime,
        removalPolicy: settings.removalPolicy,
      });
      this.linkEventBus = this.linkEventPublisher.eventBus;
      this.linkEventDeadLetterQueue = this.linkEventPublisher.deadLetterQueue;
    }

    // The region the edge signs S3 requests for: concrete at synth, as everything it stages.
    const bucketRegion = ownedBucket || Token.isUnresolved(this.bucket.env.region) ? stack.region : this.bucket.env.region;
    const edge = this.createEdgeFunction(tableName, sessionsTableName, bucketRegion, settings, props);
    this.configParameter = edge.parameter;
    this.edgeFunction = edge.fn;
    this.edgeRoleArn = edge.roleArn;
    if (settings.scanUploads) {
      this.uploadScanning = new UploadScanning(this, 'UploadScanning', { bucket: this.bucket, prefixes: settings.uploadKeyPrefixes });
    }
    this.grantEdgeRead(edge.role, edge.roleName, settings.allowedKeyPrefixes, ownedBucket);
    this.grantEdgeUpload(edge.role, edge.roleName, settings.uploadKeyPrefixes, ownedBucket);
    if (this.uploadScanning) this.denyUnscannedUploads(edge.role, settings.uploadKeyPrefixes, ownedBucket);

    this.distribution = this.createDistribution(props, settings);
    this.distributionDomainName = settings.publicDomain ?? this.distribution.distributionDomainName;

    this.mintFunction = this.createMintFunction(settings);

    this.httpApi = this.createApi(settings);
    const authorizer = props.authorizer ?? new authorizers.HttpIamAuthorizer();
    if (authorizer instanceof apigwv2.HttpNoneAuthorizer) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:publicMintApi',
        'The mint API has no authorization: anyone on the internet can mint a working link to any allowed object.');
    }
    // Management keeps IAM unless asked otherwise: a JWT authorizer on the mint routes
    // admits every signed-in user, who must not read or revoke other people's links.
    const manageAuthorizer = props.manageAuthorizer ?? new authorizers.HttpIamAuthorizer();
    if (manageAuthorizer instanceof apigwv2.HttpNoneAuthorizer) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:publicManageApi',
        'The management routes have no authorization: anyone holding a link id (it is in every link) can see who downloaded it and revoke it.');
    }
    const integration = new integrations.HttpLambdaIntegration('MintIntegration', this.mintFunction);
    const addRoutes = (routeKeys: string[], routeAuthorizer: apigwv2.IHttpRouteAuthorizer) => routeKeys.flatMap((routeKey) => {
      const [method, routePath] = routeKey.split(' ');
      return this.httpApi.addRoutes({ path: routePath, methods: [method as apigwv2.HttpMethod], integration, authorizer: routeAuthorizer });
    });
    this.mintRoutes = addRoutes(MINT_ROUTE_KEYS, authorizer);
    this.manageRoutes = addRoutes(MANAGE_ROUTE_KEYS, manageAuthorizer);
    this.apiEndpoint = this.httpApi.apiEndpoint;
    this.mintUrlEndpoint = `${this.apiEndpoint}/get-url`;

    if (props.dashboard) {
      this.dashboard = createDownloadsDashboard(this, 'Dashboard', {
        metrics: this.downloadMetrics,
        mintServerErrors: this.metricMintServerErrors(),
        mintClientErrors: this.metricMintClientErrors(),
        mintLatency: this.metricMintLatency(),
        eventDeliveryFailures: this.linkEventPublisher ? this.metricLinkEventDeliveryFailures() : undefined,
      });
    }

    if (props.createOutputs) {
      new CfnOutput(this, 'DistributionDomainNameOutput', { value: this.distributionDomainName });
      new CfnOutput(this, 'MintUrlEndpointOutput', { value: this.mintUrlEndpoint });
      new CfnOutput(this, 'BucketNameOutput', { value: this.bucket.bucketName });
      new CfnOutput(this, 'TableNameOutput', { value: this.table.tableName });
      new CfnOutput(this, 'SessionsTableNameOutput', { value: this.sessionsTable.tableName });
    }
  }

  /**
   * Lets a principal mint links: `GET /get-url`, `POST /urls` and `POST /uploads` (with the
   * default IAM authorization).
   */
  public grantMint(grantee: iam.IGrantable): iam.Grant {
    return this.grantRoutes(grantee, this.mintRoutes);
  }

  /**
   * Lets a principal read the status of links and revoke them: `GET /urls/{id}` and
   * `DELETE /urls/{id}` (with the default IAM authorization).
   */
  public grantManage(grantee: iam.IGrantable): iam.Grant {
    return this.grantRoutes(grantee, this.manageRoutes);
  }

  /**
   * A rule matching `Link Redeemed` events (one per use, with who redeemed it). Needs
   * `linkEvents: true`.
   */
  public onLinkRedeemed(id: string, options?: events.OnEventOptions): events.Rule {
    return this.requireLinkEvents('onLinkRedeemed').onEvent(this, id, LinkEventType.redeemed, options);
  }

  /** A rule matching `Link Used Up` events (the last use was spent). Needs `linkEvents: true`. */
  public onLinkUsedUp(id: string, options?: events.OnEventOptions): events.Rule {
    return this.requireLinkEvents('onLinkUsedUp').onEvent(this, id, LinkEventType.usedUp, options);
  }

  /** A rule matching `Link Revoked` events. Needs `linkEvents: true`. */
  public onLinkRevoked(id: string, options?: events.OnEventOptions): events.Rule {
    return this.requireLinkEvents('onLinkRevoked').onEvent(this, id, LinkEventType.revoked, options);
  }

  /**
   * A rule matching `Link Locked` events (too many wrong passphrases locked a protected link;
   * the event never holds the passphrase). Needs `linkEvents: true`.
   * @stability experimental
   */
  public onLinkLocked(id: string, options?: events.OnEventOptions): events.Rule {
    return this.requireLinkEvents('onLinkLocked').onEvent(this, id, LinkEventType.locked, options);
  }

  /**
   * A rule matching `Upload Received` events (an upload link's file was stored; the event
   * carries its size and content type). Needs `linkEvents: true`.
   * @stability experimental
   */
  public onUploadReceived(id: string, options?: events.OnEventOptions): events.Rule {
    return this.requireLinkEvents('onUploadReceived').onEvent(this, id, LinkEventType.uploadReceived, options);
  }

  /**
   * A rule on the default event bus matching GuardDuty's `GuardDuty Malware Protection Object
   * Scan Result` events for this bucket (source `aws.guardduty`): one per scanned upload, with
   * `detail.scanResultDetails.scanResultStatus` (`NO_THREATS_FOUND`, `THREATS_FOUND`,
   * `UNSUPPORTED`, `ACCESS_DENIED`, `FAILED`) and `detail.s3ObjectDetails.objectKey`. Narrow it
   * with `eventPattern` (for example to `THREATS_FOUND`). Needs `scanUploads: true`.
   * @stability experimental
   */
  public onUploadScanned(id: string, options?: events.OnEventOptions): events.Rule {
    if (!this.uploadScanning) throw new Error(`onUploadScanned() needs upload scanning: set scanUploads: true (and uploadKeyPrefixes) on ${this.node.path}`);
    return this.uploadScanning.onScanResult(this, id, options);
  }

  /**
   * Ledger changes whose link events could not be delivered after retries (messages in the
   * dead-letter queue, maximum over 5 minutes). Alarm when it is above 0. Needs `linkEvents: true`.
   */
  public metricLinkEventDeliveryFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.requireLinkEvents('metricLinkEventDeliveryFailures').metricDeliveryFailures(props);
  }

  private requireLinkEvents(method: string): LinkEventPublisher {
    if (!this.linkEventPublisher) throw new Error(`${method}() needs link events: set linkEvents: true on ${this.node.path}`);
    return this.linkEventPublisher;
  }

  /** Mint API 4xx answers (bad requests, refused keys, missing objects, unauthorized callers). */
  public metricMintClientErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricClientError(props);
  }

  /** Mint API 5xx answers. */
  public metricMintServerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricServerError(props);
  }

  /** Mint API latency, end to end. */
  public metricMintLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricLatency(props);
  }

  /** Errors of the mint function. Lambda@Edge metrics and logs live in the region nearest each viewer. */
  public metricMintFunctionErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.mintFunction.metricErrors(props);
  }

  /**
   * Uses opened, in every edge Region (or `region`'s alone).
   *
   * A use opens with a direct link's first request, a landing page's button, or a new use
   * after a session ended. Sum over 5 minutes unless the options say otherwise.
   *
   * Download metrics are published by the edge function in the Region that served each
   * viewer: this is metric math summing every Region of `edgeMetricsRegions`, for dashboards
   * and GetMetricData. An alarm watches one Region's metrics only: pass `region` for that
   * Region's metric alone, and alarm on it from a stack in that Region.
   *
   * @stability experimental
   */
  public metricLinkRedemptions(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.redemptions, props);
  }

  /**
   * Requests served by a session already open, in every edge Region (or `region`'s alone).
   *
   * Range requests, resumes and parallel parts of a direct link's client, every download
   * request of a landing page's browser. Sum over 5 minutes; see {@link metricLinkRedemptions}.
   *
   * @stability experimental
   */
  public metricSessionContinuations(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.continuations, props);
  }

  /**
   * Requests the edge refused, in every edge Region (or `region`'s alone).
   *
   * 403 for unknown, revoked, expired or used links, spent allowances, ended sessions, wrong
   * methods, malformed or tampered links, prefetches, previews, cross-site button presses and
   * another browser's requests; 503 while paused. Sum over 5 minutes; see
   * {@link metricLinkRedemptions}. {@link metricLinkRefusalsFor} counts one reason.
   *
   * @stability experimental
   */
  public metricLinkRefusals(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.refusals, props);
  }

  /**
   * Refusals for one reason, in every edge Region (or `region`'s alone).
   *
   * `reason` is one of `unknown`, `revoked`, `expired`, `used`, `allowance`, `ended`,
   * `method`, `malformed`, `prefetch`, `preview`, `cross-site`, `other-browser`,
   * `passphrase`, `locked`, `upload` (an upload refused before any I/O), `paused`, `other`.
   * Sum over 5 minutes; see {@link metricLinkRedemptions}.
   *
   * @stability experimental
   */
  public metricLinkRefusalsFor(reason: string, props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    if (!(REFUSAL_REASONS as readonly string[]).includes(reason)) {
      throw new Error(`metricLinkRefusalsFor() reason must be one of ${REFUSAL_REASONS.join(', ')}; got ${JSON.stringify(reason)}`);
    }
    return this.downloadMetrics.metric(DownloadMetric.refusals, props, { [REASON_DIMENSION]: reason });
  }

  /**
   * Edge errors, in every edge Region (or `region`'s alone).
   *
   * Origin failures (S3 answered 5xx, or 404: the object is gone; the use was given back)
   * plus requests answered 503 because the ledger failed. Sum over 5 minutes; see
   * {@link metricLinkRedemptions}.
   *
   * @stability experimental
   */
  public metricEdgeErrors(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.edgeErrors, props);
  }

  /**
   * Origin failures the edge gave a use back for, in every edge Region (or `region`'s alone).
   *
   * Sum over 5 minutes; see {@link metricLinkRedemptions}.
   *
   * @stability experimental
   */
  public metricOriginFailures(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.originFailures, props);
  }

  /**
   * Requests answered 503 because the ledger failed, in every edge Region (or `region`'s alone).
   *
   * The ledger (DynamoDB) failed or timed out. Sum over 5 minutes; see {@link metricLinkRedemptions}.
   *
   * @stability experimental
   */
  public metricLedgerUnavailable(props?: cloudwatch.MetricOptions): cloudwatch.IMetric {
    return this.downloadMetrics.metric(DownloadMetric.ledgerUnavailable, props);
  }

  /**
   * Creates the recommended alarms in this construct's stack and returns them.
   *
   * Add actions with `alarm.addAlarmAction(...)`; with `dashboard: true` they are shown on it too:
   * - `EdgeErrorsAlarm`: 5 or more edge errors in 5 minutes in the stack's Region (when it is
   *   one of `edgeMetricsRegions`). An alarm watches its own Region only: for viewers served
   *   elsewhere, alarm on `metricEdgeErrors({ region })` from a stack in that Region (README);
   * - `MintServerErrorsAlarm`: 5 or more links API 5xx answers in 5 minutes;
   * - `LinkEventDeliveryFailuresAlarm` (with `linkEvents: true`): any undelivered link event.
   * Missing data (no traffic) does not breach.
   *
   * @stability experimental
   */
  public addRecommendedAlarms(): cloudwatch.Alarm[] {
    if (this.node.tryFindChild('MintServerErrorsAlarm')) throw new Error(`addRecommendedAlarms() was already called on ${this.node.path}`);
    const alarms = createRecommendedAlarms(this, {
      metrics: this.downloadMetrics,
      mintServerErrors: this.metricMintServerErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      eventDeliveryFailures: this.linkEventPublisher ? this.metricLinkEventDeliveryFailures() : undefined,
    }, this.edgeMetricsRegions);
    this.dashboard?.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Recommended alarms', alarms, width: 24 }));
    return alarms;
  }

  private createBucket(props: OneTimePresignedDistributionProps, removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: props.versioned ?? false,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    if (!props.serverAccessLogsBucket) {
      acknowledge(bucket, 'AwsSolutions-S1', 'Server access logs are available with serverAccessLogsBucket. Every download already passes the edge function, whose ledger records time, IP and user agent of each use.');
    }
    return bucket;
  }

  /**
   * The edge function and its configuration. Lambda@Edge has no environment variables:
   * everything a redemption needs is staged beside the handler (config.json); a
   * per-instance SSM parameter holds only the operator switches, read off the request path.
   */
  private createEdgeFunction(
    tableName: string, sessionsTableName: string, bucketRegion: string, settings: Settings, props: OneTimePresignedDistributionProps,
  ) {
    const stack = Stack.of(this);
    const parameterName = Token.isUnresolved(stack.stackName)
      ? `/cdk-one-time-presigned-url/${this.node.addr}/edge-operator-config`
      : `/cdk-one-time-presigned-url/${stack.stackName}/${this.node.addr}/edge-operator-config`;
    const operatorDefaults: EdgeOperatorConfig = { paused: false, previewAgents: [] };
    // The description stays as it is, though the interval is now a prop: a changed description
    // makes CloudFormation write the template's value again, undoing an operator's switch.
    const parameter = new ssm.StringParameter(this, 'EdgeConfig', {
      parameterName,
      description: 'Operator switches of the one-time link edge function ({"paused": bool, "previewAgents": [regex]}); applied within about a minute',
      stringValue: JSON.stringify(operatorDefaults),
    });

    // EdgeFunction creates its us-east-1 twin under the same id in one shared edge stack,
    // so the id must be unique per instance or two distributions in a stack collide.
    const fn = new cloudfront.experimental.EdgeFunction(this, `EdgeFunction${this.node.addr.slice(0, 12)}`, {
      code: lambda.Code.fromAsset(stageEdgeCode(this, {
        tableName,
        sessionsTableName,
        tableRegion: stack.region,
        previewProtection: props.linkPreviewProtection ?? true,
        previewAgents: settings.previewAgents,
        bucketRegion,
        landingPageTitle: settings.landingPageTitle,
        landingPageShowsFileName: props.landingPageShowsFileName ?? false,
        parameterName,
        parameterRegion: stack.region,
        operatorRefreshSeconds: settings.operatorRefreshSeconds,
        metricsId: this.downloadMetricsId,
      })),
      handler: 'index.handler',
      runtime: settings.runtime,
      memorySize: 128,
      timeout: Duration.seconds(5),
      description: 'Redeems one-time links at the edge, signs the request to S3, gives back uses the origin failed (cdk-one-time-presigned-url)',
    });
    // The role lambda.Function created in the edge stack (EdgeFunction accepts a `role`, but
    // the function lives in us-east-1 and this construct's scope may not: the role must be
    // made there, and only the function's own creation reaches that stack). A fixed name lets
    // the regional stack's bucket policy name it without a cross-region reference. IAM names
    // are global to the account, so the region keeps two deployments of one app apart.
    const role = fn.lambda.role as iam.Role;
    const suffix = `-edge-${stack.region}`;
    const roleName = Names.uniqueResourceName(this, { maxLength: 64 - suffix.length, separator: '-' }) + suffix;
    const cfnRole = role.node.defaultChild as iam.CfnRole;
    cfnRole.roleName = roleName;
    cfnRole.description = 'Runs the one-time link edge function: the only principal that reads the linked objects';
    const roleArn = Stack.of(role) === stack ? role.roleArn : `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${roleName}`;
    // ARNs built from concrete names and pseudo parameters: the edge stack lives in
    // us-east-1 and cannot import the regional stack's tokens.
    const tableArn = (name: string) => `arn:${Aws.PARTITION}:dynamodb:${stack.region}:${Aws.ACCOUNT_ID}:table/${name}`;
    // UpdateItem redeems; GetItem shows a landing page the truth and finds what a request
    // took when the origin failed it (download-session.ts, origin-failure.ts).
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:UpdateItem', 'dynamodb:GetItem'],
      resources: [tableArn(tableName)],
    }));
    // The sessions of N-use links: Query finds a holder's latest session, PutItem opens a
    // session, UpdateItem continues one, DeleteItem gives back a use an origin failed, GetItem
    // reads a session.
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resources: [tableArn(sessionsTableName)],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [`arn:${Aws.PARTITION}:ssm:${stack.region}:${Aws.ACCOUNT_ID}:parameter${parameterName}`],
    }));
    acknowledge(fn.lambda, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWSLambdaBasicExecutionRole: Lambda@Edge writes logs to /aws/lambda/us-east-1.<name> in whichever region served the viewer, so log permissions cannot be scoped to one region or log group.');
    return { parameter, fn, role, roleArn, roleName };
  }

  /**
   * Lets the edge role, and nothing else, read the objects links may point at. The edge role
   * lives in the us-east-1 edge stack, which cannot take the regional stack's tokens: a bucket
   * with a concrete name is granted through the role's identity policy; a bucket of this app
   * with a generated name (the one this construct creates included) through its bucket
   * policy, naming the role by its fixed ARN. Either alone suffices within one account.
   */
  private grantEdgeRead(role: iam.Role, roleName: string, prefixes: string[], ownedBucket: s3.Bucket | undefined): void {
    const sameStack = Stack.of(role) === Stack.of(this);
    const name = this.bucket.bucketName;
    const principal = new iam.ArnPrincipal(this.edgeRoleArn);
    const read = (objectArns: string[], principals?: iam.IPrincipal[]) => new iam.PolicyStatement({
      sid: principals ? 'EdgeFunctionReadsLinkedObjects' : undefined,
      principals,
      actions: ['s3:GetObject'],
      resources: objectArns,
    });
    // S3 answers a GET of a missing key 404 only to a caller that may list the bucket, 403
    // otherwise ("GetObject", Amazon S3 API Reference, Permissions): with ListBucket, an object
    // deleted after minting is a 404, which gives the use back and says so (origin-failure.ts).
    // Unconditional: a GetObject request carries no s3:prefix to condition on. The edge
    // function never lists.
    const list = (principals?: iam.IPrincipal[]) => new iam.PolicyStatement({
      sid: principals ? 'EdgeFunctionTellsMissingObjects' : undefined,
      principals,
      actions: ['s3:ListBucket'],
      resources: [sameStack || ownedBucket ? this.bucket.bucketArn : `arn:${Aws.PARTITION}:s3:::${name}`],
    });
    if (ownedBucket) {
      const objectArns = prefixes.map((prefix) => ownedBucket.arnForObjects(`${prefix}*`));
      ownedBucket.addToResourcePolicy(read(objectArns, [principal]));
      ownedBucket.addToResourcePolicy(list([principal]));
      // Only GetObject, only the linked objects: administrators still manage the bucket and
      // its policy, and nothing the mint or a viewer holds can read what links point at.
      // GuardDuty's scanning role (scanUploads) reads uploads to scan them.
      const readers = [this.edgeRoleArn, ...(this.uploadScanning ? [this.uploadScanning.role.roleArn] : [])];
      ownedBucket.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'NoOneElseReadsLinkedObjects',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: objectArns,
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': readers.length === 1 ? readers[0] : readers } },
      }));
    } else if (sameStack || !Token.isUnresolved(name)) {
      const objectArns = this.edgeObjectArns(prefixes, sameStack);
      role.addToPrincipalPolicy(read(objectArns));
      role.addToPrincipalPolicy(list());
      const reason = prefixes.includes('')
        ? 'The edge signs the request for whichever object a link recorded, so it reads every object links may point at: the whole bucket unless allowedKeyPrefixes narrows it.'
        : 'Object access is scoped to allowedKeyPrefixes (prefix*), exactly the objects links may point at.';
      for (const arn of objectArns) acknowledge(role, `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(role), arn)}]`, reason);
    } else if (this.bucket.addToResourcePolicy(read(prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)), [principal])).statementAdded) {
      // S3 refuses a policy naming a role that does not exist yet.
      this.deployAfterEdgeRole(this.bucket, role);
    } else {
      throw new Error(`bucket ${this.bucket.node.path} has a name known only at deploy time and no bucket policy this app can write, so the edge function's role `
        + '(in us-east-1) cannot be granted s3:GetObject: import it with a concrete name (s3.Bucket.fromBucketName), or pass the s3.Bucket itself');
    }
    this.grantEdgeKey(role, roleName, this.bucket.encryptionKey, sameStack, ['kms:Decrypt']);
  }

  /**
   * Lets the edge role, and nothing else, write what upload links receive: `s3:PutObject` on
   * `prefix*` of each upload prefix, granted as reads are ({@link grantEdgeRead}). Nothing when
   * uploads are off. With a KMS key, also `kms:GenerateDataKey`: S3 asks KMS for a data key on
   * behalf of whoever writes an SSE-KMS object ("Using server-side encryption with AWS KMS
   * keys (SSE-KMS)", Amazon S3 User Guide, Permissions).
   */
  private grantEdgeUpload(role: iam.Role, roleName: string, prefixes: string[], ownedBucket: s3.Bucket | undefined): void {
    if (prefixes.length === 0) return;
    this.addEdgeObjectStatement(role, prefixes, ownedBucket, (objectArns, principals) => new iam.PolicyStatement({
      sid: principals ? 'EdgeFunctionWritesUploads' : undefined,
      principals,
      actions: ['s3:PutObject'],
      resources: objectArns,
    }), 'Writes are scoped to uploadKeyPrefixes (prefix*): an upload link writes one new key under them, chosen at mint, and S3 refuses to overwrite (If-None-Match: *).');
    // A bucket that took neither was refused by grantEdgeRead already.
    this.grantEdgeKey(role, roleName, this.bucket.encryptionKey, Stack.of(role) === Stack.of(this), ['kms:GenerateDataKey']);
  }

  /**
   * With `scanUploads`, the edge reads an object under the upload prefixes only once GuardDuty
   * tagged it `NO_THREATS_FOUND`: an explicit Deny of `s3:GetObject` for any other (or no) scan
   * status, GuardDuty's tag-based access control ("Using tag-based access control (TBAC) with
   * Malware Protection for S3", GuardDuty User Guide). A download link to an upload that is not
   * scanned yet, or was found infected, gets S3's 403, which gives its use back (origin-failure.ts).
   */
  private denyUnscannedUploads(role: iam.Role, prefixes: string[], ownedBucket: s3.Bucket | undefined): void {
    this.addEdgeObjectStatement(role, prefixes, ownedBucket, (objectArns, principals) => new iam.PolicyStatement({
      sid: principals ? 'EdgeReadsOnlyCleanUploads' : undefined,
      effect: iam.Effect.DENY,
      principals,
      actions: ['s3:GetObject'],
      resources: objectArns,
      conditions: { StringNotEquals: { [SCAN_STATUS_CONDITION_KEY]: NO_THREATS_FOUND } },
    }));
  }

  /**
   * Adds a statement about the edge role and the objects under `prefixes` where it takes effect:
   * the bucket policy of a bucket this construct creates; the role's own policy when the edge
   * stack can name the objects; otherwise the bucket policy of a bucket from another stack.
   */
  private addEdgeObjectStatement(
    role: iam.Role, prefixes: string[], ownedBucket: s3.Bucket | undefined,
    statement: (objectArns: string[], principals?: iam.IPrincipal[]) => iam.PolicyStatement, nagReason?: string,
  ): void {
    const sameStack = Stack.of(role) === Stack.of(this);
    const principal = new iam.ArnPrincipal(this.edgeRoleArn);
    if (ownedBucket) {
      ownedBucket.addToResourcePolicy(statement(prefixes.map((prefix) => ownedBucket.arnForObjects(`${prefix}*`)), [principal]));
    } else if (sameStack || !Token.isUnresolved(this.bucket.bucketName)) {
      const objectArns = this.edgeObjectArns(prefixes, sameStack);
      role.addToPrincipalPolicy(statement(objectArns));
      if (nagReason) for (const arn of objectArns) acknowledge(role, `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(role), arn)}]`, nagReason);
    } else if (this.bucket.addToResourcePolicy(statement(prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)), [principal])).statementAdded) {
      this.deployAfterEdgeRole(this.bucket, role);
    }
  }

  /** ARNs of the objects under each prefix, as the edge stack can name them. */
  private edgeObjectArns(prefixes: string[], sameStack: boolean): string[] {
    return prefixes.map((prefix) => sameStack ? this.bucket.arnForObjects(`${prefix}*`) : `arn:${Aws.PARTITION}:s3:::${this.bucket.bucketName}/${prefix}*`);
  }

  /** Deploys the stack of a resource policy naming the edge role after the role's stack. */
  private deployAfterEdgeRole(resource: IConstruct, role: iam.Role): void {
    const stack = Stack.of(resource);
    if (stack !== Stack.of(role)) stack.addDependency(Stack.of(role));
  }

  /** Actions on the bucket's KMS key, the same way: identity policy when the ARN can reach us-east-1, key policy otherwise. */
  private grantEdgeKey(role: iam.Role, roleName: string, key: kms.IKey | undefined, sameStack: boolean, actions: string[]): void {
    if (!key) return;
    if (sameStack || !Token.isUnresolved(key.keyArn)) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
      return;
    }
    const added = key.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ArnPrincipal(this.edgeRoleArn)],
      actions,
      resources: ['*'],
    }), true).statementAdded;
    if (added) {
      this.deployAfterEdgeRole(key, role);
    } else {
      Annotations.of(this).addWarningV2(`cdk-one-time-presigned-url:bucketKey${actions.includes('kms:Decrypt') ? '' : 'Upload'}`,
        `The bucket's KMS key has an ARN known only at deploy time and no key policy this app can write: allow ${actions.join(' and ')} to the role ${roleName} (edgeRoleArn) in its key policy (README, "A bucket you bring").`);
    }
  }

  private createDistribution(props: OneTimePresignedDistributionProps, settings: Settings): cloudfront.Distribution {
    const uploads = settings.uploadKeyPrefixes.length > 0;
    const originRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'OriginRequestPolicy', {
      // The edge's origin-request trigger sets the one query string S3 needs (its signature)
      // after this policy has applied; nothing a viewer sends reaches S3. An upload's PUT needs
      // two headers at S3: the file's Content-Type, which S3 stores with it, and the
      // If-None-Match: * the edge sets, so that S3 refuses to overwrite an existing key.
      comment: uploads
        ? 'One-time links: all query strings (the edge sets the one S3 needs), Content-Type and If-None-Match (uploads), no cookies'
        : 'One-time links: all query strings (the edge sets the one S3 needs), no headers, no cookies',
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      headerBehavior: uploads
        ? cloudfront.OriginRequestHeaderBehavior.allowList('Content-Type', 'If-None-Match')
        : cloudfront.OriginRequestHeaderBehavior.none(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'One-time links: security headers, never cached by browsers or proxies',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
      customHeadersBehavior: {
        customHeaders: [{ header: 'Cache-Control', value: 'private, no-store', override: true }],
      },
    });

    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'One-time download links',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      domainNames: props.domainNames,
      certificate: props.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      webAclId: props.webAclId,
      geoRestriction: props.geoRestriction,
      enableLogging: props.distributionLogBucket !== undefined,
      logBucket: props.distributionLogBucket,
      defaultBehavior: {
        // No OAI or OAC: the edge signs each origin request with its own role instead.
        origin: origins.S3BucketOrigin.withBucketDefaults(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        // POST presses a landing page's button (answered by the edge itself, never forwarded);
        // the edge refuses every method but GET and POST before any I/O.
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy,
        responseHeadersPolicy,
        // One function, three triggers: viewer request redeems the link, origin request signs
        // the one request sent to S3 (what it changes goes to the origin as it is), origin
        // response gives back uses the origin failed and replaces S3's errors.
        edgeLambdas: [
          cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
          cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST,
          cloudfront.LambdaEdgeEventType.ORIGIN_RESPONSE,
        ].map((eventType) => ({
          functionVersion: this.edgeFunction.currentVersion,
          eventType,
          // The viewer-request function reads a passphrase from the landing page's form (POST
          // body, at most 40 KB exposed; a POST is never forwarded to the origin).
          ...(eventType === cloudfront.LambdaEdgeEventType.VIEWER_REQUEST ? { includeBody: true } : {}),
        })),
      },
      // CloudFront caches errors for 10 s by default, keyed without the query string when
      // caching is disabled: one failing link would answer for others to the same key.
      errorResponses: ORIGIN_ERROR_CODES.map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(0) })),
    });
    acknowledge(distribution, 'AwsSolutions-CFR7', 'No OAC or OAI by design: the edge function signs each origin request with its own role, the only principal the bucket lets read the linked objects, after the ledger has redeemed the link.');
    if (!props.certificate) {
      acknowledge(distribution, 'AwsSolutions-CFR4', 'The cloudfront.net default certificate cannot enforce a minimum TLS version; with domainNames and certificate the distribution requires TLS 1.2 (TLSv1.2_2021).');
    }
    if (!props.distributionLogBucket) {
      acknowledge(distribution, 'AwsSolutions-CFR3', 'Access logs are available with distributionLogBucket. The ledger already records time, IP and user agent of every successful download.');
    }
    if (!props.webAclId) {
      acknowledge(distribution, 'AwsSolutions-CFR2', 'A web ACL can be attached with webAclId. Without one, every request still meets the edge function, which refuses anything but a live, matching link before the origin.');
    }
    if (!props.geoRestriction) {
      acknowledge(distribution, 'AwsSolutions-CFR1', 'Links are meant for recipients anywhere; geoRestriction restricts them when needed.');
    }
    return distribution;
  }

  private createMintFunction(settings: Settings): lambda.Function {
    const logGroup = new logs.LogGroup(this, 'MintLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: settings.removalPolicy });
    // An explicit role: log permissions scoped to this function's log group instead of
    // the AWSLambdaBasicExecutionRole managed policy.
    const role = new iam.Role(this, 'MintRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Runs the mint function: checks keys and records links; it reads no objects',
    });
    logGroup.grantWrite(role);
    const fn = new lambda.Function(this, 'MintFunction', {
      code: lambda.Code.fromAsset(path.join(ASSETS_DIR, 'mint')),
      handler: 'index.handler',
      runtime: settings.runtime,
      role,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      description: 'Mints one-time links (cdk-one-time-presigned-url)',
      logGroup,
      environment: {
        [MintEnv.bucketName]: this.bucket.bucketName,
        [MintEnv.bucketRegion]: this.bucket.env.region,
        [MintEnv.publicBaseUrl]: `https://${this.distributionDomainName}`,
        [MintEnv.tableName]: this.table.tableName,
        [MintEnv.sessionsTableName]: this.sessionsTable.tableName,
        [MintEnv.defaultExpiresSeconds]: String(settings.defaultSeconds),
        [MintEnv.maxExpiresSeconds]: String(settings.maxSeconds),
        [MintEnv.defaultMaxUses]: String(settings.defaultMaxUses),
        [MintEnv.maxUsesLimit]: String(settings.maxUsesLimit),
        [MintEnv.allowedKeyPrefixes]: JSON.stringify(settings.allowedKeyPrefixes),
        [MintEnv.defaultWindowSeconds]: String(settings.downloadWindowSeconds),
        [MintEnv.defaultLandingPage]: String(settings.landingPage),
        [MintEnv.passphraseAttempts]: String(settings.passphraseAttempts),
        [MintEnv.uploadKeyPrefixes]: JSON.stringify(settings.uploadKeyPrefixes),
        [MintEnv.maxUploadBytes]: String(settings.maxUploadBytes),
      },
    });
    // The mint checks keys of upload links too (an existing key cannot take an upload); it
    // never writes: only the edge role does.
    const uploadOnly = settings.uploadKeyPrefixes.filter((prefix) => !settings.allowedKeyPrefixes.includes(prefix));
    this.grantMintFunction(role, [...settings.allowedKeyPrefixes, ...uploadOnly]);
    return fn;
  }

  private createApi(settings: Settings): apigwv2.HttpApi {
    const api = new apigwv2.HttpApi(this, 'MintApi', {
      description: 'Mints, inspects and revokes one-time download links',
      createDefaultStage: false,
      corsPreflight: settings.corsAllowedOrigins && {
        allowOrigins: settings.corsAllowedOrigins,
        allowMethods: LINKS_API_CORS.allowMethods.map((method) => apigwv2.CorsHttpMethod[method]),
        allowHeaders: [...LINKS_API_CORS.allowHeaders],
        maxAge: Duration.seconds(LINKS_API_CORS.maxAgeSeconds),
      },
    });
    const accessLogs = new logs.LogGroup(this, 'MintApiLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: settings.removalPolicy });
    api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: settings.throttle,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    return api;
  }

  private grantRoutes(grantee: iam.IGrantable, routes: apigwv2.HttpRoute[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((route) => route.routeArn),
    });
  }

  private grantMintFunction(role: iam.Role, prefixes: string[]): void {
    // ListBucket only, for the existence check, limited to the allowed prefixes: only the
    // edge role reads objects.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      ...(prefixes.includes('') ? {} : { conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } } }),
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [this.table.tableArn],
    }));
    // The sessions of N-use links: a link's status lists them (Query), revoking marks its open
    // sessions revoked (UpdateItem). The mint never opens or deletes one.
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:Query', 'dynamodb:UpdateItem'],
      resources: [this.sessionsTable.tableArn],
    }));
  }
}
