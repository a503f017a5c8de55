// Links live exactly as long as they say. Over the local deployment with a compressed clock
// (role sessions of a few seconds that really end: the local S3 and STS answer ExpiredToken
// afterwards), each signing mode is driven as a client would: links are downloaded after
// the session that minted them has ended, just before their expiresAt, and just after.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment, type LocalDeploymentOptions } from '../local/deployment';
import { http, rawPathOf } from './util/http';
import { ORIGIN_VERIFY_HEADER } from '../src/shared/link';

const KEY = 'reports/q4.pdf';
const CONTENT = Buffer.from('bytes that must arrive whole, however long the link lives\n'.repeat(40));

interface Minted { url: string; id: string; expiresAt: string }

let d: LocalDeployment;

async function start(opts: LocalDeploymentOptions): Promise<void> {
  // Every request is a use: a download window would let a client's repeat requests through without S3.
  d = await startLocalDeployment({ objects: { [KEY]: CONTENT }, downloadWindowSeconds: 0, maxExpiresSeconds: 3600, ...opts });
}

function mintRequest(body: Record<string, unknown>) {
  return callApi(`${d.apiUrl}/urls`, d.region, d, { method: 'POST', body: JSON.stringify({ key: KEY, ...body }) });
}

async function mint(body: Record<string, unknown>): Promise<Minted> {
  const res = await mintRequest(body);
  expect([res.status, res.body]).toEqual([201, expect.any(String)]);
  return res.json<Minted>();
}

const param = (url: string, name: string) => new URL(url).searchParams.get(name);
const signedAt = (url: string) => Date.parse(param(url, 'X-Amz-Date')!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
const signingKeyOf = (url: string) => param(url, 'X-Amz-Credential')!.split('/')[0];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Downloads through the local CloudFront, as a recipient does. */
async function download(url: string): Promise<{ status: number; body: Buffer }> {
  const res = await http(url);
  return { status: res.status, body: res.body };
}

describe('LinkSigning.dedicatedKey(): links outlive the function session that minted them', () => {
  beforeAll(() => start({ signing: 'dedicated-key', sessionSeconds: 2 }));
  afterAll(async () => d?.close());

  it('a 6-second link minted by a function whose session ends within 2 seconds works until its expiresAt, and not a second longer', async () => {
    const link = await mint({ expiresInSeconds: 6, maxUses: 3 });
    const minted = Date.now();
    // expiresAt is exactly what was asked, and what the signature says.
    const expiresAt = Date.parse(link.expiresAt);
    expect(expiresAt - signedAt(link.url)).toBe(6000);
    expect(param(link.url, 'X-Amz-Expires')).toBe('6');
    // Signed with the dedicated user's long-term key: no session token to run out.
    expect(param(link.url, 'X-Amz-Security-Token')).toBeNull();
    expect(d.identities.find(signingKeyOf(link.url))?.principalArn).toMatch(/:user\/otp-local-signer-gen1$/);

    // The session of the container that minted it ends within 2 seconds of the mint.
    await sleep(minted + 2300 - Date.now());
    const afterSession = await download(link.url);
    expect([afterSession.status, afterSession.body.equals(CONTENT)]).toEqual([200, true]);

    // Shortly before the end (a loaded CI machine may take a second over the request).
    await sleep(expiresAt - 1500 - Date.now());
    const lastMoment = await download(link.url);
    expect([lastMoment.status, lastMoment.body.equals(CONTENT)]).toEqual([200, true]);

    await sleep(expiresAt + 1000 - Date.now());
    expect((await download(link.url)).status).toBe(403);
    // Not only the edge: the signature itself has ended. Sent straight to the origin with
    // everything CloudFront adds, S3 refuses it as expired.
    const origin = await http(`${d.originUrl}${rawPathOf(link.url)}`, {
      headers: { host: d.originHost, [ORIGIN_VERIFY_HEADER]: d.originSecret, referer: d.refererSecret },
    });
    expect([origin.status, origin.text()]).toEqual([403, expect.stringContaining('<Message>Request has expired</Message>')]);
  });

  it('mints across the function\'s credential refreshes: every link works', async () => {
    const containersBefore = d.mintContainers();
    const links: Minted[] = [];
    for (let i = 0; i < 8; i++) {
      links.push(await mint({ expiresInSeconds: 60 }));
      await sleep(400);
    }
    // 3.2 seconds of minting with 2-second sessions: containers were replaced on the way.
    expect(d.mintContainers() - containersBefore).toBeGreaterThanOrEqual(2);
    const results = await Promise.all(links.map((l) => download(l.url)));
    expect(results.map((r) => [r.status, r.body.equals(CONTENT)])).toEqual(links.map(() => [200, true]));
  });

  it('never lets the function role read objects itself: it only signs through the key', async () => {
    // The mint role holds no s3:GetObject; a URL it signed would be refused by S3.
    const session = d.identities.createSession('arn:aws:iam::123456789012:role/otp-local-mint', 60);
    const s3 = new S3Client({ region: d.region, endpoint: d.originUrl, forcePathStyle: true, credentials: session });
    try {
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: d.bucket, Key: KEY }), { expiresIn: 60 });
      const res = await http(url);
      expect([res.status, res.text()]).toEqual([403, expect.stringContaining('<Code>AccessDenied</Code>')]);
    } finally {
      s3.destroy();
    }
  });
});

describe('signing with the function\'s own role: its end is unknowable, so no link is issued', () => {
  beforeAll(() => start({ signing: 'function-role', sessionSeconds: 2 }));
  afterAll(async () => d?.close());

  it.each([6, 1])('refuses a %i-second link at mint with 503 and a reason, writing nothing', async (expiresInSeconds) => {
    const writes = d.services.dynamodb.calls.get('PutItem');
    const res = await mintRequest({ expiresInSeconds });
    expect(res.status).toBe(503);
    expect(res.json<{ error: string }>().error).toMatch(/signing credentials \(function-role\) are temporary and do not say when they end.*no link was issued/);
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
  });
});

describe('LinkSigning.signerRole(): sessions with a known end, renewed before they are too short', () => {
  beforeAll(() => start({ signing: 'signer-role', sessionSeconds: 6, signingMarginSeconds: 1 }));
  afterAll(async () => d?.close());

  it('mints links across session renewals, and each works just before its expiresAt', async () => {
    const assumed = d.services.sts.calls.get('AssumeRole');
    const links: Minted[] = [];
    for (let i = 0; i < 12; i++) {
      links.push(await mint({ expiresInSeconds: 2 }));
      await sleep(500);
    }
    // Six seconds of minting 2-second links with 6-second sessions that must outlive each link by a second.
    expect(d.services.sts.calls.get('AssumeRole') - assumed).toBeGreaterThanOrEqual(2);
    expect(new Set(links.map((l) => signingKeyOf(l.url))).size).toBeGreaterThanOrEqual(2);
    for (const link of links) {
      // Each link carries its session's token, and the session outlives it by the margin.
      const session = d.identities.find(signingKeyOf(link.url))!;
      expect(param(link.url, 'X-Amz-Security-Token')).toBe(session.sessionToken);
      expect(session.sessionEndsAt! - Date.parse(link.expiresAt)).toBeGreaterThanOrEqual(1000);
    }
    // The earlier links have expired by now; mint fresh ones and use each at its last moment.
    const late = await Promise.all([0, 1, 2, 3].map(async (i) => {
      await sleep(i * 1500);
      const link = await mint({ expiresInSeconds: 3 });
      await sleep(Date.parse(link.expiresAt) - 1200 - Date.now());
      return download(link.url);
    }));
    expect(late.map((r) => [r.status, r.body.equals(CONTENT)])).toEqual(late.map(() => [200, true]));
  });

  it('refuses at mint a lifetime its sessions cannot cover, after trying a fresh session, writing nothing', async () => {
    const writes = d.services.dynamodb.calls.get('PutItem');
    const assumed = d.services.sts.calls.get('AssumeRole');
    // Not 6 seconds: a link's expiresAt counts from the whole second the mint started in, so a
    // fresh 6-second session that a slow AssumeRole ends after the next whole second does cover a
    // 6-second link with its margin (a loaded machine issued one). No 6-second session covers 10.
    const res = await mintRequest({ expiresInSeconds: 10 });
    expect(res.status).toBe(503);
    expect(res.json<{ error: string }>().error).toMatch(/signing credentials \(signer-role\) end at .* before a 10-second link would \(with a 1-second margin\): no link was issued/);
    expect(d.services.sts.calls.get('AssumeRole') - assumed).toBe(1);
    expect(d.services.dynamodb.calls.get('PutItem')).toBe(writes);
  });
});

describe('rotating the dedicated key (keyGeneration)', () => {
  beforeAll(() => start({ signing: 'dedicated-key' }));
  afterAll(async () => d?.close());

  it('signs new links with the new key while links already issued keep working, until the old key is retired', async () => {
    const before = await mint({ maxUses: 3 });
    expect((await download(before.url)).status).toBe(200);

    // Step 1: raise keyGeneration and deploy.
    const newKey = d.rotateSigningKey();
    const after = await mint({ maxUses: 2 });
    expect(signingKeyOf(after.url)).toBe(newKey);
    expect(signingKeyOf(before.url)).not.toBe(newKey);
    // Outstanding links keep working: the previous key stays.
    expect((await download(before.url)).status).toBe(200);
    expect((await download(after.url)).status).toBe(200);

    // Step 2, once maxLinkLifetime has passed: keepPreviousKey: false retires the old key.
    d.retirePreviousSigningKey();
    expect((await download(after.url)).status).toBe(200);
    // Which is why step 2 waits: a link the old key signed dies with it, and the viewer
    // sees neither S3's error code nor the key id.
    const orphan = await download(before.url);
    expect(orphan.status).toBe(403);
    expect(orphan.body.toString()).not.toMatch(/InvalidAccessKeyId|AKIA/);
  });
});

describe('the local S3 and STS tell the truth about ended sessions', () => {
  beforeAll(() => start({ signing: 'signer-role' }));
  afterAll(async () => d?.close());

  it('S3 answers a URL signed by an ended session with 400 ExpiredToken, as S3 words it', async () => {
    const reader = d.identities.createRole('reader', { readPrefixes: [''] });
    const session = d.identities.createSession(reader, 3);
    const s3 = new S3Client({ region: d.region, endpoint: d.originUrl, forcePathStyle: true, credentials: session });
    try {
      // Valid for an hour by X-Amz-Expires, but its session ends in three seconds.
      const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: d.bucket, Key: KEY }), { expiresIn: 3600 });
      // The bucket policy of a bucket the construct owns wants CloudFront's Referer (the local
      // S3 asks it of every reader), so send it: only the session's end is under test.
      const headers = { referer: d.refererSecret };
      expect((await http(url, { headers })).status).toBe(200);
      await sleep(session.sessionEndsAt + 100 - Date.now());
      const res = await http(url, { headers });
      expect(res.status).toBe(400);
      expect(res.text()).toMatch(new RegExp(
        '^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message>'
        + `<Token-0>${session.sessionToken.replace(/[+/]/g, (c) => `\\${c}`)}</Token-0><RequestId>`,
      ));
    } finally {
      s3.destroy();
    }
  });

  it('STS checks the trust policy, the role-chaining limit and the caller\'s own session', async () => {
    const sts = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      new STSClient({ region: d.region, endpoint: d.services.sts.endpoint, credentials });
    const signer = 'arn:aws:iam::123456789012:role/otp-local-signer';
    const failure = (p: Promise<unknown>) => p.then(() => 'succeeded', (e: Error & { $metadata?: { httpStatusCode?: number } }) =>
      `${e.$metadata?.httpStatusCode} ${e.name}: ${e.message}`);

    // The administrator is not in the signer role's trust policy.
    expect(await failure(sts(d).send(new AssumeRoleCommand({ RoleArn: signer, RoleSessionName: 'admin' })))).toBe(
      `403 AccessDenied: User: arn:aws:iam::123456789012:user/otp-local-admin is not authorized to perform: sts:AssumeRole on resource: ${signer}`);

    const mintSession = d.identities.createSession('arn:aws:iam::123456789012:role/otp-local-mint', 4);
    const asMint = sts(mintSession);
    const ok = await asMint.send(new AssumeRoleCommand({ RoleArn: signer, RoleSessionName: 'otp-link-signer', DurationSeconds: 3600 }));
    expect(ok.Credentials?.SessionToken).toMatch(/^IQoJ/);
    expect(ok.Credentials!.Expiration!.getTime() - Date.now()).toBeGreaterThan(3590_000);
    expect(await failure(asMint.send(new AssumeRoleCommand({ RoleArn: signer, RoleSessionName: 'otp-link-signer', DurationSeconds: 7200 })))).toBe(
      '400 ValidationError: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    expect(await failure(asMint.send(new AssumeRoleCommand({ RoleArn: signer, RoleSessionName: 'otp-link-signer', DurationSeconds: 60 }))))
      .toMatch(/^400 ValidationError: .*Member must have value greater than or equal to 900$/);
    await sleep(mintSession.sessionEndsAt + 100 - Date.now());
    expect(await failure(asMint.send(new AssumeRoleCommand({ RoleArn: signer, RoleSessionName: 'otp-link-signer' })))).toBe(
      '400 ExpiredToken: The security token included in the request is expired');
  });
});
