// The local S3 follows a bucket policy (local/servers/bucket-policy.ts) together with the
// identity policies, as AWS evaluates same-account access (IAM User Guide, "Policy evaluation
// logic": an explicit deny wins; an allow in the identity policy or the bucket policy
// suffices), and refuses requests signed with an ended role session (ExpiredToken).
import { Sha256 } from '@aws-crypto/sha256-js';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { evaluateBucketPolicy, LocalIdentities, type LocalBucketPolicy, type LocalS3, startS3, validateBucketPolicy } from '../local/servers';
import { http } from './util/http';

describe('local S3 bucket policy', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-policy-test';
  let clock = Date.now();
  const now = () => clock;
  let identities: LocalIdentities;
  let s3: LocalS3;
  let admin: { accessKeyId: string; secretAccessKey: string; principalArn: string };
  let edgeRoleArn: string;
  let mintRoleArn: string;
  let policy: LocalBucketPolicy;

  /** A presigned GET of `key` for the virtual-hosted regional host, as the edge signs its origin request (60 s). */
  const presignedGet = async (key: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => {
    const presigner = new S3RequestPresigner({ region, credentials, sha256: Sha256 });
    const signed = await presigner.presign(new HttpRequest({
      method: 'GET', protocol: 'https:', hostname: s3.regionalHost, path: `/${key}`, headers: { host: s3.regionalHost },
    }), { expiresIn: 60, signingDate: new Date(clock) });
    const query = Object.entries(signed.query ?? {}).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
    return http(`${s3.endpoint}/${key}?${query}`, { headers: { host: s3.regionalHost } });
  };
  const client = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) => new S3Client({
    region, endpoint: s3.endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const code = (body: string) => /<Code>([^<]+)<\/Code>/.exec(body)?.[1];

  beforeAll(async () => {
    identities = new LocalIdentities(now);
    admin = identities.createAccessKey(identities.createUser('otp-local-admin'));
    // Neither role's identity policy lets it read an object.
    edgeRoleArn = identities.createRole('otp-edge', { readPrefixes: [] });
    mintRoleArn = identities.createRole('otp-mint', { readPrefixes: [] });
    // What the construct writes: the edge role may read the allowed prefixes; enforceSSL's deny.
    policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: edgeRoleArn }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/shared/*` },
        {
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 's3:*',
          Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
        { Sid: 'NoAdminSecrets', Effect: 'Deny', Principal: { AWS: admin.principalArn }, Action: ['s3:GetObject'], Resource: `arn:aws:s3:::${bucket}/secret/*` },
      ],
    };
    s3 = await startS3({
      region,
      bucket,
      now,
      bucketPolicy: policy,
      credentials: (id) => identities.find(id),
      mayRead: (principalArn, key) => identities.mayRead(principalArn, key),
    });
    const put = client(admin);
    for (const key of ['shared/obj', 'other/obj', 'secret/obj']) await put.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    put.destroy();
  });

  afterAll(async () => {
    await s3?.close();
  });

  afterEach(() => {
    s3.setBucketPolicy(policy);
  });

  test('an edge-role session the bucket policy allows reads inside its prefix (query and header auth), and nothing outside it', async () => {
    const session = identities.createSession(edgeRoleArn, 3600);
    const inside = await presignedGet('shared/obj', session);
    expect(inside.status).toBe(200);
    expect(inside.text()).toBe('body of shared/obj');
    const outside = await presignedGet('other/obj', session);
    expect(outside.status).toBe(403);
    expect(code(outside.text())).toBe('AccessDenied');

    const c = client(session);
    const got = await c.send(new GetObjectCommand({ Bucket: bucket, Key: 'shared/obj' }));
    expect(await got.Body?.transformToString()).toBe('body of shared/obj');
    await expect(c.send(new GetObjectCommand({ Bucket: bucket, Key: 'other/obj' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    c.destroy();
  });

  test('a principal allowed by neither policy, and an unsigned request, get AccessDenied', async () => {
    const mint = identities.createSession(mintRoleArn, 3600);
    const res = await presignedGet('shared/obj', mint);
    expect(res.status).toBe(403);
    expect(code(res.text())).toBe('AccessDenied');
    const anonymous = await http(`${s3.endpoint}/shared/obj`, { headers: { host: s3.regionalHost } });
    expect(anonymous.status).toBe(403);
    expect(code(anonymous.text())).toBe('AccessDenied');
  });

  test("the admin's identity policy allows everything, but the bucket policy's explicit deny wins", async () => {
    expect((await presignedGet('other/obj', admin)).status).toBe(200);
    const denied = await presignedGet('secret/obj', admin);
    expect(denied.status).toBe(403);
    expect(code(denied.text())).toBe('AccessDenied');
    // A deny of s3:GetObject covers HeadObject too.
    const c = client(admin);
    await expect(c.send(new HeadObjectCommand({ Bucket: bucket, Key: 'secret/obj' }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
    await expect(c.send(new HeadObjectCommand({ Bucket: bucket, Key: 'other/obj' }))).resolves.toMatchObject({ ContentLength: 17 });
    c.destroy();
  });

  test('without the bucket policy the edge role (no identity-policy allow) is refused', async () => {
    s3.setBucketPolicy(undefined);
    const session = identities.createSession(edgeRoleArn, 3600);
    expect((await presignedGet('shared/obj', session)).status).toBe(403);
    expect((await presignedGet('secret/obj', admin)).status).toBe(200);
  });

  test('a role session used after its end gets ExpiredToken, however long its signature would last', async () => {
    const session = identities.createSession(edgeRoleArn, 900);
    expect((await presignedGet('shared/obj', session)).status).toBe(200);
    const start = clock;
    try {
      clock = session.sessionEndsAt + 1000;
      const res = await presignedGet('shared/obj', session);
      expect(res.status).toBe(400);
      expect(code(res.text())).toBe('ExpiredToken');
      expect(res.text()).toContain('The provided token has expired.');
    } finally {
      clock = start;
    }
  });

  test('policies the local S3 cannot evaluate are refused; wildcards and account principals follow IAM', () => {
    expect(() => validateBucketPolicy({ Statement: [{ Effect: 'Deny', NotPrincipal: { AWS: 'x' } } as never] })).toThrow(/NotPrincipal is not supported/);
    expect(() => validateBucketPolicy({
      Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { StringNotEquals: { 'aws:Referer': 'x' } } as never }],
    })).toThrow(/only Bool aws:SecureTransport, ArnNotEquals aws:PrincipalArn and StringNotEquals s3:ExistingObjectTag\/\* conditions/);
    expect(() => s3.setBucketPolicy({ Statement: [{ Effect: 'Allow', Principal: { Service: 'x' } as never, Action: '*', Resource: '*' }] })).toThrow(/Principal/);

    const request = { principalArn: edgeRoleArn, action: 's3:GetObject', resource: `arn:aws:s3:::${bucket}/a/b.txt`, secureTransport: true };
    const account = { Effect: 'Allow' as const, Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 's3:GetObject', Resource: '*' };
    // An account principal delegates to identity policies: it allows nothing by itself, but its deny applies.
    expect(evaluateBucketPolicy({ Statement: [account] }, request)).toBe('none');
    expect(evaluateBucketPolicy({ Statement: [{ ...account, Effect: 'Deny' }] }, request)).toBe('deny');
    expect(evaluateBucketPolicy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 'S3:Get*', Resource: `arn:aws:s3:::${bucket}/a/?.txt` }] }, request)).toBe('allow');
    expect(evaluateBucketPolicy({ Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/A/*` }] }, request)).toBe('none');
  });
});
