// The mint's signing rule for key pairs held in Secrets Manager (the dedicated key, or one
// you bring with LinkSigning.fromSecret), read from the local Secrets Manager: a long-term
// key signs any lifetime; temporary credentials sign only links that end before they do.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { LocalIdentities, startAwsJsonServices, startSts, type LocalAwsJson } from '../local/servers';
import { LinkSigner, SigningUnavailable } from '../src/handlers/signing';
import { SIGNER_ROLE_MAX_LINK_SECONDS, SigningMode } from '../src/shared/config';

const REGION = 'eu-west-1';
const SECRET = 'otp-test-signing-key';
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

let sm: LocalAwsJson;
let client: SecretsManagerClient;
beforeAll(async () => {
  sm = await startAwsJsonServices({ region: REGION });
  client = new SecretsManagerClient({ region: REGION, endpoint: sm.endpoint, credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' } });
});
afterAll(async () => {
  client.destroy();
  await sm.close();
});

function signer(clock: () => number = Date.now): LinkSigner {
  return new LinkSigner(
    { mode: SigningMode.KEY_SECRET, secretArn: SECRET, sessionSeconds: 3600, marginSeconds: 60 },
    { secrets: client, sts: () => { throw new Error('key-secret mode never calls STS'); } },
    () => { throw new Error('key-secret mode never signs with the function\'s credentials'); },
    clock,
  );
}
const pair = (accessKeyId: string, extra: Record<string, string> = {}) =>
  JSON.stringify({ accessKeyId, secretAccessKey: SECRET_ACCESS_KEY, ...extra });
const now = () => Math.floor(Date.now() / 1000);
const failure = (p: Promise<unknown>) => p.then(() => 'signed', (e: Error) => `${e.name}: ${e.message}`);

it('signs any lifetime up to 7 days with a long-term key, reading the secret once', async () => {
  sm.setSecret(SECRET, JSON.stringify({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET_ACCESS_KEY }));
  const reads = sm.calls.get('GetSecretValue');
  const s = signer();
  expect(await s.credentialsFor(604_800, now())).toEqual({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: SECRET_ACCESS_KEY });
  await s.credentialsFor(60, now());
  expect(sm.calls.get('GetSecretValue') - reads).toBe(1);
});

it('signs with temporary credentials only links that end a margin before they do', async () => {
  const expiration = new Date(Date.now() + 600_000).toISOString();
  sm.setSecret(SECRET, JSON.stringify({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: SECRET_ACCESS_KEY, sessionToken: 'token+/=', expiration }));
  const s = signer();
  expect(await s.credentialsFor(300, now())).toMatchObject({ sessionToken: 'token+/=', expiration: new Date(expiration) });
  expect(await failure(s.credentialsFor(560, now()))).toMatch(/^SigningUnavailable: the signing credentials \(key-secret\) end at .* before a 560-second link would/);
});

it('refuses temporary credentials that do not say when they end', async () => {
  sm.setSecret(SECRET, JSON.stringify({ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: SECRET_ACCESS_KEY, sessionToken: 'token' }));
  const err = await signer().credentialsFor(60, now()).catch((e: Error) => e);
  expect(err).toBeInstanceOf(SigningUnavailable);
  expect((err as Error).message).toMatch(/are temporary and do not say when they end/);
});

it.each([
  ['not JSON', `secretAccessKey=${SECRET_ACCESS_KEY}`],
  ['a missing secret key', JSON.stringify({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE' })],
  ['a number for a key id', JSON.stringify({ accessKeyId: 7, secretAccessKey: SECRET_ACCESS_KEY })],
])('refuses a secret holding %s, without quoting it', async (_name, value) => {
  sm.setSecret(SECRET, value);
  const message = await failure(signer().credentialsFor(60, now()));
  expect(message).toBe('Error: the signing secret must be a JSON object with string fields accessKeyId and secretAccessKey');
  expect(message).not.toContain(SECRET_ACCESS_KEY);
});

it('signs with the function\'s own credentials only when they say when they end', async () => {
  const own = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }) => new LinkSigner(
    { mode: SigningMode.FUNCTION_ROLE, sessionSeconds: 3600, marginSeconds: 60 },
    { secrets: client, sts: () => new STSClient({ region: REGION }) },
    async () => credentials,
  );
  expect(await failure(own({ accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' }).credentialsFor(60, now())))
    .toMatch(/^SigningUnavailable: .*function-role.*do not say when they end/);
  expect(await failure(own({ accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't', expiration: new Date(Date.now() + 3600_000) }).credentialsFor(60, now())))
    .toBe('signed');
});

describe('re-reading the key pair', () => {
  let clock = Date.now();
  const tick = (ms: number) => { clock += ms; };
  afterEach(() => sm.fault.clear());

  it('picks up a key rotated in place in the secret within five minutes, reading it once per five minutes', async () => {
    sm.setSecret(SECRET, pair('AKIAOLDKEYEXAMPLE0001'));
    const s = signer(() => clock);
    const reads = sm.calls.get('GetSecretValue');
    expect((await s.credentialsFor(60, now())).accessKeyId).toBe('AKIAOLDKEYEXAMPLE0001');
    sm.setSecret(SECRET, pair('AKIANEWKEYEXAMPLE0002'));
    tick(4 * 60_000);
    expect((await s.credentialsFor(60, now())).accessKeyId).toBe('AKIAOLDKEYEXAMPLE0001');
    tick(60_001);
    expect((await s.credentialsFor(60, now())).accessKeyId).toBe('AKIANEWKEYEXAMPLE0002');
    expect(sm.calls.get('GetSecretValue') - reads).toBe(2);
  });

  it('keeps signing with the pair it has when a re-read fails, for fifteen minutes past its due time', async () => {
    sm.setSecret(SECRET, pair('AKIAOLDKEYEXAMPLE0001'));
    const s = signer(() => clock);
    await s.credentialsFor(60, now());
    sm.fault.set({ mode: 'error', operations: ['GetSecretValue'] });
    tick(5 * 60_000 + 1);
    expect((await s.credentialsFor(60, now())).accessKeyId).toBe('AKIAOLDKEYEXAMPLE0001');
    tick(15 * 60_000);
    expect(await failure(s.credentialsFor(60, now()))).toMatch(/^InternalServerError/);
  });

  it('reads the secret again before refusing temporary credentials that became too short', async () => {
    sm.setSecret(SECRET, pair('ASIAOLDSESSION000001', { sessionToken: 'old', expiration: new Date(Date.now() + 120_000).toISOString() }));
    const s = signer(() => clock);
    expect((await s.credentialsFor(30, now())).accessKeyId).toBe('ASIAOLDSESSION000001');
    // Whoever keeps the secret has put fresh credentials in it since.
    sm.setSecret(SECRET, pair('ASIANEWSESSION000002', { sessionToken: 'new', expiration: new Date(Date.now() + 3_600_000).toISOString() }));
    expect((await s.credentialsFor(600, now())).accessKeyId).toBe('ASIANEWSESSION000002');
  });
});

describe('a signer role', () => {
  it('assumes the role once for concurrent requests, and a session signs the longest links for nine minutes, not once', async () => {
    const identities = new LocalIdentities();
    const mintRole = identities.createRole('mint');
    const signerRole = identities.createRole('signer', { trusted: [mintRole] });
    const sts = await startSts({ region: REGION, identities });
    const mintSession = identities.createSession(mintRole, 3600);
    const stsClient = new STSClient({ region: REGION, endpoint: sts.endpoint, credentials: mintSession });
    try {
      const s = new LinkSigner(
        { mode: SigningMode.SIGNER_ROLE, roleArn: signerRole, sessionSeconds: 3600, marginSeconds: 60 },
        { secrets: client, sts: () => stsClient },
        () => { throw new Error('signer-role mode never signs with the function\'s credentials'); },
      );
      const concurrent = await Promise.all([1, 2, 3, 4, 5].map(() => s.credentialsFor(SIGNER_ROLE_MAX_LINK_SECONDS, now())));
      expect(new Set(concurrent.map((c) => c.accessKeyId)).size).toBe(1);
      expect(sts.calls.get('AssumeRole')).toBe(1);
      // Nine minutes later the same session still outlives a longest link by the margin.
      const later = await s.credentialsFor(SIGNER_ROLE_MAX_LINK_SECONDS, now() + 9 * 60);
      expect([later.accessKeyId, sts.calls.get('AssumeRole')]).toEqual([concurrent[0].accessKeyId, 1]);
      // (Renewal once a session is too short runs with real, compressed sessions in
      // test/signing-lifetimes.test.ts.)
    } finally {
      stsClient.destroy();
      await sts.close();
    }
  });
});
