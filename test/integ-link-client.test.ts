// test/deployed.integ.ts runs in a real account only. Its moving parts are rehearsed here
// against the local deployment: its client function (SigV4-signed mint, summaries of large
// answers), and integ-tests-alpha's own handler running its download checks, including the
// answer that must fit the 4 KB a custom resource may send back.
import https from 'node:https';
import { join } from 'node:path';
import { ExpectedResult } from '@aws-cdk/integ-tests-alpha';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

interface ClientAnswer { url?: string; id?: string; directUrl?: string; result: string }
type Answer = ClientAnswer & { parsed: Record<string, unknown> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const client = require('./util/integ-link-client.js') as { handler(event: Record<string, unknown>): Promise<ClientAnswer> };

const KEY = 'integ/one-time.txt';
const CONTENT = 'These bytes were downloaded once through a one-time link.\n';
let d: LocalDeployment;

/** Invokes the client as Lambda would: the caller's credentials and the function's environment in process.env. */
async function invoke(event: Record<string, unknown>, secretAccessKey = d.secretAccessKey): Promise<Answer> {
  // The local mint function's containers put their own role session in process.env: set ours last.
  Object.assign(process.env, {
    AWS_REGION: d.region, AWS_ACCESS_KEY_ID: d.accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, MINT_API: d.apiUrl, BUCKET_ORIGIN: d.originUrl,
  });
  delete process.env.AWS_SESSION_TOKEN;
  const answer = await client.handler(event);
  return { ...answer, parsed: JSON.parse(answer.result) as Record<string, unknown> };
}

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { [KEY]: CONTENT } });
});
afterAll(async () => d?.close());

describe('the deployed integ test\'s client function, against the local deployment', () => {
  it('mints through the IAM-authorized API with a SigV4 signature of its own: a one-time link, every request a use', async () => {
    const minted = await invoke({ action: 'mint', key: KEY });
    expect(minted.parsed).toMatchObject({ status: 201, maxUses: 1, downloadWindowSeconds: 0, landingPage: false });
    expect(minted.url).toMatch(new RegExp(`^${d.distributionUrl}/integ/one-time.txt\\?`));
    const first = await http(minted.url!);
    expect([first.status, first.text()]).toEqual([200, CONTENT]);
    expect((await http(minted.url!)).status).toBe(403);
  });

  it('mints an upload link and PUTs a body larger than the 40 KB the edge sees: stored once, then refused', async () => {
    const inbox = await invoke({ action: 'upload-link', key: 'uploads/received.txt' });
    expect(inbox.parsed).toMatchObject({ status: 201, kind: 'upload' });
    const sent = await invoke({ action: 'put', url: inbox.url, size: 100_000 });
    expect(sent.parsed).toEqual({ status: 201, message: 'Upload received: 100000 bytes. You can close this page.' });
    const resent = await invoke({ action: 'put', url: inbox.url, size: 10 });
    expect(resent.parsed).toEqual({ status: 403, message: 'This upload link has already received its file.' });
  });

  it('mints a 2-use link whose third request is refused, as the deployed assertions expect', async () => {
    const minted = await invoke({ action: 'mint', key: KEY, maxUses: 2 });
    expect(minted.parsed).toMatchObject({ status: 201, maxUses: 2, downloadWindowSeconds: 0 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await http(minted.url!)).status);
    expect(statuses).toEqual([200, 200, 403]);
  });

  it('is refused by the API when its signature is wrong, and says so in its result', async () => {
    const refused = await invoke({ action: 'mint', key: KEY }, 'not-the-secret');
    expect([refused.parsed.status, refused.url, refused.directUrl]).toEqual([403, '', '']);
  });

  it('aims the same path and query at the bucket, which refuses it', async () => {
    const minted = await invoke({ action: 'mint', key: KEY });
    const direct = new URL(minted.directUrl!);
    const link = new URL(minted.url!);
    expect([direct.origin, direct.pathname, direct.search]).toEqual([d.originUrl, link.pathname, link.search]);
    const fetched = await invoke({ action: 'fetch', url: minted.directUrl });
    expect(fetched.parsed).toMatchObject({ status: 403, code: expect.any(String) });
  });

  it('opens a landing-page link and answers the page\'s status, type and title', async () => {
    const minted = await invoke({ action: 'mint', key: KEY, landingPage: true });
    expect(minted.parsed).toMatchObject({ status: 201, landingPage: true });
    const opened = await invoke({ action: 'fetch', url: minted.url, headers: { accept: 'text/html' } });
    expect(opened.parsed).toEqual({ status: 200, contentType: 'text/html; charset=utf-8', title: 'A file was shared with you' });
  });
});

describe('the client function presses a passphrase-protected link\'s button', () => {
  it('is refused without the passphrase and with a wrong one, and downloads with the right one', async () => {
    const minted = await invoke({ action: 'mint', key: KEY, passphrase: 'integ passphrase 1' });
    expect(minted.parsed).toMatchObject({ status: 201, landingPage: true, passphraseProtected: true });
    expect((await invoke({ action: 'press', url: minted.url })).parsed).toEqual({ status: 403, message: expect.stringMatching(/needs its passphrase/) });
    expect((await invoke({ action: 'press', url: minted.url, passphrase: 'not the passphrase' })).parsed)
      .toEqual({ status: 403, message: 'Wrong passphrase. Nothing was spent. 4 tries left before the link locks.' });
    const pressed = await invoke({ action: 'press', url: minted.url, passphrase: 'integ passphrase 1' });
    expect(pressed.parsed).toEqual({ status: 303, message: '', download: { status: 200, body: CONTENT } });
  });
});

describe('integ-tests-alpha\'s handler runs the download checks as deployed', () => {
  // The handler the assertion stack deploys. It answers CloudFormation with an HTTPS PUT to the
  // event's ResponseURL: capture that answer instead.
  const bundle = join(require.resolve('@aws-cdk/integ-tests-alpha'), '..', 'assertions', 'providers', 'lambda-handler.bundle', 'index.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const provider = require(bundle) as { handler(event: unknown, context: unknown): Promise<void> };
  interface CfnAnswer { Status: string; Reason: string; Data?: Record<string, unknown> }
  let answers: string[];
  let put: jest.SpyInstance;
  let logs: jest.SpyInstance[];

  beforeAll(() => {
    put = jest.spyOn(https, 'request').mockImplementation(((_options: unknown, done?: () => void) => ({
      on: () => undefined,
      write: (body: string) => { answers.push(body); },
      end: () => done?.(),
    })) as unknown as typeof https.request);
    logs = [jest.spyOn(console, 'log').mockImplementation(() => undefined), jest.spyOn(console, 'info').mockImplementation(() => undefined)];
  });
  afterAll(() => [put, ...logs].forEach((s) => s?.mockRestore()));

  async function run(resourceType: string, properties: Record<string, unknown>): Promise<{ answer: CfnAnswer; bytes: number }> {
    answers = [];
    const event = {
      RequestType: 'Create',
      ResourceType: resourceType,
      ResponseURL: 'https://cloudformation-custom-resource-response.example/answer',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/OtpIntegDeployedAssertions/00000000-0000-0000-0000-000000000000',
      RequestId: '00000000-0000-0000-0000-000000000000',
      LogicalResourceId: 'Check',
      ResourceProperties: { ServiceToken: 'arn', ...properties },
    };
    await provider.handler(event, { getRemainingTimeInMillis: () => 60_000, logStreamName: 'local' });
    expect(answers).toHaveLength(1);
    return { answer: JSON.parse(answers[0]) as CfnAnswer, bytes: Buffer.byteLength(answers[0]) };
  }

  /** An httpApiCall with its own expect(), then the EqualsAssertion that makes its verdict binding. */
  async function download(url: string, expected: Record<string, unknown>) {
    const call = await run('Custom::DeployAssert@HttpCall', {
      parameters: { url }, expected: ExpectedResult.objectLike(expected).result, flattenResponse: 'false', salt: 'fixed',
    });
    expect(call.answer.Status).toBe('SUCCESS');
    const binding = await run('Custom::DeployAssert@AssertEquals', {
      actual: call.answer.Data!.assertion, expected: ExpectedResult.objectLike({ status: 'success' }).result, failDeployment: true, salt: 'fixed',
    });
    return { call, binding };
  }

  it('passes the first download and the refused second one, each answer well within 4 KB', async () => {
    const minted = await invoke({ action: 'mint', key: KEY });
    const first = await download(minted.url!, { status: 200, body: CONTENT });
    expect([first.call.answer.Data!.assertion, first.binding.answer.Status]).toEqual(['{"status":"success"}', 'SUCCESS']);
    const second = await download(minted.url!, { status: 403 });
    expect([second.call.answer.Data!.assertion, second.binding.answer.Status]).toEqual(['{"status":"success"}', 'SUCCESS']);
    // About 800 bytes here. CloudFront adds headers the local one may not (via, x-amz-cf-pop, x-amz-cf-id,
    // x-cache, the response headers policy's): well under 1 KB more.
    expect(Math.max(first.call.bytes, second.call.bytes)).toBeLessThan(3000);
  });

  it('fails the deployment, saying why, when a download is not what the check expects', async () => {
    const minted = await invoke({ action: 'mint', key: KEY });
    expect((await http(minted.url!)).status).toBe(200);
    const replay = await download(minted.url!, { status: 200, body: CONTENT });
    expect(replay.binding.answer.Status).toBe('FAILED');
    expect(replay.binding.answer.Reason).toMatch(/Expected 200 but received 403/);
  });
});
