// Issue 20: no long-lived keys and no shared secrets. Whole apps (the regional stack and the
// us-east-1 edge stack) with default props and with every option on are searched for users,
// access keys, secrets, origin custom headers and Referer conditions, and for who may read
// the objects links point at: the edge function's role, on the allowed prefixes, and nothing else.
import {
  App, Duration, RemovalPolicy, Stack,
  aws_apigatewayv2_authorizers as authorizers, aws_certificatemanager as acm, aws_cloudfront as cloudfront,
  aws_events as events, aws_kms as kms, aws_lambda as lambda, aws_s3 as s3,
} from 'aws-cdk-lib';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';

const REGION = 'eu-west-1';
const CERT_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';

type Resource = { Type: string; Properties?: Record<string, any> };
type Statement = { Effect: string; Action: string | string[]; Resource?: unknown; Principal?: unknown; Condition?: unknown };

/** Every prop set, to something other than its default where it has one. */
function everyOption(stack: Stack): OneTimePresignedDistributionProps {
  const logs = new s3.Bucket(stack, 'Logs', { enforceSSL: true, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
  const users = new authorizers.HttpJwtAuthorizer('Users', 'https://issuer.example.com', { jwtAudience: ['app'] });
  return {
    removalPolicy: RemovalPolicy.DESTROY,
    ledgerRemovalPolicy: RemovalPolicy.RETAIN,
    ledgerTableName: 'downloads-ledger',
    defaultLinkLifetime: Duration.days(30),
    maxLinkLifetime: Duration.days(365),
    priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
    runtime: lambda.Runtime.NODEJS_22_X,
    pointInTimeRecovery: false,
    authorizer: users,
    manageAuthorizer: users,
    createOutputs: true,
    allowedKeyPrefixes: ['reports/', 'invoices/'],
    downloadWindow: Duration.minutes(10),
    landingPage: true,
    landingPageTitle: 'Files from ACME',
    landingPageShowsFileName: true,
    defaultMaxUses: 2,
    maxUsesLimit: 5,
    linkPreviewProtection: false,
    additionalPreviewAgents: ['MyCorpScanner/\\d+'],
    domainNames: ['downloads.example.com'],
    certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERT_ARN),
    webAclId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/otp/abc',
    distributionLogBucket: logs,
    serverAccessLogsBucket: logs,
    versioned: true,
    geoRestriction: cloudfront.GeoRestriction.allowlist('DE', 'FR'),
    linkEvents: true,
    eventBus: new events.EventBus(stack, 'Bus'),
    mintThrottle: { rateLimit: 5, burstLimit: 10 },
  };
}

function broughtBucket(stack: Stack): OneTimePresignedDistributionProps {
  return {
    bucket: s3.Bucket.fromBucketAttributes(stack, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN) }),
    allowedKeyPrefixes: ['reports/'],
    maxLinkLifetime: Duration.days(90),
  };
}

/** Every resource of every stack of the app, with the stack's name. */
function synthApp(props: (stack: Stack) => OneTimePresignedDistributionProps) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region: REGION, account: '123456789012' } });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props(stack));
  const assembly = app.synth();
  const resources = assembly.stacks.flatMap((s) => Object.entries(s.template.Resources as Record<string, Resource>)
    .map(([id, r]) => ({ stack: s.stackName, id, ...r })));
  const statements = (type: string, where: (r: { stack: string; id: string }) => boolean = () => true) => resources
    .filter((r) => r.Type === type && where(r))
    .flatMap((r) => r.Properties!.PolicyDocument.Statement as Statement[]);
  return { stack, otp, assembly, resources, statements, edgeRoleArn: stack.resolve(otp.edgeRoleArn) };
}

const actionsOf = (s: Statement) => [s.Action].flat();
/** Whether a statement's actions include reading objects, by name or by wildcard. */
const readsObjects = (s: Statement) => actionsOf(s).some((a) => /^\*$|^s3:\*$|^s3:Get\*$|^s3:GetObject\*?$/.test(a));

describe.each([
  ['default props', () => ({}), ['']],
  ['every option on', everyOption, ['reports/', 'invoices/']],
  ['a bucket you bring', broughtBucket, ['reports/']],
] as Array<[string, (stack: Stack) => OneTimePresignedDistributionProps, string[]]>)('an app with %s', (_name, props, prefixes) => {
  const app = synthApp(props);

  it('holds no IAM user, access key or Secrets Manager secret, in any stack', () => {
    const types = app.resources.map((r) => r.Type);
    for (const type of ['AWS::IAM::User', 'AWS::IAM::AccessKey', 'AWS::SecretsManager::Secret']) expect(types).not.toContain(type);
    const everything = JSON.stringify(app.assembly.stacks.map((s) => s.template));
    expect(everything).not.toMatch(/secretsmanager|x-origin-verify/i);
  });

  it('sends S3 no custom origin header, and no policy anywhere conditions on aws:Referer', () => {
    const [distribution] = app.resources.filter((r) => r.Type === 'AWS::CloudFront::Distribution');
    for (const origin of distribution.Properties!.DistributionConfig.Origins) expect(origin.OriginCustomHeaders).toBeUndefined();
    expect(JSON.stringify(app.assembly.stacks.map((s) => s.template))).not.toMatch(/aws:Referer/i);
  });

  it('associates one edge function version on viewer request, origin request and origin response', () => {
    const [distribution] = app.resources.filter((r) => r.Type === 'AWS::CloudFront::Distribution');
    const associations = distribution.Properties!.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations;
    expect(associations.map((a: { EventType: string }) => a.EventType)).toEqual(['viewer-request', 'origin-request', 'origin-response']);
    expect(new Set(associations.map((a: { LambdaFunctionARN: unknown }) => JSON.stringify(a.LambdaFunctionARN))).size).toBe(1);
  });

  it('lets the edge role, and nothing else, read objects, and only on the allowed prefixes', () => {
    // Who may read: an identity policy of the edge role (in the edge stack), or a bucket
    // policy statement whose principal is the edge role. Nothing else allows a read.
    const edgeIdentity = app.statements('AWS::IAM::Policy', (r) => r.stack.startsWith('edge-lambda-stack-') && /ServiceRoleDefaultPolicy/.test(r.id));
    const allows = [...app.statements('AWS::IAM::Policy'), ...app.statements('AWS::S3::BucketPolicy')]
      .filter((s) => s.Effect === 'Allow' && readsObjects(s));
    expect(allows.length).toBeGreaterThan(0);
    for (const s of allows) {
      expect(actionsOf(s)).toEqual(['s3:GetObject']);
      const fromEdgeRole = s.Principal === undefined
        ? edgeIdentity.includes(s)
        : JSON.stringify(s.Principal) === JSON.stringify({ AWS: app.edgeRoleArn });
      expect(fromEdgeRole).toBe(true);
      const resources = JSON.stringify([s.Resource].flat());
      for (const prefix of prefixes) expect(resources).toContain(`/${prefix}*"`);
      expect([s.Resource].flat()).toHaveLength(prefixes.length);
    }
  });

  it('gives the mint role no read of any object', () => {
    const mint = app.statements('AWS::IAM::Policy', (r) => /MintRole/.test(r.id));
    expect(mint.length).toBeGreaterThan(0);
    expect(mint.filter(readsObjects)).toEqual([]);
  });
});

describe('links of up to a year', () => {
  it('fails synth past 365 days, naming the prop and the value', () => {
    expect(() => synthApp(() => ({ maxLinkLifetime: Duration.days(366) })))
      .toThrow('maxLinkLifetime must be a whole number of seconds between 1 and 31536000 (365 days); got 366 days');
  });
});
