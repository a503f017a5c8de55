import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Annotations,
  Aws,
  CfnOutput,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_authorizers as authorizers,
  aws_apigatewayv2_integrations as integrations,
  aws_cloudfront as cloudfront,
  aws_cloudfront_origins as origins,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_s3 as s3,
  aws_secretsmanager as secretsmanager,
  aws_ssm as ssm,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EDGE_STAGED_CONFIG_FILE, EdgeStagedConfig, MINT_ROUTE_KEYS, MintEnv } from './shared/config';
import { LEDGER_PARTITION_KEY, LEDGER_TTL_ATTRIBUTE } from './shared/ledger';
import { MAX_SIGV4_EXPIRES_SECONDS, ORIGIN_VERIFY_HEADER } from './shared/link';

/** Pre-built handler bundles, shipped in the package's assets/ folder. */
const ASSETS_DIR = path.join(__dirname, '..', 'assets', 'handlers');

/** Role credentials rarely outlive this; longer links may stop working before they expire. */
const ROLE_SESSION_WARNING_SECONDS = 6 * 3600;

/**
 * Properties of a {@link OneTimePresignedDistribution}. Every property is optional.
 */
export interface OneTimePresignedDistributionProps {
  /**
   * The bucket that holds the objects links point at.
   *
   * The mint function is granted `s3:GetObject` on its objects and `s3:ListBucket`
   * (so a missing key answers 404). If the bucket is encrypted with a KMS key,
   * the mint function is granted `kms:Decrypt` on it as well.
   *
   * @default - a new bucket that blocks all public access, enforces TLS, uses
   * S3-managed encryption and bucket-owner-enforced object ownership
   */
  readonly bucket?: s3.IBucket;

  /**
   * What happens to the resources this construct creates and that hold data (the
   * bucket, the ledger table and the origin secret) when they leave the stack.
   *
   * With `RemovalPolicy.DESTROY`, a new bucket is also emptied on deletion.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Lifetime of a link when the caller does not ask for one.
   *
   * @default Duration.minutes(15)
   */
  readonly defaultLinkLifetime?: Duration;

  /**
   * Longest lifetime a caller may ask for. At most 7 days (the SigV4 limit). A URL
   * signed with role credentials also stops working when the role session ends; the
   * mint function shortens `expiresAt` to the session's end when it knows it.
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
   * Enable point-in-time recovery on the ledger table.
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
   * Write CloudFormation outputs for the distribution domain, the mint URL
   * endpoint, the bucket and the table.
   *
   * @default false
   */
  readonly createOutputs?: boolean;
}

/**
 * Download links that work once, then answer 403.
 *
 * A mint API (HTTP API + Lambda) presigns S3 GetObject URLs for the bucket's
 * regional host, records each in a DynamoDB ledger and returns it re-pointed at a
 * CloudFront distribution. A viewer-request Lambda@Edge function redeems every
 * link with one conditional write before the request reaches S3.
 */
export class OneTimePresignedDistribution extends Construct {
  /** The bucket that holds the objects. */
  public readonly bucket: s3.IBucket;
  /** The ledger: one item per issued link. */
  public readonly table: dynamodb.Table;
  /** The CloudFront distribution links point at. */
  public readonly distribution: cloudfront.Distribution;
  /** The mint API. */
  public readonly httpApi: apigwv2.HttpApi;
  /** The regional function behind the mint API. */
  public readonly mintFunction: lambda.Function;
  /** The viewer-request function (deployed in us-east-1, replicated by CloudFront). */
  public readonly edgeFunction: cloudfront.experimental.EdgeFunction;
  /** SSM parameter holding the edge function's runtime configuration. */
  public readonly configParameter: ssm.StringParameter;
  /** Deploy-time secret signed into every link and sent by CloudFront to S3 as a header. */
  public readonly originSecret: secretsmanager.Secret;
  /** Full URL of the `GET /get-url?key=...` mint route. */
  public readonly mintUrlEndpoint: string;
  /** Domain name minted links point at. */
  public readonly distributionDomainName: string;

  private readonly mintRoutes: apigwv2.HttpRoute[];

  constructor(scope: Construct, id: string, props: OneTimePresignedDistributionProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.region)) {
      throw new Error(
        `OneTimePresignedDistribution at ${this.node.path} needs a stack with a concrete region: set env on the stack, `
        + 'for example `env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }`. '
        + 'Its viewer-request function is deployed to us-east-1 and configured at synth with the stack\'s region.',
      );
    }

    const runtime = props.runtime ?? lambda.Runtime.NODEJS_24_X;
    validateRuntime(runtime);
    const { defaultSeconds, maxSeconds } = validateLifetimes(props);
    if (maxSeconds > ROLE_SESSION_WARNING_SECONDS) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:longLinks',
        `maxLinkLifetime is ${maxSeconds} seconds: links are signed with the mint function's role credentials, which usually end sooner, and a link dies with them.`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.bucket = props.bucket ?? new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });

    // A concrete name, derived from the construct path, lets the us-east-1 edge stack
    // name the table in its policy without cross-region references (even with no account set).
    const tableName = Names.uniqueResourceName(this, { maxLength: 200, separator: '-' }) + '-ledger';
    this.table = new dynamodb.Table(this, 'Ledger', {
      tableName,
      partitionKey: { name: LEDGER_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: LEDGER_TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.pointInTimeRecovery ?? true },
      removalPolicy,
    });

    this.originSecret = new secretsmanager.Secret(this, 'OriginSecret', {
      description: `Signed into every one-time link as the ${ORIGIN_VERIFY_HEADER} header; CloudFront adds it on the way to S3.`,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy,
    });

    // Lambda@Edge has no environment variables: the edge function finds its
    // configuration through a per-instance parameter named in its staged config.json.
    const parameterName = Token.isUnresolved(stack.stackName)
      ? `/cdk-one-time-presigned-url/${this.node.addr}/edge-config`
      : `/cdk-one-time-presigned-url/${stack.stackName}/${this.node.addr}/edge-config`;
    this.configParameter = new ssm.StringParameter(this, 'EdgeConfig', {
      parameterName,
      description: 'Runtime configuration of the one-time link edge function',
      stringValue: stack.toJsonString({ tableName, tableRegion: stack.region }),
    });

    // EdgeFunction creates its us-east-1 twin under the same id in one shared edge stack,
    // so the id must be unique per instance or two distributions in a stack collide.
    this.edgeFunction = new cloudfront.experimental.EdgeFunction(this, `EdgeFunction${this.node.addr.slice(0, 12)}`, {
      code: lambda.Code.fromAsset(stageEdgeCode({ parameterName, parameterRegion: stack.region })),
      handler: 'index.handler',
      runtime,
      memorySize: 128,
      timeout: Duration.seconds(5),
      description: 'Redeems one-time links at the edge (cdk-one-time-presigned-url)',
    });
    // ARNs built from concrete names and pseudo parameters: the edge stack lives in
    // us-east-1 and cannot import the regional stack's tokens.
    this.edgeFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:UpdateItem'],
      resources: [`arn:${Aws.PARTITION}:dynamodb:${stack.region}:${Aws.ACCOUNT_ID}:table/${tableName}`],
    }));
    this.edgeFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [`arn:${Aws.PARTITION}:ssm:${stack.region}:${Aws.ACCOUNT_ID}:parameter${parameterName}`],
    }));

    const originRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'OriginRequestPolicy', {
      comment: 'One-time links: all query strings (the presigned signature), no headers, no cookies',
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.none(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'One-time download links',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        // No OAI or OAC: their Authorization header conflicts with query-string auth.
        // The origin is the bucket's regional host, exactly the host every URL is signed for.
        origin: origins.S3BucketOrigin.withBucketDefaults(this.bucket, {
          customHeaders: { [ORIGIN_VERIFY_HEADER]: this.originSecret.secretValue.unsafeUnwrap() },
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy,
        edgeLambdas: [{
          functionVersion: this.edgeFunction.currentVersion,
          eventType: cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
        }],
      },
    });
    this.distributionDomainName = this.distribution.distributionDomainName;

    this.mintFunction = new lambda.Function(this, 'MintFunction', {
      code: lambda.Code.fromAsset(path.join(ASSETS_DIR, 'mint')),
      handler: 'index.handler',
      runtime,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      description: 'Mints one-time links (cdk-one-time-presigned-url)',
      logGroup: new logs.LogGroup(this, 'MintLogs', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy,
      }),
      environment: {
        [MintEnv.bucketName]: this.bucket.bucketName,
        [MintEnv.bucketRegion]: this.bucket.env.region,
        [MintEnv.originDomain]: this.bucket.bucketRegionalDomainName,
        [MintEnv.publicBaseUrl]: `https://${this.distributionDomainName}`,
        [MintEnv.tableName]: this.table.tableName,
        [MintEnv.originSecretArn]: this.originSecret.secretArn,
        [MintEnv.defaultExpiresSeconds]: String(defaultSeconds),
        [MintEnv.maxExpiresSeconds]: String(maxSeconds),
      },
    });
    this.grantMintFunction(this.mintFunction);

    this.httpApi = new apigwv2.HttpApi(this, 'MintApi', {
      description: 'Mints one-time download links',
    });
    const authorizer = props.authorizer ?? new authorizers.HttpIamAuthorizer();
    if (authorizer instanceof apigwv2.HttpNoneAuthorizer) {
      Annotations.of(this).addWarningV2('cdk-one-time-presigned-url:publicMintApi',
        'The mint API has no authorization: anyone on the internet can mint a working link to any object in the bucket.');
    }
    const integration = new integrations.HttpLambdaIntegration('MintIntegration', this.mintFunction);
    this.mintRoutes = MINT_ROUTE_KEYS.flatMap((routeKey) => {
      const [method, routePath] = routeKey.split(' ');
      return this.httpApi.addRoutes({ path: routePath, methods: [method as apigwv2.HttpMethod], integration, authorizer });
    });
    this.mintUrlEndpoint = `${this.httpApi.apiEndpoint}/get-url`;

    if (props.createOutputs) {
      new CfnOutput(this, 'DistributionDomainNameOutput', { value: this.distributionDomainName });
      new CfnOutput(this, 'MintUrlEndpointOutput', { value: this.mintUrlEndpoint });
      new CfnOutput(this, 'BucketNameOutput', { value: this.bucket.bucketName });
      new CfnOutput(this, 'TableNameOutput', { value: this.table.tableName });
    }
  }

  /**
   * Lets a principal call the mint API routes (when they use the default IAM authorization).
   */
  public grantMint(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: this.mintRoutes.map((route) => route.routeArn),
    });
  }

  private grantMintFunction(fn: lambda.IFunction): void {
    // GetObject: the presigned URL carries the signer's permission. ListBucket: a
    // missing key answers 404 instead of 403.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects('*')] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn] }));
    this.bucket.encryptionKey?.grantDecrypt(fn);
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.originSecret.secretArn] }));
  }
}

function validateRuntime(runtime: lambda.Runtime): void {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (runtime.family !== lambda.RuntimeFamily.NODEJS || major === undefined || Number(major) < 20) {
    throw new Error(`runtime must be a Node.js runtime, version 20 or later (for example lambda.Runtime.NODEJS_24_X); got ${runtime.name}`);
  }
}

function validateLifetimes(props: OneTimePresignedDistributionProps): { defaultSeconds: number; maxSeconds: number } {
  const seconds = (name: string, d: Duration): number => {
    if (d.isUnresolved()) {
      throw new Error(`${name} must be a concrete duration (it is written into the mint function's configuration); got a token`);
    }
    const s = d.toSeconds({ integral: false });
    if (!Number.isInteger(s) || s < 1 || s > MAX_SIGV4_EXPIRES_SECONDS) {
      throw new Error(`${name} must be a whole number of seconds between 1 and ${MAX_SIGV4_EXPIRES_SECONDS} (7 days, the SigV4 limit); got ${d.toHumanString()}`);
    }
    return s;
  };
  const maxSeconds = seconds('maxLinkLifetime', props.maxLinkLifetime ?? Duration.hours(1));
  const defaultSeconds = seconds('defaultLinkLifetime', props.defaultLinkLifetime ?? Duration.seconds(Math.min(900, maxSeconds)));
  if (defaultSeconds > maxSeconds) {
    throw new Error(`defaultLinkLifetime must not exceed maxLinkLifetime (${maxSeconds} seconds); got ${defaultSeconds} seconds`);
  }
  return { defaultSeconds, maxSeconds };
}

/**
 * Stages a per-instance copy of the pre-built edge bundle with its config.json.
 * The folder is named by a hash of its contents, so synths are stable and two
 * instances never share a folder.
 */
function stageEdgeCode(config: EdgeStagedConfig): string {
  const bundle = fs.readFileSync(path.join(ASSETS_DIR, 'edge', 'index.js'));
  const configJson = JSON.stringify(config, undefined, 2);
  const hash = createHash('sha256').update(bundle).update(configJson).digest('hex').slice(0, 32);
  const dir = path.join(os.tmpdir(), 'cdk-one-time-presigned-url', `edge-${hash}`);
  if (!fs.existsSync(path.join(dir, EDGE_STAGED_CONFIG_FILE))) {
    // Build beside, then rename: concurrent synths never see a half-written folder.
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    const partial = fs.mkdtempSync(`${dir}-`);
    fs.writeFileSync(path.join(partial, 'index.js'), bundle);
    fs.writeFileSync(path.join(partial, EDGE_STAGED_CONFIG_FILE), configJson);
    try {
      fs.renameSync(partial, dir);
    } catch {
      fs.rmSync(partial, { recursive: true, force: true });
    }
  }
  return dir;
}
