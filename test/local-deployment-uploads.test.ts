// The local deployment wires upload links as the construct will: the mint gets the upload
// prefixes and the size limit, the edge role may s3:PutObject only under the upload prefixes
// (the mint role nowhere), and the origin request policy allowlists Content-Type and
// If-None-Match. The S3 and CloudFront behaviours are pinned in
// test/local-s3-conditional-writes.test.ts and test/local-cloudfront-bodies.test.ts.
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { LOCAL_ACCOUNT_ID } from '../local/servers';
import { keyPath, queryString, send } from './util/raw-http';
import { MintEnv } from '../src/shared/config';

let d: LocalDeployment;
const mintRoleArn = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/otp-local-mint`;

beforeAll(async () => {
  d = await startLocalDeployment({ uploadKeyPrefixes: ['inbox/'], maxUploadBytes: 1_048_576 });
});
afterAll(async () => d?.close());

/** A PUT signed with a session of `roleArn`, as the origin-request trigger signs an upload. */
async function putAs(roleArn: string, key: string, body: Buffer): Promise<number> {
  const session = d.identities.createSession(roleArn, 600);
  const presigner = new S3RequestPresigner({ region: d.region, credentials: session, sha256: Sha256 });
  const signed = await presigner.presign(new HttpRequest({
    method: 'PUT', protocol: 'https:', hostname: d.originHost, path: keyPath(key), headers: { 'host': d.originHost, 'if-none-match': '*' },
  }), { expiresIn: 300 });
  const res = await send(d.originUrl, {
    method: 'PUT',
    path: `${signed.path}?${queryString(signed.query ?? {})}`,
    headers: { 'host': d.originHost, 'if-none-match': '*', 'content-length': String(body.length) },
    body,
  });
  return res.status;
}

test('the mint gets the upload prefixes (JSON) and the largest upload', () => {
  expect(process.env[MintEnv.uploadKeyPrefixes]).toBe('["inbox/"]');
  expect(process.env[MintEnv.maxUploadBytes]).toBe('1048576');
});

test('the edge role writes only under the upload prefixes, the mint role nowhere', async () => {
  expect(await putAs(d.edgeRoleArn, 'inbox/report.pdf', Buffer.from('%PDF'))).toBe(200);
  expect(await putAs(d.edgeRoleArn, 'inbox/report.pdf', Buffer.from('%PDF again'))).toBe(412);
  expect(await putAs(d.edgeRoleArn, 'downloads/report.pdf', Buffer.from('%PDF'))).toBe(403);
  expect(await putAs(mintRoleArn, 'inbox/other.pdf', Buffer.from('%PDF'))).toBe(403);
});

test('the identity policies read the same: the edge role under inbox/ only, the mint role nowhere', () => {
  expect(d.identities.mayWrite(d.edgeRoleArn, 'inbox/x')).toBe(true);
  expect(d.identities.mayWrite(d.edgeRoleArn, 'x')).toBe(false);
  expect(d.identities.mayWrite(mintRoleArn, 'inbox/x')).toBe(false);
});
