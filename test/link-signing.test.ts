// The signing modes as templates: who signs, what it may do, where its key lives, and which
// lifetimes each mode refuses at synth. The local deployment tests (signing-lifetimes.test.ts)
// show the same modes keeping links alive until their expiresAt.
import { App, Duration, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { LinkSigning, OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '../src';

function synth(props: (stack: Stack) => OneTimePresignedDistributionProps = () => ({})) {
  const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
  const stack = new Stack(app, 'Consumer', { env: { region: 'eu-west-1' } });
  new OneTimePresignedDistribution(stack, 'Downloads', props(stack));
  return Template.fromStack(stack);
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };
function statementsOf(template: Template, policyName: RegExp | string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => new RegExp(policyName).test(p.Properties.PolicyName));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();
const mintEnv = (template: Template) => Object.values(template.findResources('AWS::Lambda::Function'))
  .find((f) => f.Properties.Description?.startsWith('Mints'))!.Properties.Environment.Variables;
const logicalIds = (template: Template, type: string) => Object.keys(template.findResources(type)).map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort();
const denyPrincipals = (template: Template) => {
  const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy'));
  const deny = policy.Properties.PolicyDocument.Statement.find((s: { Sid?: string }) => s.Sid === 'SignerReadsOnlyThroughCloudFront');
  return (deny.Condition.ArnEquals['aws:PrincipalArn'] as Array<{ 'Fn::GetAtt': [string, string] }>).map((a) => a['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, ''));
};

describe('LinkSigning.dedicatedKey() (the default)', () => {
  const template = synth(() => ({ allowedKeyPrefixes: ['reports/'] }));

  it('creates one IAM user that may only read the allowed objects, and one access key', () => {
    expect(logicalIds(template, 'AWS::IAM::User')).toEqual(['DownloadsSigningUser']);
    expect(logicalIds(template, 'AWS::IAM::AccessKey')).toEqual(['DownloadsSigningKey']);
    const statements = statementsOf(template, /SigningUser/);
    expect(actions(statements)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(statements[0].Resource)).toMatch(/"\/reports\/\*"\]\]\}$/);
    // No console password, no managed policies, no groups.
    template.hasResourceProperties('AWS::IAM::User', { LoginProfile: Match.absent(), ManagedPolicyArns: Match.absent(), Groups: Match.absent() });
  });

  it('keeps the key pair in Secrets Manager by reference only: no secret value in the template or the environment', () => {
    const [secret] = Object.values(template.findResources('AWS::SecretsManager::Secret', { Properties: { Description: Match.stringLikeRegexp('signs one-time links') } }));
    const [keyId] = Object.keys(template.findResources('AWS::IAM::AccessKey'));
    expect(secret.Properties.SecretString).toEqual({
      'Fn::Join': ['', ['{"accessKeyId":"', { Ref: keyId }, '","secretAccessKey":"', { 'Fn::GetAtt': [keyId, 'SecretAccessKey'] }, '"}']],
    });
    // The mint function gets the secret's ARN, and may read that secret and nothing else of it.
    const env = mintEnv(template);
    expect(env.OTP_SIGNING_MODE).toBe('key-secret');
    expect(env.OTP_SIGNING_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^DownloadsSigningKeySecret/) });
    expect(JSON.stringify(env)).not.toContain('SecretAccessKey');
    const reads = statementsOf(template, /MintRole/).filter((s) => s.Action === 'secretsmanager:GetSecretValue').map((s) => JSON.stringify(s.Resource));
    expect(reads.sort()).toEqual([expect.stringContaining('DownloadsOriginSecret'), expect.stringContaining('DownloadsSigningKeySecret')]);
    // No output, parameter or other resource mentions the secret access key.
    const json = JSON.stringify(template.toJSON());
    expect(json.match(/SecretAccessKey/g)).toHaveLength(1);
    expect(json).not.toMatch(/AKIA[0-9A-Z]{16}/);
  });

  it('makes the signing user read only through CloudFront, like the mint role', () => {
    expect(denyPrincipals(template)).toEqual(['DownloadsMintRole', 'DownloadsSigningUser']);
  });

  it('grants kms:Decrypt on the bucket key to the signer, not to the mint function', () => {
    const withKey = synth((stack) => ({
      bucket: new s3.Bucket(stack, 'Encrypted', { encryptionKey: new kms.Key(stack, 'BucketKey'), enforceSSL: true }),
    }));
    expect(actions(statementsOf(withKey, /SigningUser/))).toEqual(['kms:Decrypt', 's3:GetObject']);
    expect(actions(statementsOf(withKey, /MintRole/))).not.toContain('kms:Decrypt');
  });

  it('rotates with keyGeneration: a new user, key and secret, the previous key kept for outstanding links', () => {
    const rotated = synth(() => ({ linkSigning: LinkSigning.dedicatedKey({ keyGeneration: 2 }) }));
    expect(logicalIds(rotated, 'AWS::IAM::User')).toEqual(['DownloadsSigningUser', 'DownloadsSigningUserGen2']);
    expect(logicalIds(rotated, 'AWS::IAM::AccessKey')).toEqual(['DownloadsSigningKey', 'DownloadsSigningKeyGen2']);
    // Generation 1 keeps its logical ids, so CloudFormation leaves its key alone; its secret goes.
    const secrets = logicalIds(rotated, 'AWS::SecretsManager::Secret').filter((id) => id.includes('Signing'));
    expect(secrets).toEqual(['DownloadsSigningKeySecretGen2']);
    expect(mintEnv(rotated).OTP_SIGNING_SECRET_ARN).toEqual({ Ref: expect.stringMatching(/^DownloadsSigningKeySecretGen2/) });
    expect(denyPrincipals(rotated)).toEqual(['DownloadsMintRole', 'DownloadsSigningUserGen2', 'DownloadsSigningUser']);
    // And generation 1's user, key and policy are exactly as generation 1 deployed them: any
    // difference would make CloudFormation replace the key under the links it signed.
    const gen1 = synth(() => ({}));
    const resourcesOf = (t: Template, pattern: RegExp) => Object.fromEntries(Object.entries(t.toJSON().Resources as Record<string, unknown>)
      .filter(([id]) => pattern.test(id)));
    const kept = /^DownloadsSigning(User|Key|UserDefaultPolicy)[0-9A-F]{8}$/;
    expect(Object.keys(resourcesOf(gen1, kept))).toHaveLength(3);
    expect(resourcesOf(rotated, kept)).toEqual(resourcesOf(gen1, kept));

    // Retiring generation 1 (after maxLinkLifetime) removes its user and key.
    const retired = synth(() => ({ linkSigning: LinkSigning.dedicatedKey({ keyGeneration: 2, keepPreviousKey: false }) }));
    expect(logicalIds(retired, 'AWS::IAM::User')).toEqual(['DownloadsSigningUserGen2']);
    expect(logicalIds(retired, 'AWS::IAM::AccessKey')).toEqual(['DownloadsSigningKeyGen2']);
    // The next rotation drops generation 1 for good and keeps generation 2.
    const next = synth(() => ({ linkSigning: LinkSigning.dedicatedKey({ keyGeneration: 3 }) }));
    expect(logicalIds(next, 'AWS::IAM::User')).toEqual(['DownloadsSigningUserGen2', 'DownloadsSigningUserGen3']);
  });

  it('guarantees 7 days: the longest lifetime SigV4 allows synthesizes', () => {
    expect(mintEnv(synth(() => ({ maxLinkLifetime: Duration.days(7) }))).OTP_MAX_EXPIRES_SECONDS).toBe('604800');
    expect(() => synth(() => ({ maxLinkLifetime: Duration.days(8) }))).toThrow(/maxLinkLifetime must be a whole number of seconds between 1 and 604800.*got 8 days/);
  });

  it.each([0, 1.5, -1])('refuses keyGeneration %p, naming it', (keyGeneration) => {
    expect(() => LinkSigning.dedicatedKey({ keyGeneration })).toThrow(new RegExp(`keyGeneration \\(LinkSigning.dedicatedKey\\) must be a whole number of at least 1; got ${keyGeneration}`));
  });
});

describe('LinkSigning.signerRole()', () => {
  const template = synth(() => ({ linkSigning: LinkSigning.signerRole() }));

  it('creates a role only the mint function may assume, and no user or stored key', () => {
    template.resourceCountIs('AWS::IAM::User', 0);
    template.resourceCountIs('AWS::IAM::AccessKey', 0);
    const [roleId, role] = Object.entries(template.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('^Signs one-time links') } }))[0];
    expect(role.Properties.MaxSessionDuration).toBe(3600);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([{
      Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: { 'Fn::GetAtt': [expect.stringMatching(/^DownloadsMintRole/), 'Arn'] } },
    }]);
    expect(actions(statementsOf(template, /SignerRole/))).toEqual(['s3:GetObject']);
    const assume = statementsOf(template, /MintRole/).filter((s) => s.Action === 'sts:AssumeRole');
    expect(assume).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [roleId, 'Arn'] } })]);
    expect(actions(statementsOf(template, /MintRole/))).not.toContain('s3:GetObject');
    expect(denyPrincipals(template)).toEqual(['DownloadsMintRole', 'DownloadsSignerRole']);
  });

  it('tells the mint function which role to assume and for how long', () => {
    const env = mintEnv(template);
    expect(env).toMatchObject({ OTP_SIGNING_MODE: 'signer-role', OTP_SIGNER_SESSION_SECONDS: '3600' });
    expect(env.OTP_SIGNER_ROLE_ARN).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DownloadsSignerRole/), 'Arn'] });
  });

  it('defaults maxLinkLifetime to the 50 minutes a chained role session can guarantee with room to spare', () => {
    expect(mintEnv(template).OTP_MAX_EXPIRES_SECONDS).toBe('3000');
    expect(LinkSigning.signerRole().maxLinkLifetime.toMinutes()).toBe(50);
  });

  it('names the mode when a default lifetime exceeds what it guarantees', () => {
    expect(() => synth(() => ({ linkSigning: LinkSigning.signerRole(), defaultLinkLifetime: Duration.hours(1) }))).toThrow(
      'defaultLinkLifetime must not exceed maxLinkLifetime (3000 seconds, the most LinkSigning.signerRole() guarantees); got 3600 seconds');
  });

  it.each([
    [Duration.hours(1), '1 hour'],
    [Duration.hours(24), '1 day'],
  ])('refuses maxLinkLifetime %s at synth, naming the prop, the value, the mode and the modes that allow it', (maxLinkLifetime, human) => {
    expect(() => synth(() => ({ linkSigning: LinkSigning.signerRole(), maxLinkLifetime }))).toThrow(
      `maxLinkLifetime ${human} cannot be guaranteed by LinkSigning.signerRole(), whose links live at most 50 minutes (a link stops working when `
      + 'the credentials that signed it expire). LinkSigning.dedicatedKey() or LinkSigning.fromSecret() keep links for up to 7 days.');
  });
});

describe('LinkSigning.fromSecret()', () => {
  const template = synth((s) => ({
    linkSigning: LinkSigning.fromSecret(secretsmanager.Secret.fromSecretNameV2(s, 'Key', 'otp/signing-key'), iam.User.fromUserName(s, 'Signer', 'otp-signer')),
    allowedKeyPrefixes: ['reports/'],
    maxLinkLifetime: Duration.days(7),
  }));

  it('grants the user you name read access to the allowed objects, and the mint function read access to your secret', () => {
    template.resourceCountIs('AWS::IAM::User', 0);
    template.resourceCountIs('AWS::IAM::AccessKey', 0);
    const userPolicies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Users: ['otp-signer'] } }));
    expect(userPolicies).toHaveLength(1);
    expect(userPolicies[0].Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', Resource: expect.objectContaining({ 'Fn::Join': ['', [expect.anything(), '/reports/*']] }) }),
    ]);
    const reads = statementsOf(template, /MintRole/).filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(reads)).toContain(':secret:otp/signing-key-??????');
    expect(mintEnv(template).OTP_SIGNING_MODE).toBe('key-secret');
  });

  it('makes that user read only through CloudFront', () => {
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    const deny = policy.Properties.PolicyDocument.Statement.find((s: { Sid?: string }) => s.Sid === 'SignerReadsOnlyThroughCloudFront');
    expect(JSON.stringify(deny.Condition.ArnEquals['aws:PrincipalArn'][1])).toContain(':user/otp-signer');
  });
});
