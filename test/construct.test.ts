import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, aws_apigatewayv2 as apigwv2, aws_iam as iam, aws_lambda as lambda, aws_s3 as s3 } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';
import { maskAssetHashes } from './util/template';

const REGION = 'eu-west-1';

function synth(props?: OneTimePresignedDistributionProps, env: { region?: string; account?: string } = { region: REGION }) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props);
  const edgeStack = app.node.children.find((c): c is Stack => c instanceof Stack && c.stackName.startsWith('edge-lambda-stack-'))!;
  return { app, stack, otp, template: Template.fromStack(stack), edgeTemplate: Template.fromStack(edgeStack), edgeStack };
}

describe('distribution', () => {
  const { template } = synth();

  it('uses the bucket regional domain as origin with no OAI and no OAC', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        Origins: [Match.objectLike({
          DomainName: { 'Fn::GetAtt': [Match.stringLikeRegexp('DownloadsBucket'), 'RegionalDomainName'] },
          S3OriginConfig: { OriginAccessIdentity: '' },
          OriginAccessControlId: Match.absent(),
          OriginPath: Match.absent(),
        })],
      },
    });
    template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 0);
  });

  it('forwards all query strings and no headers or cookies, with caching disabled', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: {
        QueryStringsConfig: { QueryStringBehavior: 'all' },
        HeadersConfig: { HeaderBehavior: 'none' },
        CookiesConfig: { CookieBehavior: 'none' },
      },
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultCacheBehavior: Match.objectLike({
          // Managed-CachingDisabled
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          OriginRequestPolicyId: { Ref: Match.stringLikeRegexp('OriginRequestPolicy') },
          ViewerProtocolPolicy: 'redirect-to-https',
          // POST for a landing page's button; the edge refuses everything but GET and POST itself.
          AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
        }),
        PriceClass: 'PriceClass_100',
      },
    });
  });

  it('associates one edge function version on viewer request (redeems), origin request (signs) and origin response (scrubs)', () => {
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        DefaultCacheBehavior: Match.objectLike({
          LambdaFunctionAssociations: [
            { EventType: 'viewer-request', LambdaFunctionARN: Match.anyValue() },
            { EventType: 'origin-request', LambdaFunctionARN: Match.anyValue() },
            { EventType: 'origin-response', LambdaFunctionARN: Match.anyValue() },
          ],
        }),
      },
    });
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    const [viewer, ...origin] = distribution.Properties.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations;
    for (const association of origin) expect(association.LambdaFunctionARN).toEqual(viewer.LambdaFunctionARN);
  });

  it('never caches an error: one failing link must not answer for another to the same key', () => {
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    const errors = distribution.Properties.DistributionConfig.CustomErrorResponses as Array<Record<string, unknown>>;
    expect(errors.map((e) => e.ErrorCode)).toEqual([400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504]);
    for (const e of errors) expect(e).toEqual({ ErrorCode: e.ErrorCode, ErrorCachingMinTTL: 0 });
  });

  it('sends S3 no custom header: the edge signs each origin request instead', () => {
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    expect(distribution.Properties.DistributionConfig.Origins[0].OriginCustomHeaders).toBeUndefined();
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });
});

describe('bucket and ledger', () => {
  it('creates a hardened bucket, retained by default', () => {
    const { template } = synth();
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  it('keys the ledger by link id with TTL, on-demand billing and point-in-time recovery', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
      // Deleted with the stack, so destroy followed by deploy can create it again under its fixed name.
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  it('keeps the sessions of N-use links in a table of their own beside the ledger, alike but keyed by link and session', () => {
    const { template, otp, stack } = synth();
    const tables = template.findResources('AWS::DynamoDB::Table');
    const ledger = Object.values(tables).find((t) => t.Properties.KeySchema.length === 1)!;
    const [sessionsId, sessions] = Object.entries(tables).find(([, t]) => t.Properties.KeySchema.length === 2)!;
    expect(sessionsId).toMatch(/^DownloadsSessions/);
    expect(sessions.Properties.TableName).toBe(`${ledger.Properties.TableName}-sessions`);
    expect(sessions.Properties.TableName).toMatch(/^Consumer-Downloads-[0-9A-F]+-ledger-sessions$/);
    expect(sessions).toEqual({
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: sessions.Properties.TableName,
        KeySchema: [{ AttributeName: 'link', KeyType: 'HASH' }, { AttributeName: 'session', KeyType: 'RANGE' }],
        AttributeDefinitions: [{ AttributeName: 'link', AttributeType: 'S' }, { AttributeName: 'session', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
      // Kept or deleted exactly as the ledger.
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    expect(stack.resolve(otp.sessionsTable.tableName)).toEqual({ Ref: sessionsId });
    // The mint lists and revokes sessions: it knows the table's name.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_SESSIONS_TABLE_NAME: { Ref: sessionsId } }) },
    });
    // Kept, and recovered, as the ledger.
    const custom = synth({ ledgerTableName: 'downloads-ledger-v2', ledgerRemovalPolicy: RemovalPolicy.RETAIN, pointInTimeRecovery: false }).template;
    custom.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ TableName: 'downloads-ledger-v2-sessions', PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('refuses a ledgerTableName that leaves no room for the sessions table\'s suffix, naming it', () => {
    const longest = 'l'.repeat(255 - '-sessions'.length);
    const { template } = synth({ ledgerTableName: longest });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: `${longest}-sessions` });
    const tooLong = `${longest}x`;
    expect(() => synth({ ledgerTableName: tooLong })).toThrow(
      'ledgerTableName must be a concrete DynamoDB table name of 3 to 246 letters, digits, \'_\', \'-\' or \'.\' (the sessions table beside it is named '
      + `"<ledgerTableName>-sessions", and table names have at most 255 characters); got "${tooLong}"`);
  });

  it('configures landing pages: off by default, the title and file name staged with the edge, POST allowed for the button', () => {
    const vars = (t: Template) => Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables).find((v) => v?.OTP_DEFAULT_LANDING_PAGE);
    expect(vars(synth().template).OTP_DEFAULT_LANDING_PAGE).toBe('false');
    const { template, otp } = synth({ landingPage: true, landingPageTitle: 'Files from ACME', landingPageShowsFileName: true });
    expect(vars(template).OTP_DEFAULT_LANDING_PAGE).toBe('true');
    const dir = (otp.edgeFunction.lambda.node.tryFindChild('Code')!.node.tryFindChild('Stage') as unknown as { sourcePath: string }).sourcePath;
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toMatchObject({ landingPageTitle: 'Files from ACME', landingPageShowsFileName: true });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ DefaultCacheBehavior: Match.objectLike({ AllowedMethods: Match.arrayWith(['GET', 'HEAD', 'POST']) }) }),
    });
    for (const bad of ['', ' ', 'x'.repeat(121), 'two\nlines']) {
      expect(() => synth({ landingPageTitle: bad })).toThrow(/landingPageTitle must be a concrete, non-empty line of at most 120 characters; got /);
    }
  });

  it('gives links a 30-minute download window unless told otherwise', () => {
    const vars = (t: Template) => Object.values(t.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables).find((v) => v?.OTP_DEFAULT_DOWNLOAD_WINDOW_SECONDS);
    expect(vars(synth().template).OTP_DEFAULT_DOWNLOAD_WINDOW_SECONDS).toBe('1800');
    expect(vars(synth({ downloadWindow: Duration.seconds(0) }).template).OTP_DEFAULT_DOWNLOAD_WINDOW_SECONDS).toBe('0');
  });

  it('survives destroy and deploy again: the ledger keeps its name and leaves with the stack', () => {
    // Two synths of the same app, as a deploy, a destroy and a second deploy see it.
    const first = synth().template.findResources('AWS::DynamoDB::Table');
    const second = synth().template.findResources('AWS::DynamoDB::Table');
    expect(Object.keys(second)).toEqual(Object.keys(first));
    // The ledger and its sessions table alike.
    expect(Object.keys(second)).toHaveLength(2);
    Object.values(second).forEach((table, i) => {
      expect(table.Properties.TableName).toEqual(Object.values(first)[i].Properties.TableName);
      expect(table.DeletionPolicy).toBe('Delete');
    });
    // The bucket has a generated name: a kept one never blocks a new deploy.
    for (const resource of Object.values(synth().template.findResources('AWS::S3::Bucket'))) {
      expect(resource.Properties.BucketName).toBeUndefined();
    }
  });

  it('moves to a new table with ledgerTableName, and warns when a retained ledger would block a redeploy', () => {
    const { template, stack } = synth({ ledgerTableName: 'downloads-ledger-v2', ledgerRemovalPolicy: RemovalPolicy.RETAIN });
    template.hasResource('AWS::DynamoDB::Table', { Properties: Match.objectLike({ TableName: 'downloads-ledger-v2' }), DeletionPolicy: 'Retain' });
    template.hasResource('AWS::DynamoDB::Table', { Properties: Match.objectLike({ TableName: 'downloads-ledger-v2-sessions' }), DeletionPolicy: 'Retain' });
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('ledger table is kept .*with its sessions table'));
    expect(warnings).toHaveLength(1);
    expect(Annotations.fromStack(synth().stack).findWarning('*', Match.stringLikeRegexp('ledger table is kept'))).toHaveLength(0);
  });

  it('honours removalPolicy and pointInTimeRecovery', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.DESTROY, pointInTimeRecovery: false });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    // Both tables.
    expect(Object.values(template.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } }),
    }))).toHaveLength(2);
    // DESTROY empties the new bucket so the stack can delete it.
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  it('uses an existing bucket instead of creating one', () => {
    const app = new App();
    const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-existing-bucket');
    const otp = new OneTimePresignedDistribution(stack, 'Downloads', { bucket });
    const template = Template.fromStack(stack);
    expect(otp.bucket).toBe(bucket);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { Origins: [Match.objectLike({ DomainName: `my-existing-bucket.s3.${REGION}.amazonaws.com` })] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_BUCKET_NAME: 'my-existing-bucket', OTP_BUCKET_REGION: REGION }) },
    });
  });
});

describe('mint function and API', () => {
  const { template, otp, stack } = synth();

  it('knows the public base URL and the lifetimes, and no origin host (it signs nothing)', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Handler: 'index.handler', Description: Match.stringLikeRegexp('Mints') } }))[0];
    const vars = fn.Properties.Environment.Variables;
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    expect(vars.OTP_ORIGIN_DOMAIN).toBeUndefined();
    expect(distribution.Properties.DistributionConfig.Origins[0].DomainName['Fn::GetAtt'][1]).toBe('RegionalDomainName');
    const [distributionId] = Object.keys(template.findResources('AWS::CloudFront::Distribution'));
    expect(vars.OTP_PUBLIC_BASE_URL).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] });
    expect(vars.OTP_DEFAULT_EXPIRES_SECONDS).toBe('900');
    expect(vars.OTP_MAX_EXPIRES_SECONDS).toBe('3600');
    expect(fn.Properties.Runtime).toBe('nodejs24.x');
  });

  it('grants the mint function exactly what it needs: the ledger, the sessions table, its logs and the existence check', () => {
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp('MintRole') } });
    const statements = Object.values(policies)[0].Properties.PolicyDocument.Statement;
    const actions = statements.flatMap((s: { Action: string | string[] }) => [s.Action].flat()).sort();
    expect(actions).toEqual([
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:UpdateItem',
      'logs:CreateLogStream', 'logs:PutLogEvents',
      's3:ListBucket',
    ]);
    // Sessions: listed (status) and marked revoked (revoke), never opened or deleted by the mint.
    const [sessionsId] = Object.keys(template.findResources('AWS::DynamoDB::Table', { Properties: { TableName: Match.stringLikeRegexp('-sessions$') } }));
    const onSessions = statements.filter((s: { Resource: unknown }) => JSON.stringify(s.Resource).includes(`"${sessionsId}"`));
    expect(onSessions).toEqual([{ Effect: 'Allow', Action: ['dynamodb:Query', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [sessionsId, 'Arn'] } }]);
    // Only the edge role reads objects.
    expect(JSON.stringify(statements)).not.toContain('s3:GetObject');
    for (const s of statements) expect(JSON.stringify(s.Resource)).not.toContain('"*"');
    // No managed policies: log permissions are scoped to the function's own log group.
    template.hasResourceProperties('AWS::IAM::Role', { Description: Match.stringLikeRegexp('^Runs the mint function'), ManagedPolicyArns: Match.absent() });
  });

  it('serves GET /get-url behind IAM authorization by default', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /get-url', AuthorizationType: 'AWS_IAM' });
    const endpoint = JSON.stringify(stack.resolve(otp.mintUrlEndpoint));
    expect(endpoint).toMatch(/DownloadsMintApi.*\/get-url"\]\]\}$/);
  });

  it('grants invoke on the mint routes with grantMint', () => {
    const app = new App();
    const fresh = new Stack(app, 'Consumer', { env: { region: REGION } });
    const role = new iam.Role(fresh, 'Backend', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    new OneTimePresignedDistribution(fresh, 'Downloads').grantMint(role);
    const t = Template.fromStack(fresh);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Backend') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke', Effect: 'Allow' })] },
    });
  });

  it('warns when the mint API is explicitly opened to everyone', () => {
    const { stack: openStack, template: openTemplate } = synth({ authorizer: new apigwv2.HttpNoneAuthorizer() });
    openTemplate.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /get-url', AuthorizationType: 'NONE' });
    Annotations.fromStack(openStack).hasWarning('*', Match.stringLikeRegexp('anyone on the internet can mint'));
  });

  it('writes outputs only when asked', () => {
    expect(Object.keys(template.findOutputs('*'))).toHaveLength(0);
    const { template: withOutputs } = synth({ createOutputs: true });
    expect(Object.keys(withOutputs.findOutputs('*'))).toHaveLength(5);
    const [sessionsId] = Object.keys(withOutputs.findResources('AWS::DynamoDB::Table', { Properties: { TableName: Match.stringLikeRegexp('-sessions$') } }));
    expect(Object.values(withOutputs.findOutputs('*', { Value: { Ref: sessionsId } }))).toHaveLength(1);
  });
});

describe('edge function', () => {
  it('runs in us-east-1 with a bounded timeout and least privilege', () => {
    const { edgeStack, edgeTemplate, stack, otp, template } = synth();
    expect(edgeStack.region).toBe('us-east-1');
    // A fixed role name, so the regional stack's bucket policy names it without a cross-region reference.
    edgeTemplate.hasResourceProperties('AWS::IAM::Role', { RoleName: Match.stringLikeRegexp(`^Consumer-Downloads-[0-9A-F]{8}-edge-${REGION}$`) });
    const [role] = Object.values(edgeTemplate.findResources('AWS::IAM::Role'));
    expect(stack.resolve(otp.edgeRoleArn)).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, `:role/${role.Properties.RoleName}`]] });
    edgeTemplate.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', MemorySize: 128, Timeout: 5 });
    const statements = Object.values(edgeTemplate.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(3);
    const [ddb, sessions, param] = statements;
    // The ledger: redeem and read, nothing else (no DeleteItem: a link's item is never deleted by the edge).
    expect(ddb.Action).toEqual(['dynamodb:UpdateItem', 'dynamodb:GetItem']);
    expect(JSON.stringify(ddb.Resource)).toMatch(new RegExp(`:dynamodb:${REGION}:.*:table/Consumer-?Downloads.*-ledger"`));
    // The sessions table, named from its concrete name (the edge stack cannot import the regional stack's tokens).
    expect(sessions.Action).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']);
    const [sessionsTable] = Object.values(template.findResources('AWS::DynamoDB::Table', { Properties: { TableName: Match.stringLikeRegexp('-sessions$') } }));
    expect(sessions.Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:dynamodb:${REGION}:`, { Ref: 'AWS::AccountId' }, `:table/${sessionsTable.Properties.TableName}`]],
    });
    expect(param.Action).toBe('ssm:GetParameter');
    expect(JSON.stringify(param.Resource)).toMatch(new RegExp(`:ssm:${REGION}:.*:parameter/cdk-one-time-presigned-url/Consumer/[0-9a-f]+/edge-operator-config`));
  });

  it('stages a per-instance config.json holding everything a redemption needs, and an operator parameter', () => {
    const app = new App();
    const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
    const a = new OneTimePresignedDistribution(stack, 'A');
    const b = new OneTimePresignedDistribution(stack, 'B');
    const template = Template.fromStack(stack);
    const configs = [a, b].map((otp) => {
      const code = (otp.edgeFunction.lambda.node.defaultChild as lambda.CfnFunction);
      expect(code).toBeDefined();
      const asset = otp.edgeFunction.lambda.node.tryFindChild('Code')?.node.tryFindChild('Stage');
      expect(asset).toBeDefined();
      const dir = (asset as unknown as { sourcePath: string }).sourcePath;
      expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'index.js']);
      return JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    });
    expect(configs[0]).toEqual({
      tableName: expect.stringMatching(/^Consumer-A-[0-9A-F]+-ledger$/),
      sessionsTableName: `${configs[0].tableName}-sessions`,
      tableRegion: REGION,
      previewProtection: true,
      previewAgents: [],
      bucketRegion: REGION,
      landingPageTitle: 'A file was shared with you',
      landingPageShowsFileName: false,
      parameterName: expect.stringMatching(/^\/cdk-one-time-presigned-url\/Consumer\/[0-9a-f]+\/edge-operator-config$/),
      parameterRegion: REGION,
      operatorRefreshSeconds: 60,
      metricsId: 'eu-west-1/Consumer/A',
    });
    expect(configs[0].parameterName).not.toEqual(configs[1].parameterName);
    // Two instances publish their download metrics under distinct Distribution dimensions.
    expect(configs[1].metricsId).toBe('eu-west-1/Consumer/B');
    expect(configs[0].tableName).not.toEqual(configs[1].tableName);
    // Each operator parameter exists under exactly the staged name, holding only the switches.
    for (const config of configs) {
      template.hasResourceProperties('AWS::SSM::Parameter', { Name: config.parameterName, Value: '{"paused":false,"previewAgents":[]}' });
    }
  });

  it('stages operatorRefreshInterval for the edge function\'s reads of the operator switches', () => {
    const { otp } = synth({ operatorRefreshInterval: Duration.minutes(5) });
    const dir = (otp.edgeFunction.lambda.node.tryFindChild('Code')!.node.tryFindChild('Stage') as unknown as { sourcePath: string }).sourcePath;
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).operatorRefreshSeconds).toBe(300);
  });

  it('stages the edge code inside the cloud assembly, named by its content, never in the temporary folder', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'otp-staging-test-'));
    try {
      const dirs = [0, 1].map(() => {
        const app = new App({ outdir });
        const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
        const otp = new OneTimePresignedDistribution(stack, 'A');
        app.synth();
        return (otp.edgeFunction.lambda.node.tryFindChild('Code')!.node.tryFindChild('Stage') as unknown as { sourcePath: string }).sourcePath;
      });
      expect(path.dirname(dirs[0])).toBe(path.join(outdir, 'asset.otp-edge-sources'));
      expect(path.basename(dirs[0])).toMatch(/^[0-9a-f]{32}$/);
      // Stable across synths, and still there afterwards for tools that read the source path.
      expect(dirs[1]).toBe(dirs[0]);
      expect(fs.readdirSync(dirs[0]).sort()).toEqual(['config.json', 'index.js']);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('synth-time errors', () => {
  it('refuses an env-agnostic stack with its own message', () => {
    const app = new App();
    const stack = new Stack(app, 'Agnostic');
    expect(() => new OneTimePresignedDistribution(stack, 'Downloads')).toThrow(/needs a stack with a concrete region: set env on the stack/);
  });

  it.each([
    [{ maxLinkLifetime: Duration.days(366) }, /maxLinkLifetime must be a whole number of seconds between 1 and 31536000 \(365 days\); got 366 days/],
    [{ defaultLinkLifetime: Duration.millis(1500) }, /defaultLinkLifetime must be a whole number of seconds.*got 1 second 500 millis/],
    [{ defaultLinkLifetime: Duration.hours(2) }, /defaultLinkLifetime must be a whole number of seconds between 1 and 3600 \(maxLinkLifetime, 1 hour by default\); got 2 hours/],
    [{ maxLinkLifetime: Duration.days(30), defaultLinkLifetime: Duration.days(31) }, /defaultLinkLifetime .* between 1 and 2592000 \(maxLinkLifetime\); got 31 days/],
    [{ runtime: lambda.Runtime.PYTHON_3_12 }, /runtime must be a Node.js runtime, version 20 or later.*got python3.12/],
    [{ runtime: lambda.Runtime.NODEJS_18_X }, /got nodejs18.x/],
    [{ operatorRefreshInterval: Duration.seconds(5) }, /operatorRefreshInterval must be a concrete whole number of seconds between 10 and 3600 \(an hour\); got 5 seconds/],
    [{ operatorRefreshInterval: Duration.hours(2) }, /operatorRefreshInterval must be .*; got 2 hours/],
    [{ operatorRefreshInterval: Duration.millis(10_500) }, /operatorRefreshInterval must be .*; got 10 seconds 500 millis/],
    [{ passphraseAttempts: 0 }, /passphraseAttempts must be an integer between 1 and 100; got 0/],
    [{ passphraseAttempts: 101 }, /passphraseAttempts must be an integer between 1 and 100; got 101/],
    [{ passphraseAttempts: 2.5 }, /passphraseAttempts must be an integer between 1 and 100; got 2.5/],
  ])('rejects %p', (props, message) => {
    expect(() => synth(props as OneTimePresignedDistributionProps)).toThrow(message);
  });

  it('accepts links of up to a year, keeping the 15-minute default lifetime', () => {
    const { stack, template } = synth({ maxLinkLifetime: Duration.days(365) });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('maxLinkLifetime'));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_MAX_EXPIRES_SECONDS: '31536000', OTP_DEFAULT_EXPIRES_SECONDS: '900' }) },
    });
  });
});

describe('passphrase-protected links', () => {
  it('show the viewer-request function the body of a POST (the passphrase form), and only that trigger', () => {
    const { template } = synth();
    const associations = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig
      .DefaultCacheBehavior.LambdaFunctionAssociations as Array<{ EventType: string; IncludeBody?: boolean }>;
    expect(associations.map((a) => [a.EventType, a.IncludeBody === true])).toEqual([
      ['viewer-request', true], ['origin-request', false], ['origin-response', false],
    ]);
  });

  it('record passphraseAttempts on each link: the mint gets it (default 5)', () => {
    synth().template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_PASSPHRASE_ATTEMPTS: '5' }) },
    });
    synth({ passphraseAttempts: 3 }).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_PASSPHRASE_ATTEMPTS: '3' }) },
    });
  });
});

describe('snapshot', () => {
  it('matches, with asset hashes masked', () => {
    const { template, edgeTemplate } = synth({}, { region: REGION, account: '123456789012' });
    expect(maskAssetHashes(template.toJSON())).toMatchSnapshot();
    expect(maskAssetHashes(edgeTemplate.toJSON())).toMatchSnapshot();
  });
});
