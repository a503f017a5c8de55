// The mint's signing rule for key pairs held in Secrets Manager (the dedicated key, or one
// you bring with LinkSigning.fromSecret), read from the local Secrets Manager: a long-term
// key signs any lifetime; temporary credentials sign only links that end before they do.
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { startAwsJsonServices, type LocalAwsJson } from '../local/servers';
import { LinkSigner, SigningUnavailable } from '../src/handlers/signing';
import { SigningMode } from '../src/shared/config';

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

function signer(): LinkSigner {
  return new LinkSigner(
    { mode: SigningMode.KEY_SECRET, secretArn: SECRET, sessionSeconds: 3600, marginSeconds: 60 },
    { secrets: client, sts: () => { throw new Error('key-secret mode never calls STS'); } },
    () => { throw new Error('key-secret mode never signs with the function\'s credentials'); },
  );
}
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
