import * as fs from 'fs';
import * as path from 'path';
import { Annotations as CoreAnnotations, App, Aspects, Fn, Duration, RemovalPolicy, Stack, Validations, aws_apigatewayv2_authorizers as authorizers, aws_certificatemanager as acm, aws_cloudfront as cloudfront, aws_iam as iam, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AwsSolutionsChecks as AwsSolutionsChecksV2 } from 'cdk-nag-v2';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';

const REGION = 'eu-west-1';
const CERT_ARN = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

function build(props: (stack: Stack) => OneTimePresignedDistributionProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props(stack));
  return { app, stack, otp };
}

function otpOf(stack: Stack): OneTimePresignedDistribution {
  return stack.node.findChild('Downloads') as OneTimePresignedDistribution;
}

/** Every option on, as a security reviewer would configure it. */
function allOptions(stack: Stack): OneTimePresignedDistributionProps {
  const logs = new s3.Bucket(stack, 'Logs', {
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  });
  return {
    allowedKeyPrefixes: ['reports/', 'invoices/'],
    domainNames: ['downloads.example.com'],
    certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', CERT_ARN),
    webAclId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/otp/abc',
    distributionLogBucket: logs,
    serverAccessLogsBucket: logs,
    versioned: true,
    geoRestriction: cloudfront.GeoRestriction.allowlist('DE', 'FR'),
    mintThrottle: { rateLimit: 5, burstLimit: 10 },
    defaultMaxUses: 2,
    maxUsesLimit: 5,
    additionalPreviewAgents: ['MyCorpScanner/\\d+'],
  };
}

describe('cdk-nag AwsSolutions', () => {
  const cases: Array<[string, (stack: Stack) => OneTimePresignedDistributionProps]> = [
    ['default props', () => ({})],
    ['every option on', allOptions],
    ['link events on', () => ({ linkEvents: true })],
    ['year-long links', () => ({ maxLinkLifetime: Duration.days(365) })],
    ['upload links, scanned', () => ({ uploadKeyPrefixes: ['inbox/', 'drop/'], scanUploads: true, linkEvents: true })],
    ['upload links to a bucket you bring, with a KMS key, scanned', (stack) => ({
      bucket: s3.Bucket.fromBucketAttributes(stack, 'Existing', {
        bucketName: 'existing-bucket',
        encryptionKey: kms.Key.fromKeyArn(stack, 'BucketKey', 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555'),
      }),
      allowedKeyPrefixes: ['reports/'],
      uploadKeyPrefixes: ['inbox/'],
      scanUploads: true,
    })],
    ['a bucket you bring, with a KMS key', (stack) => ({
      bucket: s3.Bucket.fromBucketAttributes(stack, 'Existing', {
        bucketName: 'existing-bucket',
        encryptionKey: kms.Key.fromKeyArn(stack, 'BucketKey', 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555'),
      }),
      allowedKeyPrefixes: ['reports/'],
    })],
  ];

  function buildForNag(props: (stack: Stack) => OneTimePresignedDistributionProps) {
    const built = build(props);
    if (props === allOptions) {
      // The consumer's own log bucket is not the construct's concern.
      const logs = built.stack.node.findChild('Logs') as s3.Bucket;
      for (const id of ['AwsSolutions-S1', 'AwsSolutions-S10']) {
        Validations.of(logs).acknowledge({ id, reason: 'test fixture: the consumer\'s log bucket' });
        (logs.node.defaultChild as s3.CfnBucket).addMetadata('cdk_nag', {
          rules_to_suppress: [{ id: 'AwsSolutions-S1', reason: 'test fixture: the consumer\'s log bucket' }, { id: 'AwsSolutions-S10', reason: 'test fixture: the consumer\'s log bucket' }],
        });
      }
      // Warned at synth (it holds links), and acknowledged here, as its owner would.
      CoreAnnotations.of(otpOf(built.stack)).acknowledgeWarning('cdk-one-time-presigned-url:linksInAccessLogs', 'test fixture: the log bucket is restricted');
    }
    return built;
  }

  it.each(cases)('cdk-nag 3 reports nothing unacknowledged with %s', (_name, props) => {
    const { app } = buildForNag(props);
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.map((v) => `${v.ruleName} ${v.severity} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it.each(cases)('cdk-nag 2 (suppressions in resource metadata) reports nothing with %s', (_name, props) => {
    const { app } = buildForNag(props);
    Aspects.of(app).add(new AwsSolutionsChecksV2());
    app.synth();
    const findings = app.node.findAll().flatMap((c) => c.node.metadata
      .filter((m) => m.type === 'aws:cdk:error' || m.type === 'aws:cdk:warning')
      .map((m) => `${c.node.path}: ${String(m.data).split(':')[0]}`));
    expect([...new Set(findings)]).toEqual([]);
  });

  it('keeps each acknowledgement next to its resource, with a reason', () => {
    const { stack, otp } = build();
    const reasons = (scope: { node: { metadata: Array<{ type: string; data: unknown }> } }) => scope.node.metadata
      .filter((m) => m.type === 'aws:cdk:acknowledged-rules')
      .map((m) => m.data as Record<string, string>);
    expect(reasons(otp.distribution)).toEqual(expect.arrayContaining([
      expect.objectContaining({ 'annotation::AwsSolutions-CFR7': expect.stringMatching(/the edge function signs each origin request with its own role/) }),
    ]));
    expect(stack).toBeDefined();
  });
});

describe('only the edge role reads objects', () => {
  const statementsOf = (template: Template) => Object.values(template.findResources('AWS::S3::BucketPolicy'))[0]
    .Properties.PolicyDocument.Statement as Array<Record<string, unknown>>;
  const edgeRoleArn = (stack: Stack) => stack.resolve(otpOf(stack).edgeRoleArn);

  it('lets the edge role, by its fixed ARN, read the objects of a bucket it creates, and denies them to every other principal', () => {
    const { stack } = build();
    const statements = statementsOf(Template.fromStack(stack));
    const objects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^DownloadsBucket/), 'Arn'] }, '/*']] };
    expect(statements).toEqual(expect.arrayContaining([
      { Sid: 'EdgeFunctionReadsLinkedObjects', Effect: 'Allow', Principal: { AWS: edgeRoleArn(stack) }, Action: 's3:GetObject', Resource: objects },
      {
        Sid: 'NoOneElseReadsLinkedObjects',
        Effect: 'Deny',
        Principal: { AWS: '*' },
        // Only GetObject: administrators still manage the bucket and its policy.
        Action: 's3:GetObject',
        Resource: objects,
        Condition: { ArnNotEquals: { 'aws:PrincipalArn': edgeRoleArn(stack) } },
      },
    ]));
    expect(JSON.stringify(statements)).not.toMatch(/Referer|secretsmanager/);
  });

  it('grants a bucket you bring through the edge role\'s identity policy, with kms:Decrypt on its key, and writes no bucket policy', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
    const { app, stack } = build((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(s, 'Key', keyArn) }),
      allowedKeyPrefixes: ['reports/'],
    }));
    Template.fromStack(stack).resourceCountIs('AWS::S3::BucketPolicy', 0);
    const edge = app.node.children.find((c): c is Stack => c instanceof Stack && c.stackName.startsWith('edge-lambda-stack-'))!;
    const statements = Object.values(Template.fromStack(edge).findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::existing-bucket/reports/*']] } },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn },
    ]));
  });

  it('grants a bucket of another stack of the app through that bucket\'s policy, deployed after the edge role', () => {
    const app = new App();
    const data = new Stack(app, 'Data', { env: { region: REGION } });
    const bucket = new s3.Bucket(data, 'Files', { encryption: s3.BucketEncryption.KMS });
    const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
    const otp = new OneTimePresignedDistribution(stack, 'Downloads', { bucket });
    const template = Template.fromStack(data);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EdgeFunctionReadsLinkedObjects', Action: 's3:GetObject', Principal: { AWS: stack.resolve(otp.edgeRoleArn) } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Principal: { AWS: stack.resolve(otp.edgeRoleArn) } })]) },
    });
    expect(data.dependencies.map((d) => d.stackName)).toEqual([expect.stringMatching(/^edge-lambda-stack-/)]);
  });

  it('warns when the bucket\'s key has an ARN known only at deploy time and a policy it cannot write', () => {
    const { stack } = build((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(s, 'Key', Fn.importValue('key-arn')) }),
    }));
    Annotations.fromStack(stack).hasWarning('/Consumer/Downloads',
      Match.stringLikeRegexp('allow kms:Decrypt to the role Consumer-Downloads-[0-9A-F]{8}-edge-eu-west-1 \\(edgeRoleArn\\) in its key policy'));
  });

  it('refuses a bucket whose name is known only at deploy time and whose policy it cannot write', () => {
    expect(() => build((s) => ({ bucket: s3.Bucket.fromBucketName(s, 'Imported', Fn.importValue('bucket-name')) })))
      .toThrow(/bucket Consumer\/Imported has a name known only at deploy time .*s3.Bucket.fromBucketName/);
  });

  it('offers versioning and server access logs on the bucket it creates', () => {
    const { stack } = build(allOptions);
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^Logs') } },
    });
  });
});

describe('allowed key prefixes', () => {
  it('scopes the edge role\'s reads and the mint\'s existence check to the prefixes', () => {
    const { stack } = build(() => ({ allowedKeyPrefixes: ['reports/', 'invoices/'] }));
    const template = Template.fromStack(stack);
    const policy = (name: string) => Object.values(template.findResources('AWS::IAM::Policy', { Properties: { PolicyName: Match.stringLikeRegexp(name) } }))[0]
      .Properties.PolicyDocument.Statement as Array<{ Action: string; Resource: unknown; Condition?: unknown }>;
    const statements = policy('MintRole');
    const bucketPolicy = Object.values(template.findResources('AWS::S3::BucketPolicy'))[0].Properties.PolicyDocument.Statement as Array<{ Action: string; Resource: unknown }>;
    const objects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^DownloadsBucket/), 'Arn'] }, `/${prefix}*`]] });
    const gets = bucketPolicy.filter((s) => s.Action === 's3:GetObject');
    expect(gets).toHaveLength(2);
    for (const get of gets) expect(get.Resource).toEqual([objects('reports/'), objects('invoices/')]);
    const list = statements.find((s) => s.Action === 's3:ListBucket')!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['reports/*', 'invoices/*'] } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_ALLOWED_KEY_PREFIXES: '["reports/","invoices/"]' }) },
    });
  });

  it.each([
    [[], /allowedKeyPrefixes must name at least one prefix/],
    [['reports/*'], /without \* or \?; got "reports\/\*"/],
  ])('rejects %p', (prefixes, message) => {
    expect(() => build(() => ({ allowedKeyPrefixes: prefixes }))).toThrow(message);
  });
});

describe('edge and API hardening', () => {
  it('adds a security response headers policy that forbids caching', () => {
    const { stack } = build();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31536000 }),
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        }),
        CustomHeadersConfig: { Items: [{ Header: 'Cache-Control', Value: 'private, no-store', Override: true }] },
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: { DefaultCacheBehavior: Match.objectLike({ ResponseHeadersPolicyId: { Ref: Match.stringLikeRegexp('SecurityHeaders') } }) },
    });
  });

  it('throttles and logs the mint API by default', () => {
    const { stack } = build();
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('MintApiLogs'), 'Arn'] }, Format: Match.anyValue() },
    });
  });

  it('applies a custom domain, TLS 1.2, WAF, logging and geo restriction when asked', () => {
    const { stack } = build(allOptions);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['downloads.example.com'],
        ViewerCertificate: { AcmCertificateArn: CERT_ARN, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
        WebACLId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/otp/abc',
        Logging: Match.objectLike({ Bucket: Match.anyValue() }),
        Restrictions: { GeoRestriction: { Locations: ['DE', 'FR'], RestrictionType: 'whitelist' } },
      }),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 } });
    // Minted links use the first custom domain.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ OTP_PUBLIC_BASE_URL: 'https://downloads.example.com', OTP_DEFAULT_MAX_USES: '2', OTP_MAX_USES_LIMIT: '5' }) },
    });
    // Synth-time preview agents are staged with the edge function; SSM holds only operator switches.
    const staged = JSON.parse(fs.readFileSync(path.join(
      (otpOf(stack).edgeFunction.lambda.node.tryFindChild('Code')!.node.tryFindChild('Stage') as unknown as { sourcePath: string }).sourcePath,
      'config.json'), 'utf8'));
    expect(staged.previewAgents).toEqual(['MyCorpScanner/\\d+']);
  });

  it('warns that access logs hold working links when a distribution or server access log bucket is given', () => {
    const message = Match.stringLikeRegexp('record each request\'s query string, so they hold working links');
    Annotations.fromStack(build(allOptions).stack).hasWarning('/Consumer/Downloads', message);
    Annotations.fromStack(build((stack) => ({ serverAccessLogsBucket: new s3.Bucket(stack, 'L') })).stack).hasWarning('/Consumer/Downloads', message);
    Annotations.fromStack(build().stack).hasNoWarning('*', message);
  });

  it.each([
    [() => ({ domainNames: ['a.example.com'] }), /domainNames needs a certificate \(in us-east-1\) covering them; got domainNames \["a.example.com"\] and no certificate/],
    [(s: Stack) => ({ certificate: acm.Certificate.fromCertificateArn(s, 'C', CERT_ARN) }), /certificate is only used with domainNames/],
    [(s: Stack) => ({ domainNames: ['a.example.com'], certificate: acm.Certificate.fromCertificateArn(s, 'C', CERT_ARN.replace('us-east-1', 'eu-west-1')) }), /certificate must be in us-east-1 for CloudFront; got arn:aws:acm:eu-west-1/],
    [() => ({ maxUsesLimit: 101 }), /maxUsesLimit must be an integer between 1 and 100; got 101/],
    [() => ({ maxUsesLimit: 3, defaultMaxUses: 4 }), /defaultMaxUses must be an integer between 1 and maxUsesLimit \(3\); got 4/],
    [() => ({ defaultMaxUses: 1.5 }), /defaultMaxUses must be an integer .* got 1.5/],
    [() => ({ additionalPreviewAgents: ['(unclosed'] }), /additionalPreviewAgents entries must be regular expressions .*; got "\(unclosed"/],
    [() => ({ additionalPreviewAgents: [''] }), /additionalPreviewAgents .*; got "" \(it matches the empty string, so it would refuse every download\)/],
    [() => ({ additionalPreviewAgents: ['Bot|'] }), /additionalPreviewAgents .*; got "Bot\|" \(it matches the empty string/],
    [() => ({ additionalPreviewAgents: ['x*'] }), /additionalPreviewAgents .*; got "x\*" \(it matches the empty string/],
    [() => ({ downloadWindow: Duration.days(2) }), /downloadWindow must be a whole number of seconds between 0 and 86400 \(a day\); got 2 days/],
    [() => ({ downloadWindow: Duration.millis(1500) }), /downloadWindow must be a whole number of seconds .*; got 1 second 500 millis/],
    [() => ({ ledgerTableName: 'a b' }), /ledgerTableName must be a concrete DynamoDB table name .*; got "a b"/],
    [() => ({ ledgerRemovalPolicy: RemovalPolicy.SNAPSHOT }), /ledgerRemovalPolicy must be RemovalPolicy.DESTROY, RETAIN or RETAIN_ON_UPDATE_OR_DELETE .*; got snapshot/],
    [() => ({ mintThrottle: { rateLimit: -1 } }), /mintThrottle.rateLimit must be a non-negative number; got -1/],
  ])('rejects bad props with a message naming them (%#)', (props, message) => {
    expect(() => build(props as (s: Stack) => OneTimePresignedDistributionProps)).toThrow(message);
  });
});

describe('links API and grants', () => {
  it('routes every links API route through IAM by default', () => {
    const { stack } = build();
    const template = Template.fromStack(stack);
    for (const routeKey of ['GET /get-url', 'POST /urls', 'GET /urls/{id}', 'DELETE /urls/{id}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
    }
  });

  it('keeps IAM on the management routes when the mint routes take a JWT authorizer', () => {
    const jwt = () => new authorizers.HttpJwtAuthorizer('Users', 'https://issuer.example.com', { jwtAudience: ['app'] });
    const { stack } = build(() => ({ authorizer: jwt() }));
    const template = Template.fromStack(stack);
    for (const routeKey of ['GET /get-url', 'POST /urls']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'JWT' });
    }
    for (const routeKey of ['GET /urls/{id}', 'DELETE /urls/{id}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
    }
    // manageAuthorizer changes it on purpose.
    const opened = Template.fromStack(build(() => {
      const users = jwt();
      return { authorizer: users, manageAuthorizer: users };
    }).stack);
    for (const routeKey of ['GET /urls/{id}', 'DELETE /urls/{id}']) {
      opened.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'JWT' });
    }
  });

  it('grants minting and managing separately', () => {
    const app = new App();
    const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
    const otp = new OneTimePresignedDistribution(stack, 'Downloads');
    const minter = new iam.Role(stack, 'Minter', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const manager = new iam.Role(stack, 'Manager', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    otp.grantMint(minter);
    otp.grantManage(manager);
    const template = Template.fromStack(stack);
    const resourcesOf = (role: string) => JSON.stringify(Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp(role) }] } }))[0].Properties.PolicyDocument);
    expect(resourcesOf('Minter')).toMatch(/\/\*\/GET\/get-url".*\/\*\/POST\/urls"/);
    expect(resourcesOf('Minter')).not.toMatch(/DELETE/);
    expect(resourcesOf('Manager')).toMatch(/\/\*\/GET\/urls\/\*".*\/\*\/DELETE\/urls\/\*"/);
    expect(resourcesOf('Manager')).not.toMatch(/POST|get-url/);
  });

  it('offers metrics for the mint API and function', () => {
    const { otp } = build();
    expect(otp.metricMintServerErrors().metricName).toBe('5xx');
    expect(otp.metricMintClientErrors().metricName).toBe('4xx');
    expect(otp.metricMintLatency({ period: Duration.minutes(1) }).metricName).toBe('Latency');
    expect(otp.metricMintFunctionErrors().metricName).toBe('Errors');
  });
});

describe('browser callers (corsAllowedOrigins)', () => {
  it('has no CORS unless asked: browsers cannot call the API from another origin', () => {
    Template.fromStack(build().stack).hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
  });

  it('configures the HTTP API\'s CORS for exactly the origins given, with the links API\'s methods and headers', () => {
    const { stack } = build(() => ({ corsAllowedOrigins: ['https://app.example.com', 'http://localhost:3000'] }));
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGatewayV2::Api', {
      CorsConfiguration: {
        AllowOrigins: ['https://app.example.com', 'http://localhost:3000'],
        AllowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
        AllowHeaders: ['content-type', 'authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
        MaxAge: 600,
        AllowCredentials: Match.absent(),
      },
    });
  });

  it.each([
    [[], /corsAllowedOrigins must name at least one origin \(leave it out for no CORS\); got \[\]/],
    [['*'], /corsAllowedOrigins entries must be origins, scheme:\/\/host\[:port\] with no path; got "\*" \(wildcards are not allowed/],
    [['https://*.example.com'], /got "https:\/\/\*.example.com" \(wildcards are not allowed/],
    [['https://app.example.com/'], /got "https:\/\/app.example.com\/" \(browsers send the origin as https:\/\/app.example.com\)/],
    [['https://app.example.com/upload'], /got "https:\/\/app.example.com\/upload" \(browsers send the origin as https:\/\/app.example.com\)/],
    [['https://App.Example.com'], /\(browsers send the origin as https:\/\/app.example.com\)/],
    [['https://app.example.com:443'], /\(browsers send the origin as https:\/\/app.example.com\)/],
    [['app.example.com'], /got "app.example.com" \(not a URL; expected scheme:\/\/host\[:port\]/],
    [['ftp://files.example.com'], /\(the scheme must be https or http, not ftp\)/],
    [['null'], /got "null" \(not a URL/],
  ])('refuses corsAllowedOrigins %p with a message naming the prop and the value', (origins, message) => {
    expect(() => build(() => ({ corsAllowedOrigins: origins }))).toThrow(message);
  });
});
