// Upload links in the synthesized templates: off by default (no writer, no forwarded
// headers, no scanning), and with uploadKeyPrefixes the edge role alone writes under them,
// the distribution forwards exactly the two headers an upload needs, and scanUploads adds a
// GuardDuty Malware Protection plan limited to the upload prefixes.
import { App, Fn, Size, Stack, aws_apigatewayv2_authorizers as authorizers, aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;

function synth(props: (stack: Stack) => OneTimePresignedDistributionProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region: REGION, account: ACCOUNT } });
  const otp = new OneTimePresignedDistribution(stack, 'Downloads', props(stack));
  const edgeStack = app.node.children.find((c): c is Stack => c instanceof Stack && c.stackName.startsWith('edge-lambda-stack-'))!;
  return { stack, otp, template: () => Template.fromStack(stack), edgeTemplate: () => Template.fromStack(edgeStack) };
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Principal?: unknown; Condition?: unknown };
const actionsOf = (st: Statement) => [st.Action].flat();
const statementsOf = (template: Template, type: 'AWS::IAM::Policy' | 'AWS::S3::BucketPolicy'): Statement[] =>
  Object.values(template.findResources(type)).flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
const policyOfRole = (template: Template, role: string): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp(role) }] } }))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
const objects = (prefix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^DownloadsBucket/), 'Arn'] }, `/${prefix}*`]] });
const mintEnv = (template: Template) => {
  const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^Mints') } }));
  return fn.Properties.Environment.Variables as Record<string, unknown>;
};

describe('upload links off (the default)', () => {
  const built = synth();
  const template = built.template();

  it('grant no one s3:PutObject: not the edge role, not the mint', () => {
    const writes = [...statementsOf(template, 'AWS::IAM::Policy'), ...statementsOf(template, 'AWS::S3::BucketPolicy'), ...statementsOf(built.edgeTemplate(), 'AWS::IAM::Policy')]
      .filter((st) => st.Effect === 'Allow' && actionsOf(st).some((a) => /^s3:PutObject$|^s3:\*$/.test(a)));
    expect(writes).toEqual([]);
  });

  it('forward no headers to S3', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: { HeadersConfig: { HeaderBehavior: 'none' } },
    });
  });

  it('tell the mint there are no upload prefixes, and the default limit of 100 MiB', () => {
    expect(mintEnv(template)).toEqual(expect.objectContaining({ OTP_UPLOAD_KEY_PREFIXES: '[]', OTP_MAX_UPLOAD_BYTES: String(100 * 1024 * 1024) }));
  });

  it('scan nothing', () => {
    template.resourceCountIs('AWS::GuardDuty::MalwareProtectionPlan', 0);
    expect(() => built.otp.onUploadScanned('Scanned')).toThrow(/onUploadScanned\(\) needs upload scanning: set scanUploads: true \(and uploadKeyPrefixes\) on Consumer\/Downloads/);
  });
});

describe('upload links on', () => {
  const built = synth(() => ({ uploadKeyPrefixes: ['inbox/', 'drop/'], maxUploadBytes: Size.gibibytes(1), allowedKeyPrefixes: ['reports/'] }));
  const template = built.template();

  it('let the edge role, by its fixed ARN, and no one else write under the upload prefixes of the bucket it creates', () => {
    const edgeRoleArn = built.stack.resolve(built.otp.edgeRoleArn);
    const bucketPolicy = statementsOf(template, 'AWS::S3::BucketPolicy');
    expect(bucketPolicy.filter((st) => actionsOf(st).includes('s3:PutObject'))).toEqual([
      { Sid: 'EdgeFunctionWritesUploads', Effect: 'Allow', Principal: { AWS: edgeRoleArn }, Action: 's3:PutObject', Resource: [objects('inbox/'), objects('drop/')] },
    ]);
    // Identity policies of this stack (mint, link events) and of the edge stack write nothing.
    const identityWrites = [...statementsOf(template, 'AWS::IAM::Policy'), ...statementsOf(built.edgeTemplate(), 'AWS::IAM::Policy')]
      .filter((st) => actionsOf(st).some((a) => a.startsWith('s3:Put')));
    expect(identityWrites).toEqual([]);
  });

  it('let the mint check keys under the upload prefixes too, still without writing', () => {
    const list = policyOfRole(template, 'MintRole').find((st) => st.Action === 's3:ListBucket')!;
    expect(list.Condition).toEqual({ StringLike: { 's3:prefix': ['reports/*', 'inbox/*', 'drop/*'] } });
  });

  it('forward exactly Content-Type and If-None-Match to S3, still no cookies', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: {
        QueryStringsConfig: { QueryStringBehavior: 'all' },
        HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['Content-Type', 'If-None-Match'] },
        CookiesConfig: { CookieBehavior: 'none' },
      },
    });
  });

  it('give the mint the prefixes and the limit', () => {
    expect(mintEnv(template)).toEqual(expect.objectContaining({ OTP_UPLOAD_KEY_PREFIXES: '["inbox/","drop/"]', OTP_MAX_UPLOAD_BYTES: '1073741824' }));
  });

  it('write to a bucket you bring through the edge role\'s identity policy, with kms:GenerateDataKey on its key', () => {
    const { template: t, edgeTemplate } = synth((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(s, 'Key', KEY_ARN) }),
      allowedKeyPrefixes: ['reports/'],
      uploadKeyPrefixes: ['inbox/'],
    }));
    t().resourceCountIs('AWS::S3::BucketPolicy', 0);
    expect(statementsOf(edgeTemplate(), 'AWS::IAM::Policy')).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: 's3:PutObject', Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::existing-bucket/inbox/*']] } },
      { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: KEY_ARN },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY_ARN },
    ]));
  });
});

describe('upload links to a bucket of another stack', () => {
  it('are granted through that bucket\'s policy and its key\'s policy, naming the edge role', () => {
    const app = new App();
    const data = new Stack(app, 'Data', { env: { region: REGION } });
    const bucket = new s3.Bucket(data, 'Files', { encryption: s3.BucketEncryption.KMS });
    const stack = new Stack(app, 'Consumer', { env: { region: REGION } });
    const otp = new OneTimePresignedDistribution(stack, 'Downloads', { bucket, uploadKeyPrefixes: ['inbox/'] });
    const template = Template.fromStack(data);
    const edgeRole = stack.resolve(otp.edgeRoleArn);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EdgeFunctionWritesUploads', Action: 's3:PutObject', Principal: { AWS: edgeRole } })]) },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:GenerateDataKey', Principal: { AWS: edgeRole } })]) },
    });
  });

  it('warn when the bucket\'s key has an ARN known only at deploy time and a policy it cannot write', () => {
    const { stack } = synth((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(s, 'Key', Fn.importValue('key-arn')) }),
      uploadKeyPrefixes: ['inbox/'],
    }));
    Annotations.fromStack(stack).hasWarning('/Consumer/Downloads', Match.stringLikeRegexp('allow kms:GenerateDataKey to the role Consumer-Downloads-[0-9A-F]{8}-edge-eu-west-1'));
  });
});

describe('upload props are validated at synth', () => {
  it.each([
    ['0 bytes', Size.bytes(0), '0 bytes'],
    ['more than 5 GiB', Size.bytes(5 * 1024 ** 3 + 1), '5368709121 bytes'],
    ['6 GiB', Size.gibibytes(6), '6442450944 bytes'],
    ['a fraction of a byte', Size.bytes(1.5), '1.5 bytes'],
  ])('refuses maxUploadBytes of %s, naming the prop and the value', (_name, maxUploadBytes, got) => {
    expect(() => synth(() => ({ uploadKeyPrefixes: ['inbox/'], maxUploadBytes })))
      .toThrow(`maxUploadBytes must be a whole number of bytes between 1 and 5368709120 (5 GiB, S3's largest single PUT); got ${got}`);
  });

  it('takes maxUploadBytes of 1 byte and of exactly 5 GiB', () => {
    expect(mintEnv(synth(() => ({ uploadKeyPrefixes: ['inbox/'], maxUploadBytes: Size.bytes(1) })).template()).OTP_MAX_UPLOAD_BYTES).toBe('1');
    expect(mintEnv(synth(() => ({ uploadKeyPrefixes: ['inbox/'], maxUploadBytes: Size.gibibytes(5) })).template()).OTP_MAX_UPLOAD_BYTES).toBe('5368709120');
  });

  it('refuses upload prefixes that are not literal prefixes, naming the prop and the value', () => {
    expect(() => synth(() => ({ uploadKeyPrefixes: ['inbox/*'] })))
      .toThrow('uploadKeyPrefixes entries must be literal key prefixes of at most 1024 bytes, without * or ?; got "inbox/*"');
  });

  it('refuses scanUploads without uploadKeyPrefixes', () => {
    expect(() => synth(() => ({ scanUploads: true })))
      .toThrow('scanUploads needs uploadKeyPrefixes: GuardDuty scans what upload links receive, and without uploadKeyPrefixes there are none; got scanUploads true and uploadKeyPrefixes []');
  });

  it('refuses scanUploads with more prefixes than a Malware Protection plan takes', () => {
    expect(() => synth(() => ({ scanUploads: true, uploadKeyPrefixes: ['a/', 'b/', 'c/', 'd/', 'e/', 'f/'] })))
      .toThrow(/scanUploads scans at most 5 prefixes .* got \["a\/","b\/","c\/","d\/","e\/","f\/"\]/);
  });

  it('refuses scanUploads for a bucket in another Region', () => {
    expect(() => synth((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Elsewhere', { bucketName: 'elsewhere', region: 'us-west-2' }),
      uploadKeyPrefixes: ['inbox/'],
      scanUploads: true,
    }))).toThrow(/scanUploads needs the bucket in the construct's own Region .* got bucket Consumer\/Elsewhere in us-west-2 and the stack in eu-west-1/);
  });
});

describe('scanUploads', () => {
  const built = synth(() => ({ uploadKeyPrefixes: ['inbox/', 'drop/'], scanUploads: true }));
  const template = built.template();
  const planRole = () => Object.keys(template.findResources('AWS::IAM::Role', {
    Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'malware-protection-plan.guardduty.amazonaws.com' } })] } },
  }));

  it('protects the bucket with a GuardDuty Malware Protection plan limited to the upload prefixes, tagging results', () => {
    const roles = planRole();
    expect(roles).toHaveLength(1);
    template.hasResourceProperties('AWS::GuardDuty::MalwareProtectionPlan', {
      ProtectedResource: { S3Bucket: { BucketName: { Ref: Match.stringLikeRegexp('^DownloadsBucket') }, ObjectPrefixes: ['inbox/', 'drop/'] } },
      Actions: { Tagging: { Status: 'ENABLED' } },
      Role: { 'Fn::GetAtt': [roles[0], 'Arn'] },
    });
    // Created once the role's policy exists: GuardDuty checks it when the plan is created.
    const [plan] = Object.values(template.findResources('AWS::GuardDuty::MalwareProtectionPlan'));
    expect(plan.DependsOn).toEqual(expect.arrayContaining([roles[0], expect.stringMatching(/UploadScanningRoleDefaultPolicy/)]));
  });

  it('gives GuardDuty\'s role the documented permissions, objects scoped to the upload prefixes', () => {
    const statements = policyOfRole(template, 'UploadScanningRole');
    const bySid = Object.fromEntries(statements.map((st) => [st.Sid, st]));
    expect(Object.keys(bySid).sort()).toEqual([
      'AllowCheckBucketOwnership', 'AllowEnableS3EventBridgeEvents', 'AllowGuardDutyToMonitorEventBridgeManagedRule',
      'AllowManagedRuleToSendS3EventsToGuardDuty', 'AllowMalwareScan', 'AllowPostScanTag', 'AllowPutValidationObject',
    ].sort());
    const managedRules = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:${REGION}:`, { Ref: 'AWS::AccountId' }, ':rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*']] };
    expect(bySid.AllowManagedRuleToSendS3EventsToGuardDuty).toMatchObject({
      Action: ['events:PutRule', 'events:DeleteRule', 'events:PutTargets', 'events:RemoveTargets'],
      Resource: managedRules,
      Condition: { StringLike: { 'events:ManagedBy': 'malware-protection-plan.guardduty.amazonaws.com' } },
    });
    expect(bySid.AllowMalwareScan).toMatchObject({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: [objects('inbox/'), objects('drop/')] });
    expect(bySid.AllowPostScanTag.Resource).toEqual([objects('inbox/'), objects('drop/')]);
    expect(bySid.AllowPutValidationObject).toMatchObject({ Action: 's3:PutObject' });
    expect(JSON.stringify(bySid.AllowPutValidationObject.Resource)).toContain('/malware-protection-resource-validation-object');
    expect(bySid.AllowEnableS3EventBridgeEvents.Action).toEqual(['s3:PutBucketNotification', 's3:GetBucketNotification']);
  });

  it('lets GuardDuty\'s role past the bucket policy\'s deny on linked objects, so it can read what it scans', () => {
    const deny = statementsOf(template, 'AWS::S3::BucketPolicy').find((st) => st.Sid === 'NoOneElseReadsLinkedObjects')!;
    expect(deny.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': [built.stack.resolve(built.otp.edgeRoleArn), { 'Fn::GetAtt': [planRole()[0], 'Arn'] }] } });
  });

  it('lets the edge read an upload only once GuardDuty tagged it NO_THREATS_FOUND (tag-based access control)', () => {
    const clean = statementsOf(template, 'AWS::S3::BucketPolicy').find((st) => st.Sid === 'EdgeReadsOnlyCleanUploads')!;
    expect(clean).toEqual({
      Sid: 'EdgeReadsOnlyCleanUploads',
      Effect: 'Deny',
      Principal: { AWS: built.stack.resolve(built.otp.edgeRoleArn) },
      Action: 's3:GetObject',
      Resource: [objects('inbox/'), objects('drop/')],
      Condition: { StringNotEquals: { 's3:ExistingObjectTag/GuardDutyMalwareScanStatus': 'NO_THREATS_FOUND' } },
    });
    // Without scanning, nothing is denied on tags.
    const plain = synth(() => ({ uploadKeyPrefixes: ['inbox/'] })).template();
    expect(JSON.stringify(plain.toJSON())).not.toContain('ExistingObjectTag');
  });

  it('denies unscanned uploads in the edge role\'s own policy for a bucket it does not own', () => {
    const t = synth((s) => ({ bucket: s3.Bucket.fromBucketName(s, 'Existing', 'existing-bucket'), uploadKeyPrefixes: ['inbox/'], scanUploads: true }));
    const deny = policyOfRole(t.edgeTemplate(), '').find((st) => st.Effect === 'Deny');
    expect(deny).toMatchObject({
      Action: 's3:GetObject',
      Condition: { StringNotEquals: { 's3:ExistingObjectTag/GuardDutyMalwareScanStatus': 'NO_THREATS_FOUND' } },
    });
    expect(JSON.stringify(deny!.Resource)).toContain('existing-bucket/inbox/*');
  });

  it('lets GuardDuty use the bucket\'s KMS key through S3 only', () => {
    const t = synth((s) => ({
      bucket: s3.Bucket.fromBucketAttributes(s, 'Existing', { bucketName: 'existing-bucket', encryptionKey: kms.Key.fromKeyArn(s, 'Key', KEY_ARN) }),
      uploadKeyPrefixes: ['inbox/'],
      scanUploads: true,
    })).template();
    expect(policyOfRole(t, 'UploadScanningRole').find((st) => st.Sid === 'AllowDecryptForMalwareScan')).toEqual({
      Sid: 'AllowDecryptForMalwareScan',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
      Resource: KEY_ARN,
      Condition: { StringLike: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` } },
    });
    t.hasResourceProperties('AWS::GuardDuty::MalwareProtectionPlan', { ProtectedResource: { S3Bucket: { BucketName: 'existing-bucket', ObjectPrefixes: ['inbox/'] } } });
  });

  it('scans the whole bucket when an upload prefix is \'\'', () => {
    synth(() => ({ uploadKeyPrefixes: [''], scanUploads: true })).template().hasResourceProperties('AWS::GuardDuty::MalwareProtectionPlan', {
      ProtectedResource: { S3Bucket: { BucketName: Match.anyValue(), ObjectPrefixes: Match.absent() } },
    });
  });
});

describe('upload events', () => {
  it('onUploadReceived matches exactly the Upload Received link events, on the link events\' bus, and needs linkEvents', () => {
    const { otp, template } = synth(() => ({ linkEvents: true, uploadKeyPrefixes: ['inbox/'] }));
    otp.onUploadReceived('Received', { target: new targets.SnsTopic(new sns.Topic(otp, 'Uploads')) });
    template().hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['cdk-one-time-presigned-url'], 'detail-type': ['Upload Received'] },
      EventBusName: 'default',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('Uploads') } })],
    });
    expect(() => synth(() => ({ uploadKeyPrefixes: ['inbox/'] })).otp.onUploadReceived('R'))
      .toThrow(/onUploadReceived\(\) needs link events: set linkEvents: true on Consumer\/Downloads/);
  });

  it('onUploadScanned matches GuardDuty\'s scan results for this bucket on the default bus, narrowed by the caller', () => {
    const { otp, template } = synth(() => ({ uploadKeyPrefixes: ['inbox/'], scanUploads: true }));
    otp.onUploadScanned('Threats', { eventPattern: { detail: { scanResultDetails: { scanResultStatus: ['THREATS_FOUND'] } } } });
    const [rule] = Object.values(template().findResources('AWS::Events::Rule'));
    expect(rule.Properties.EventBusName).toBeUndefined();
    expect(rule.Properties.EventPattern).toEqual({
      'source': ['aws.guardduty'],
      'detail-type': ['GuardDuty Malware Protection Object Scan Result'],
      'detail': {
        s3ObjectDetails: { bucketName: [{ Ref: expect.stringMatching(/^DownloadsBucket/) }] },
        scanResultDetails: { scanResultStatus: ['THREATS_FOUND'] },
      },
    });
  });
});

describe('POST /uploads', () => {
  it('exists with the mint authorizer, and grantMint covers it', () => {
    const t = synth(() => ({
      authorizer: new authorizers.HttpJwtAuthorizer('Jwt', 'https://issuer.example.com', { jwtAudience: ['otp'] }),
    })).template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /uploads', AuthorizationType: 'JWT' });
    // Management keeps its own authorizer.
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'DELETE /urls/{id}', AuthorizationType: 'AWS_IAM' });
  });

  it('is IAM-authorized by default and granted by grantMint, not by grantManage', () => {
    const { stack, otp } = synth();
    const minter = new iam.Role(stack, 'Minter', { assumedBy: new iam.AccountRootPrincipal() });
    const manager = new iam.Role(stack, 'Manager', { assumedBy: new iam.AccountRootPrincipal() });
    otp.grantMint(minter);
    otp.grantManage(manager);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /uploads', AuthorizationType: 'AWS_IAM' });
    const resources = (role: string) => JSON.stringify(policyOfRole(t, role).filter((st) => st.Action === 'execute-api:Invoke').map((st) => st.Resource));
    expect(resources('Minter')).toMatch(/\/\*\/POST\/uploads"/);
    expect(resources('Manager')).not.toMatch(/uploads/);
  });
});
