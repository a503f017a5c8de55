// scanUploads over the local deployment: the edge reads an upload only once GuardDuty tagged
// it NO_THREATS_FOUND (the bucket policy's tag-based Deny). GuardDuty is not emulated: the test
// tags objects as its scan would (PutObjectTagging). A download link to an upload that is not
// scanned yet, or was found infected, is refused, and its use is given back.
import { randomBytes } from 'node:crypto';
import { PutObjectTaggingCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';
import { evaluateBucketPolicy, validateBucketPolicy, type LocalBucketPolicy } from '../local/servers/bucket-policy';

const EDGE = 'arn:aws:iam::123456789012:role/edge';
const TBAC: LocalBucketPolicy = {
  Statement: [{
    Effect: 'Deny',
    Principal: { AWS: EDGE },
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::b/inbox/*',
    Condition: { StringNotEquals: { 's3:ExistingObjectTag/GuardDutyMalwareScanStatus': 'NO_THREATS_FOUND' } },
  }],
};

describe('the local bucket policy reads existing object tags', () => {
  const get = (key: string, objectTags?: Record<string, string>) =>
    evaluateBucketPolicy(TBAC, { principalArn: EDGE, action: 's3:GetObject', resource: `arn:aws:s3:::b/${key}`, secureTransport: true, ...(objectTags ? { objectTags } : {}) });

  it('denies an untagged or unclean object under the prefix, and nothing else', () => {
    expect(get('inbox/a.pdf', {})).toBe('deny');
    expect(get('inbox/a.pdf')).toBe('deny');
    expect(get('inbox/a.pdf', { GuardDutyMalwareScanStatus: 'THREATS_FOUND' })).toBe('deny');
    expect(get('inbox/a.pdf', { GuardDutyMalwareScanStatus: 'NO_THREATS_FOUND' })).toBe('none');
    expect(get('reports/a.pdf', {})).toBe('none');
  });

  it('refuses tag conditions it cannot read faithfully', () => {
    expect(() => validateBucketPolicy(TBAC)).not.toThrow();
    const other = { Statement: [{ ...TBAC.Statement[0], Condition: { StringNotEquals: { 'aws:username': 'x' } } }] };
    expect(() => validateBucketPolicy(other)).toThrow(/StringNotEquals s3:ExistingObjectTag/);
  });
});

describe('scanUploads over the local deployment', () => {
  let d: LocalDeployment;
  let admin: S3Client;
  beforeAll(async () => {
    d = await startLocalDeployment({ publicApi: true, uploadKeyPrefixes: ['inbox/'], scanUploads: true, objects: { 'reports/q4.pdf': 'report' } });
    const credentials = { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey };
    admin = new S3Client({ region: d.region, endpoint: d.originUrl, forcePathStyle: true, credentials });
  });
  afterAll(async () => {
    admin?.destroy();
    await d?.close();
  });

  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await http(`${d.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return JSON.parse(res.text()) as { url: string; id: string };
  };
  const upload = async (key: string, body: Buffer) => {
    const link = await post('/uploads', { key });
    const res = await http(link.url, { method: 'PUT', headers: { 'content-type': 'application/pdf', 'content-length': String(body.length) }, body });
    expect(res.status).toBe(201);
  };
  const tag = (key: string, status: string) => admin.send(new PutObjectTaggingCommand({
    Bucket: d.bucket, Key: key, Tagging: { TagSet: [{ Key: 'GuardDutyMalwareScanStatus', Value: status }] },
  }));
  const uses = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;

  it('serves an upload only once it is tagged clean; until then the download link is refused and keeps its use', async () => {
    const body = randomBytes(5000);
    await upload('inbox/scanned.pdf', body);
    const link = await post('/urls', { key: 'inbox/scanned.pdf' });
    const early = await http(link.url);
    expect([early.status, early.text()]).toEqual([403, 'The file cannot be delivered right now (it may still be being checked). Your link was not used up: try again later, or ask the sender.']);
    expect(await uses(link.id)).toBe(0);

    await tag('inbox/scanned.pdf', 'NO_THREATS_FOUND');
    const later = await http(link.url);
    expect(later.status).toBe(200);
    expect(later.body.equals(body)).toBe(true);
    expect(await uses(link.id)).toBe(1);
  });

  it('never serves an upload GuardDuty found infected, and objects outside the upload prefixes are not affected', async () => {
    await upload('inbox/infected.pdf', Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'));
    await tag('inbox/infected.pdf', 'THREATS_FOUND');
    const link = await post('/urls', { key: 'inbox/infected.pdf', maxUses: 1 });
    for (let i = 0; i < 3; i++) expect((await http(link.url)).status).toBe(403);
    expect(await uses(link.id)).toBe(0);
    const report = await post('/urls', { key: 'reports/q4.pdf' });
    expect((await http(report.url)).text()).toBe('report');
  });
});
