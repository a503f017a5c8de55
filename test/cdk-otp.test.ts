// `cdk-otp`, the package's bin, as a user runs it: the built bundle in a child process,
// against the local deployment's IAM-authorized links API, with credentials from the
// SDK's default chain. A counting server stands in for the API where the test proves
// that nothing was sent.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DEFAULT_CALLER_ARN } from '../local/api-auth';
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';
import { parseInvocation } from '../src/cli/cdk-otp';
import { isLinkId } from '../src/shared/link';

const ROOT = join(__dirname, '..');
const BIN = join(ROOT, 'assets', 'cli', 'cdk-otp', 'index.js');
const CONTENT = 'quarterly numbers\n';
const UNKNOWN_ID = 'AAAAAAAAAAAAAAAAAAAAAA';

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string; readonly ms: number }

let d: LocalDeployment;
let tmp: string;
/** Requests that reached the counting server. */
let counted: Array<{ method?: string; url?: string; authorization?: string }>;
let counter: Server;
let counterUrl: string;
/** What the counting server answers (API Gateway's own bodies are `{"message"}`). */
let counterAnswer: { status: number; body: unknown };

/**
 * A clean environment: no inherited AWS variables, empty shared config and credentials
 * files, no instance metadata, a home of its own. `extra` adds what a case needs.
 */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: tmp,
    AWS_CONFIG_FILE: join(tmp, 'empty-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'empty-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

/** The local deployment's credentials, as a user would export them. */
function localEnv(extra: Record<string, string> = {}): Record<string, string> {
  return cleanEnv({
    OTP_API_URL: d.apiUrl,
    AWS_REGION: d.region,
    AWS_ACCESS_KEY_ID: d.accessKeyId,
    AWS_SECRET_ACCESS_KEY: d.secretAccessKey,
    ...extra,
  });
}

async function cdkOtp(args: string[], env: Record<string, string>, nodeArgs: string[] = [], input?: string): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr, ms: Date.now() - started };
}

const jsonOf = <T = Record<string, unknown>>(run: Run): T => JSON.parse(run.stdout) as T;

/** Mints a link through the local API, signed as a backend signs (no CLI process). */
async function mintLink(key = 'reports/q4.pdf'): Promise<{ url: string; id: string }> {
  const res = await callApi(`${d.apiUrl}/urls`, d.region, { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey }, {
    method: 'POST', body: JSON.stringify({ key, maxUses: 2 }),
  });
  if (res.status !== 201) throw new Error(`mint answered ${res.status}: ${res.body}`);
  return res.json<{ url: string; id: string }>();
}

/**
 * Stores a copy of a minted link's ledger item under another id: a link as an earlier mint
 * could have issued it (ids beginning with `-` were 1 in 64 until the mint stopped issuing
 * them), so the CLI can be tried on every id shape without waiting for one to come up.
 */
async function ledgerCopy(mintedId: string, id: string): Promise<void> {
  if (!isLinkId(id)) throw new Error(`not a link id: ${id}`);
  const client = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint });
  try {
    const item = (await client.send(new GetItemCommand({ TableName: d.tableName, Key: { id: { S: mintedId } }, ConsistentRead: true }))).Item;
    if (!item) throw new Error(`no ledger item for ${mintedId}`);
    await client.send(new PutItemCommand({ TableName: d.tableName, Item: { ...item, id: { S: id } }, ConditionExpression: 'attribute_not_exists(id)' }));
  } finally {
    client.destroy();
  }
}

/** Ids of every shape a command line might misread, built from a minted id's last characters. */
function edgeIds(mintedId: string): string[] {
  const tail = (n: number) => mintedId.slice(22 - n);
  return [
    `-${tail(21)}`, // the option `-` + letters
    `-p${tail(20)}`, // `cdk-otp revoke -pT-KZx...` read as the option -p
    `-h${tail(20)}`, // would be -h, help
    `--${tail(20)}`, // a long option
    `--api-${tail(16)}`, // looks like the option --api
    `_${tail(21)}`, // not an option, but a character tests never saw for sure
  ];
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npx projen bundle\` first`);
  tmp = mkdtempSync(join(tmpdir(), 'otp-cdk-otp-'));
  writeFileSync(join(tmp, 'empty-config'), '');
  writeFileSync(join(tmp, 'empty-credentials'), '');
  d = await startLocalDeployment({
    mintAuth: 'iam',
    manageAuth: 'iam',
    objects: { 'reports/q4.pdf': CONTENT, 'private/secret.txt': 'no' },
    allowedKeyPrefixes: ['reports/'],
  });
  counted = [];
  counter = createServer((req: IncomingMessage, res) => {
    counted.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    req.resume();
    res.writeHead(counterAnswer.status, { 'content-type': 'application/json' }).end(JSON.stringify(counterAnswer.body));
  });
  counter.listen(0, '127.0.0.1');
  await once(counter, 'listening');
  counterUrl = `http://127.0.0.1:${(counter.address() as AddressInfo).port}`;
});

afterAll(async () => {
  counter?.close();
  await d?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  counted.length = 0;
  counterAnswer = { status: 503, body: { message: 'Service Unavailable' } };
});

describe('cdk-otp --help', () => {
  it('documents every command, option, environment variable and exit code', async () => {
    const run = await cdkOtp(['--help'], cleanEnv());
    expect([run.code, run.stderr]).toEqual([0, '']);
    for (const text of ['mint <key>', 'upload-link <key>', 'status <id>', 'revoke <id>', 'POST /urls', 'POST /uploads', 'GET /urls/{id}', 'DELETE /urls/{id}',
      '--api URL', '--region REGION', '--profile NAME', 'OTP_API_URL', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE',
      'AWS_ACCESS_KEY_ID', 'AWS_EC2_METADATA_DISABLED', 'plain http only to a loopback host: 127.0.0.0/8']) {
      expect([text, run.stdout.includes(text)]).toEqual([text, true]);
    }
    expect(run.stdout).toMatch(/^ {2}0 {2}success/m);
    expect(run.stdout).toMatch(/^ {2}1 {2}other failure: network error, timeout, server error \(5xx\)/m);
    expect(run.stdout).toMatch(/^ {2}2 {2}bad usage or bad input[\s\S]*a plain http API URL to a host that is not loopback/m);
    expect(run.stdout).toMatch(/^ {2}3 {2}no credentials/m);
    expect(run.stdout).toMatch(/^ {2}4 {2}refused \(401\/403\)/m);
    expect(run.stdout).toMatch(/^ {2}5 {2}not found \(404\)/m);
  });

  it('has a page per command, also as `cdk-otp help <command>`', async () => {
    const mint = await cdkOtp(['mint', '--help'], cleanEnv());
    expect(mint.code).toBe(0);
    expect(mint.stdout).toMatch(/^usage: cdk-otp mint <key> \[--expires SECONDS\] \[--max-uses N\] \[--download-window SECONDS\]/);
    for (const flag of ['--expires SECONDS', '--max-uses N', '--download-window SECONDS', '--landing-page', '--no-landing-page', '4  refused']) {
      expect([flag, mint.stdout.includes(flag)]).toEqual([flag, true]);
    }
    const status = await cdkOtp(['status', '--help'], cleanEnv());
    expect(status.stdout).toMatch(/^usage: cdk-otp status <id> \[options\]\n {7}cdk-otp status \[options\] -- <id>\n/);
    expect(status.stdout).toContain('An id that begins\nwith - (as some minted by earlier versions do) is taken as the id, not as an option;');
    expect((await cdkOtp(['help', 'status'], cleanEnv())).stdout).toBe(status.stdout);
    expect((await cdkOtp(['revoke', '-h'], cleanEnv())).stdout).toMatch(/^usage: cdk-otp revoke <id>[\s\S]*\{"id","revoked":true\}/);
    const upload = await cdkOtp(['help', 'upload-link'], cleanEnv());
    expect(upload.stdout).toMatch(/^usage: cdk-otp upload-link <key> \[--max-bytes N\] \[--content-type TYPE\] \[--expires SECONDS\]\n {31}\[--landing-page \| --no-landing-page\] \[options\]\n/);
    for (const text of ['POST /uploads', 'curl -T FILE URL', '--max-bytes N', '--content-type TYPE', '--expires SECONDS', '--no-landing-page', '4  refused']) {
      expect([text, upload.stdout.includes(text)]).toEqual([text, true]);
    }
  });

  it('is an executable file that starts with a node shebang', () => {
    // Whoever may read it may execute it. The bundle task's `chmod +x` honours the umask, so
    // the exact mode is the builder's (755 under umask 022, 750 under 027, 700 under 077);
    // `npm pack` then sets every execute bit of a bin (pacote's tar-create-options), and the
    // consumer test runs the installed bin.
    const [owner, group, others] = (statSync(BIN).mode % 0o1000).toString(8).padStart(3, '0').split('').map(Number);
    const executable = (digit: number) => digit % 2 === 1;
    expect(['owner', executable(owner)]).toEqual(['owner', true]);
    for (const [who, digit] of [['group', group], ['others', others]] as const) {
      // Readable (4 set) implies executable (1 set).
      expect([who, digit < 4 || executable(digit)]).toEqual([who, true]);
    }
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});

describe('cdk-otp against the local links API', () => {
  it('mints a link whose URL downloads exactly once through the local CloudFront, and reports its status', async () => {
    const minted = await cdkOtp(['mint', 'reports/q4.pdf', '--expires', '600', '--max-uses', '1'], localEnv());
    expect([minted.code, minted.stderr]).toEqual([0, '']);
    const link = jsonOf<{ url: string; id: string; expiresAt: string }>(minted);
    expect(link).toEqual({
      url: expect.stringMatching(new RegExp(`^${d.distributionUrl}/reports/q4\\.pdf\\?x-link-id=${link.id}&`)),
      id: expect.stringMatching(/^[\w-]{22}$/),
      expiresAt: expect.any(String),
      maxUses: 1,
      downloadWindowSeconds: 1800,
      landingPage: false,
      passphraseProtected: false,
    });
    const lifetime = Date.parse(link.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(590_000);
    expect(lifetime).toBeLessThanOrEqual(600_000);

    const status = await cdkOtp(['status', link.id], localEnv());
    expect([status.code, status.stderr]).toEqual([0, '']);
    expect(jsonOf(status)).toEqual({
      id: link.id, key: 'reports/q4.pdf', maxUses: 1, uses: 0, expiresAt: link.expiresAt, revoked: false, size: CONTENT.length, redemptions: [], owner: `iam:${DEFAULT_CALLER_ARN}`,
    });

    const first = await http(link.url);
    expect([first.status, first.text()]).toEqual([200, CONTENT]);
    // Anyone else is refused (the downloading client's own session may continue it).
    expect((await http(link.url, { headers: { 'user-agent': 'someone-else' } })).status).toBe(403);
    const used = jsonOf<{ uses: number; redemptions: Array<{ ip: string }> }>(await cdkOtp(['status', link.id], localEnv()));
    expect([used.uses, used.redemptions.map((r) => r.ip)]).toEqual([1, ['127.0.0.1']]);
  });

  it('revokes a link: status shows it revoked and the next download is refused', async () => {
    // --api given as a flag (with a trailing slash) instead of OTP_API_URL.
    const env = localEnv({ OTP_API_URL: 'http://127.0.0.1:1' });
    const link = jsonOf<{ url: string; id: string }>(await cdkOtp(['mint', 'reports/q4.pdf', '--max-uses', '3', '--api', `${d.apiUrl}/`], env));
    expect((await http(link.url)).status).toBe(200);

    const revoked = await cdkOtp(['revoke', link.id, '--api', d.apiUrl], env);
    expect([revoked.code, revoked.stdout, revoked.stderr]).toEqual([0, `{"id":"${link.id}","revoked":true}\n`, '']);
    expect(jsonOf(await cdkOtp(['status', link.id, '--api', d.apiUrl], env))).toMatchObject({ id: link.id, revoked: true, uses: 1, maxUses: 3 });
    const refused = await http(link.url);
    expect(refused.status).toBe(403);
    expect(refused.text()).toMatch(/revoked/);
    // Revoking again is harmless.
    expect((await cdkOtp(['revoke', link.id, '--api', d.apiUrl], env)).code).toBe(0);
  });

  it('mints an upload link with SigV4 whose URL takes one file through the local CloudFront', async () => {
    const minted = await cdkOtp(['upload-link', 'uploads/from-cli.txt', '--max-bytes', '100', '--content-type', 'text/plain'], localEnv());
    expect([minted.code, minted.stderr]).toEqual([0, '']);
    const link = jsonOf<{ url: string; id: string; kind: string; maxBytes: number; contentType: string }>(minted);
    expect(link).toMatchObject({ kind: 'upload', maxBytes: 100, contentType: 'text/plain' });
    expect(link.url.startsWith(`${d.distributionUrl}/uploads/from-cli.txt?x-link-id=${link.id}&`)).toBe(true);
    const put = (body: string) => http(link.url, { method: 'PUT', headers: { 'content-type': 'text/plain', 'content-length': String(body.length) }, body });
    expect((await put('hello from the cli')).status).toBe(201);
    expect((await put('again')).status).toBe(403);
    const status = await cdkOtp(['status', link.id], localEnv());
    expect(jsonOf<Record<string, unknown>>(status)).toMatchObject({ kind: 'upload', uploaded: true, receivedBytes: 18 });
  });

  it('reads the passphrase from a file or standard input with --passphrase-file, without its line break, and prints none of it', async () => {
    const file = join(tmp, 'passphrase.txt');
    writeFileSync(file, 'correct horse battery staple\n');
    const press = (url: string, passphrase: string) =>
      http(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `passphrase=${encodeURIComponent(passphrase)}` });
    const fromFile = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase-file', file], localEnv());
    expect([fromFile.code, fromFile.stderr]).toEqual([0, '']);
    expect(jsonOf(fromFile)).toMatchObject({ passphraseProtected: true });
    expect(fromFile.stdout).not.toContain('horse');
    // The line break is not part of it: the passphrase as typed opens the link.
    expect((await press(jsonOf<{ url: string }>(fromFile).url, 'correct horse battery staple')).status).toBe(303);

    const fromStdin = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase-file', '-'], localEnv(), [], 'tr0ub4dor&3 passphrase\r\n');
    expect([fromStdin.code, fromStdin.stderr]).toEqual([0, '']);
    expect((await press(jsonOf<{ url: string }>(fromStdin).url, 'tr0ub4dor&3 passphrase')).status).toBe(303);

    writeFileSync(file, 'two\nlines\n');
    const twoLines = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase-file', file], localEnv());
    expect([twoLines.code, twoLines.stderr.split('\n')[0]]).toEqual([2, `cdk-otp: --passphrase-file ${file} holds more than one line: put the passphrase alone on its line`]);
    expect(twoLines.stderr).not.toContain('lines\n');
    const missing = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase-file', join(tmp, 'nope')], localEnv());
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([2, `cdk-otp: cannot read --passphrase-file ${join(tmp, 'nope')}: ENOENT`]);
    const both = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase', 'x'.repeat(10), '--passphrase-file', file], localEnv());
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: --passphrase and --passphrase-file contradict each other']);
  });

  it('sends the mint options as the API\'s fields', async () => {
    const run = await cdkOtp(['mint', 'reports/q4.pdf', '--download-window', '0', '--landing-page', '--max-uses', '2'], localEnv());
    expect(run.code).toBe(0);
    expect(jsonOf(run)).toMatchObject({ maxUses: 2, downloadWindowSeconds: 0, landingPage: true });
    expect(jsonOf(await cdkOtp(['mint', 'reports/q4.pdf', '--no-landing-page'], localEnv()))).toMatchObject({ maxUses: 1, landingPage: false });
  });

  it('mints passphrase-protected links with --passphrase and --generate-passphrase', async () => {
    const given = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase', '-starts with a dash'], localEnv());
    expect([given.code, given.stderr]).toEqual([0, '']);
    expect(jsonOf(given)).toMatchObject({ passphraseProtected: true, landingPage: true });
    // The given passphrase is never printed back.
    expect(given.stdout).not.toContain('starts with a dash');
    const link = jsonOf<{ url: string }>(given);
    const pressed = await http(link.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'passphrase=-starts+with+a+dash' });
    expect(pressed.status).toBe(303);

    const generated = await cdkOtp(['mint', 'reports/q4.pdf', '--generate-passphrase'], localEnv());
    expect(generated.code).toBe(0);
    const minted = jsonOf<{ id: string; passphrase: string; passphraseProtected: boolean }>(generated);
    expect([minted.passphraseProtected, /^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/.test(minted.passphrase)]).toEqual([true, true]);
    const status = await cdkOtp(['status', minted.id], localEnv());
    expect(jsonOf(status)).toMatchObject({ passphraseProtected: true, locked: false });
    expect(status.stdout).not.toContain(minted.passphrase);
  });

  it('refuses contradicting or bad passphrase options: usage (exit 2) before sending, or the API\'s 400', async () => {
    const both = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase', 'long enough', '--generate-passphrase'], localEnv());
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: --passphrase and --generate-passphrase contradict each other']);
    const short = await cdkOtp(['mint', 'reports/q4.pdf', '--passphrase', 'short'], localEnv());
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/passphrase must be between 8 and 128 characters/);
    expect(short.stderr + short.stdout).not.toContain('short\n');
    const elsewhere = await cdkOtp(['status', UNKNOWN_ID, '--generate-passphrase'], localEnv());
    expect([elsewhere.code, elsewhere.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: --generate-passphrase is an option of mint, not of status']);
  });

  it('takes credentials from a profile of the shared credentials file (the full chain, not only the environment)', async () => {
    const credentials = join(tmp, 'credentials-with-profile');
    writeFileSync(credentials, `[otp-local]\naws_access_key_id = ${d.accessKeyId}\naws_secret_access_key = ${d.secretAccessKey}\n`);
    const base = cleanEnv({ OTP_API_URL: d.apiUrl, AWS_DEFAULT_REGION: d.region, AWS_SHARED_CREDENTIALS_FILE: credentials });
    const viaEnv = await cdkOtp(['mint', 'reports/q4.pdf'], { ...base, AWS_PROFILE: 'otp-local' });
    expect([viaEnv.code, viaEnv.stderr]).toEqual([0, '']);
    expect(jsonOf(viaEnv).url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/reports\/q4\.pdf\?/);
    const viaFlag = await cdkOtp(['status', jsonOf<{ id: string }>(viaEnv).id, '--profile', 'otp-local'], base);
    expect([viaFlag.code, jsonOf(viaFlag).uses]).toEqual([0, 0]);
  });

  it('passes the API\'s 400 message on with exit code 2', async () => {
    const tooLong = await cdkOtp(['mint', 'reports/q4.pdf', '--expires', '999999'], localEnv());
    expect([tooLong.code, tooLong.stdout, tooLong.stderr]).toEqual([
      2, '', 'cdk-otp: bad input (400): expiresInSeconds must be an integer between 1 and 3600 (field expiresInSeconds)\n',
    ]);
    const tooMany = await cdkOtp(['mint', 'reports/q4.pdf', '--max-uses', '11'], localEnv());
    expect([tooMany.code, tooMany.stderr]).toEqual([2, 'cdk-otp: bad input (400): maxUses must be an integer between 1 and 10 (field maxUses)\n']);
    const dots = await cdkOtp(['mint', 'reports/../private/secret.txt'], localEnv());
    expect([dots.code, dots.stderr]).toEqual([
      2, 'cdk-otp: bad input (400): key must not contain "." or ".." path segments: browsers remove them from links (field key)\n',
    ]);
  });

  it('says not found with exit code 5 for an unknown link or object', async () => {
    for (const command of ['status', 'revoke']) {
      const run = await cdkOtp([command, UNKNOWN_ID], localEnv());
      expect([command, run.code, run.stdout, run.stderr]).toEqual([command, 5, '', 'cdk-otp: not found (404): no such link\n']);
    }
    const missing = await cdkOtp(['mint', 'reports/q5.pdf'], localEnv());
    expect([missing.code, missing.stderr]).toEqual([5, 'cdk-otp: not found (404): object not found (key "reports/q5.pdf")\n']);
  });

  it('says refused with exit code 4 for wrong credentials, a wrong region, and a key the API may not mint', async () => {
    const wrongKey = await cdkOtp(['mint', 'reports/q4.pdf'], localEnv({ AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }));
    expect([wrongKey.code, wrongKey.stdout]).toEqual([4, '']);
    expect(wrongKey.stderr).toBe(
      'cdk-otp: refused (403): Forbidden\nThe API did not accept the SigV4 signature (service execute-api, region eu-west-1) or the caller is not allowed this route: '
      + 'check the credentials, the region, and that the caller was granted grantMint.\n',
    );
    // The secret never reaches the output.
    expect(wrongKey.stderr).not.toContain('wJalrXUtnFEMI');

    const wrongSecret = await cdkOtp(['status', UNKNOWN_ID], localEnv({ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }));
    expect([wrongSecret.code, wrongSecret.stderr.split('\n')[0]]).toEqual([4, 'cdk-otp: refused (403): Forbidden']);
    expect(wrongSecret.stderr).toContain('granted grantManage');

    const wrongRegion = await cdkOtp(['mint', 'reports/q4.pdf', '--region', 'us-east-1'], localEnv());
    expect([wrongRegion.code, wrongRegion.stderr]).toEqual([4, expect.stringContaining('region us-east-1')]);

    const outside = await cdkOtp(['mint', 'private/secret.txt'], localEnv());
    expect([outside.code, outside.stderr]).toEqual([4, 'cdk-otp: refused (403): key is outside the prefixes this API may mint links for (field key)\n']);
  });
});

describe('cdk-otp and link ids that begin with `-` or `_`', () => {
  it('status and revoke take them as the id (in the id\'s place, after options, after `--`), against links in the ledger', async () => {
    // `-` + the last 21 characters is `-p` (`-h`, `--`) + the last 20 when the id's second
    // character is p (h, -), and `_` + the last 21 is the minted id itself when it begins with
    // `_`: mint until the six ids and the minted one are distinct (about 1 in 16 ids is not).
    let link = await mintLink();
    while (new Set([link.id, ...edgeIds(link.id)]).size < 7) link = await mintLink();
    const ids = edgeIds(link.id);
    for (const id of ids) await ledgerCopy(link.id, id);
    for (const id of ids) {
      const status = await cdkOtp(['status', id], localEnv());
      expect([id, status.code, status.stderr]).toEqual([id, 0, '']);
      expect(jsonOf(status)).toMatchObject({ id, key: 'reports/q4.pdf', uses: 0, revoked: false });
    }
    // Every way of writing the command line, each on another id.
    const forms = [
      (id: string) => ['revoke', id],
      (id: string) => ['revoke', '--', id],
      (id: string) => ['revoke', '--api', d.apiUrl, id],
      (id: string) => ['revoke', id, '--region', d.region],
      (id: string) => ['--region', d.region, 'revoke', '--', id],
      (id: string) => ['revoke', '--api', d.apiUrl, '--', id],
    ];
    expect(forms).toHaveLength(ids.length);
    for (const [i, id] of ids.entries()) {
      const revoked = await cdkOtp(forms[i](id), localEnv());
      expect([forms[i](id), revoked.code, revoked.stdout, revoked.stderr]).toEqual([forms[i](id), 0, `{"id":"${id}","revoked":true}\n`, '']);
      expect(jsonOf(await cdkOtp(['status', '--', id], localEnv()))).toMatchObject({ id, revoked: true });
    }
    // Each call named its own link: the minted one is untouched and still downloads.
    expect(jsonOf(await cdkOtp(['status', link.id], localEnv()))).toMatchObject({ id: link.id, revoked: false, uses: 0 });
    expect((await http(link.url)).status).toBe(200);
  });

  it('reads them from the command line the same way, and sends the request for exactly that id', () => {
    const path = (args: string[]) => {
      const invocation = parseInvocation(args, { OTP_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });
      if (invocation.kind !== 'call') throw new Error(`not a call: ${args.join(' ')}`);
      return `${invocation.request.method} ${invocation.request.path}`;
    };
    for (const id of [...edgeIds(UNKNOWN_ID), '-_-_-_-_-_-_-_-_-_-_-_', '----------------------', '______________________']) {
      for (const [command, method] of [['status', 'GET'], ['revoke', 'DELETE']]) {
        const expected = `${method} /urls/${id}`;
        for (const args of [
          [command, id],
          [command, '--', id],
          [command, id, '--profile', 'p'],
          ['--profile', 'p', command, id],
          [command, '--region', 'us-east-1', id],
          [command, '--region', 'us-east-1', '--', id],
        ]) {
          expect([args, path(args)]).toEqual([args, expected]);
        }
      }
    }
    // `-h` alone is still help, and a 22-character id that begins with -h is an id.
    expect(parseInvocation(['status', '-h'], {}).kind).toBe('help');
    expect(path(['status', `-h${'A'.repeat(20)}`])).toBe(`GET /urls/-h${'A'.repeat(20)}`);
  });

  it('reads an argument shaped like an id as an option anywhere but in the id\'s place', () => {
    const reason = (args: string[]) => {
      try {
        parseInvocation(args, { OTP_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });
      } catch (err) {
        return (err as Error).message.split('\n')[0];
      }
      throw new Error(`accepted: ${args.join(' ')}`);
    };
    const dashed = `-p${UNKNOWN_ID.slice(2)}`;
    expect(reason(['status', UNKNOWN_ID, dashed])).toMatch(/^Unknown option '-p'/);
    expect(reason([dashed, 'status', UNKNOWN_ID])).toMatch(/^Unknown option '-p'/);
    // Not an id's shape (21 characters): an option, with parseArgs' hint to use `--`.
    expect(reason(['revoke', dashed.slice(0, 21)])).toMatch(/^Unknown option '-p'.*'--'/);
    // Nothing goes around the one-id rule, the id check or a missing value.
    expect(reason(['status', '--', UNKNOWN_ID, dashed])).toBe(`status takes one id; got 2 arguments: ${UNKNOWN_ID} ${dashed}`);
    expect(reason(['status', '--', '-p'])).toBe('"-p" is not a link id (22 characters of A-Z a-z 0-9 _ -, the "id" mint printed)');
    expect(reason(['status', dashed, '--region'])).toBe('Option \'--region <value>\' argument missing');
    // After `--` a mint key may begin with `-` too.
    const mint = parseInvocation(['mint', '--', '-draft.pdf'], { OTP_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });
    expect(mint.kind === 'call' && mint.request.body).toBe('{"key":"-draft.pdf"}');
  });
});

describe('link ids the mint issues', () => {
  it('300 minted through the local API: 22 base64url characters, distinct, none beginning with `-`; cdk-otp reads a sample', async () => {
    const ids: string[] = [];
    // Six at a time: the local API runs the mint bundle in this process (whose log lines, one
    // per link, are kept out of the test's output).
    const quiet = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      for (let i = 0; i < 300; i += 6) ids.push(...(await Promise.all(Array.from({ length: 6 }, () => mintLink()))).map((l) => l.id));
    } finally {
      quiet.mockRestore();
    }
    expect(ids).toHaveLength(300);
    expect(ids.filter((id) => !isLinkId(id))).toEqual([]);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids).size).toBe(300);

    // A handful of them as minted, and two minted links under ids of the edge shapes (as an
    // earlier mint could have issued them, and as the mint still may: `_...`).
    // The `_` copy comes from an id that does not already begin with `_` (one in 64 does).
    const donor = ids.find((id) => !id.startsWith('_'))!;
    const sample = [ids[0], ids[99], ids[199], ids[299], `-${ids[1].slice(1)}`, `_${donor.slice(1)}`];
    await ledgerCopy(ids[1], sample[4]);
    await ledgerCopy(donor, sample[5]);
    for (const id of sample) {
      const run = await cdkOtp(['status', id], localEnv());
      expect([id, run.code, run.stderr]).toEqual([id, 0, '']);
      expect(jsonOf(run)).toMatchObject({ id, key: 'reports/q4.pdf', maxUses: 2, uses: 0, revoked: false });
    }
  });
});

describe('cdk-otp sends nothing', () => {
  it('without credentials: exit code 3, promptly, and the server sees no request', async () => {
    const run = await cdkOtp(['mint', 'reports/q4.pdf'], cleanEnv({ OTP_API_URL: counterUrl, AWS_REGION: 'eu-west-1' }));
    expect([run.code, run.stdout]).toEqual([3, '']);
    expect(run.stderr).toBe(
      'cdk-otp: no AWS credentials found (Could not load credentials from any providers); nothing was sent.\n'
      + 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --profile (run `aws sso login` for an SSO profile).\n',
    );
    expect(run.ms).toBeLessThan(10_000);
    const profile = await cdkOtp(['status', UNKNOWN_ID, '--profile', 'nobody'], cleanEnv({ OTP_API_URL: counterUrl, AWS_REGION: 'eu-west-1' }));
    expect([profile.code, profile.stderr.split('\n')[0]]).toEqual([3, 'cdk-otp: no AWS credentials found for profile nobody (Could not load credentials from any providers); nothing was sent.']);
    expect(counted).toEqual([]);
  });

  it.each([
    [['frobnicate', 'x'], 'unknown command "frobnicate": the commands are mint, upload-link, status, revoke'],
    [[], 'no command given: cdk-otp mint|upload-link|status|revoke'],
    [['mint'], 'mint needs the link\'s object key: cdk-otp mint <key>'],
    [['mint', 'a', 'b'], 'mint takes one key; got 2 arguments: a b'],
    [['mint', 'reports/q4.pdf', '--expires', '-1'], '--expires expects a whole number of seconds, at least 1; got "-1"'],
    [['mint', 'reports/q4.pdf', '--expires', '0'], '--expires expects a whole number of seconds, at least 1; got "0"'],
    [['mint', 'reports/q4.pdf', '--expires', '1.5'], '--expires expects a whole number of seconds, at least 1; got "1.5"'],
    [['mint', 'reports/q4.pdf', '--max-uses', 'abc'], '--max-uses expects a whole number, at least 1; got "abc"'],
    [['mint', 'reports/q4.pdf', '--download-window', '-5'], '--download-window expects a whole number of seconds, at least 0; got "-5"'],
    [['mint', 'reports/q4.pdf', '--landing-page', '--no-landing-page'], '--landing-page and --no-landing-page contradict each other'],
    [['mint', 'reports/q4.pdf', '--bogus'], 'Unknown option \'--bogus\'. To specify a positional argument starting with a \'-\', place it at the end of the command after \'--\', as in \'-- "--bogus"'],
    [['mint', 'reports/q4.pdf', '--expires'], 'Option \'--expires <value>\' argument missing'],
    [['status'], 'status needs the link\'s id: cdk-otp status <id>'],
    [['status', '../get-url'], '"../get-url" is not a link id (22 characters of A-Z a-z 0-9 _ -, the "id" mint printed)'],
    [['revoke', UNKNOWN_ID, '--max-uses', '2'], '--max-uses is an option of mint, not of revoke'],
    [['upload-link'], 'upload-link needs the link\'s object key: cdk-otp upload-link <key>'],
    [['upload-link', 'inbox/a.pdf', 'inbox/b.pdf'], 'upload-link takes one key; got 2 arguments: inbox/a.pdf inbox/b.pdf'],
    [['upload-link', 'inbox/a.pdf', '--max-bytes', '0'], '--max-bytes expects a whole number of bytes, at least 1; got "0"'],
    [['upload-link', 'inbox/a.pdf', '--max-bytes', '-5'], '--max-bytes expects a whole number of bytes, at least 1; got "-5"'],
    [['upload-link', 'inbox/a.pdf', '--max-bytes', '10MB'], '--max-bytes expects a whole number of bytes, at least 1; got "10MB"'],
    [['upload-link', 'inbox/a.pdf', '--max-bytes', '1e6'], '--max-bytes expects a whole number of bytes, at least 1; got "1e6"'],
    [['upload-link', 'inbox/a.pdf', '--max-bytes'], 'Option \'--max-bytes <value>\' argument missing'],
    [['upload-link', 'inbox/a.pdf', '--expires', '0'], '--expires expects a whole number of seconds, at least 1; got "0"'],
    [['upload-link', 'inbox/a.pdf', '--content-type', 'pdf'], '--content-type expects a media type, type/subtype without parameters (such as application/pdf); got "pdf"'],
    [['upload-link', 'inbox/a.pdf', '--content-type', 'text/plain; charset=utf-8'],
      '--content-type expects a media type, type/subtype without parameters (such as application/pdf); got "text/plain; charset=utf-8"'],
    [['upload-link', 'inbox/a.pdf', '--landing-page', '--no-landing-page'], '--landing-page and --no-landing-page contradict each other'],
    [['upload-link', 'inbox/a.pdf', '--max-uses', '2'], '--max-uses is an option of mint, not of upload-link'],
    [['upload-link', 'inbox/a.pdf', '--generate-passphrase'], '--generate-passphrase is an option of mint, not of upload-link'],
    [['mint', 'reports/q4.pdf', '--max-bytes', '10'], '--max-bytes is an option of upload-link, not of mint'],
    [['status', UNKNOWN_ID, '--expires', '10'], '--expires is an option of mint and upload-link, not of status'],
  ])('on bad usage %j: exit code 2 and the reason', async (args, reason) => {
    const run = await cdkOtp(args, localEnv({ OTP_API_URL: counterUrl }));
    expect([run.code, run.stdout]).toEqual([2, '']);
    expect(run.stderr.split('\n')[0]).toBe(`cdk-otp: ${reason}`);
    expect(run.stderr).toMatch(/Run `cdk-otp ([\w-]+ )?--help` for usage\.\n$/);
    expect(counted).toEqual([]);
  });

  it('without an API URL or a region: exit code 2', async () => {
    const noApi = await cdkOtp(['mint', 'k'], localEnv({ OTP_API_URL: '' }));
    expect([noApi.code, noApi.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: no API URL: pass --api URL or set OTP_API_URL (the construct\'s apiEndpoint)']);
    const noRegion = await cdkOtp(['mint', 'k'], localEnv({ OTP_API_URL: counterUrl, AWS_REGION: '' }));
    expect([noRegion.code, noRegion.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: no region: pass --region or set AWS_REGION (the region the API is deployed in)']);
    const notUrl = await cdkOtp(['mint', 'k', '--api', 'ftp://example.com'], localEnv());
    expect([notUrl.code, notUrl.stderr.split('\n')[0]]).toEqual([2, 'cdk-otp: --api must be an http(s) URL; got ftp://example.com']);
    expect(counted).toEqual([]);
  });
});

describe('cdk-otp refuses plain http to a host that is not loopback', () => {
  const refusal = (host: string, raw: string) => `cdk-otp: refusing to send signed requests over plain http to ${host}: use an https:// URL `
    + `(http:// is for loopback hosts only: 127.0.0.0/8, localhost, [::1]); got ${raw}`;

  it('http://example.com: exit code 2, before reading credentials or opening a connection', async () => {
    // The credentials come from a credential_process that leaves a mark; a preloaded module
    // records every DNS lookup and socket connect of the cdk-otp process.
    const marker = join(tmp, 'credentials-were-read');
    const netLog = join(tmp, 'net.log');
    const hook = join(tmp, 'net-hook.js');
    writeFileSync(hook, `
      const net = require('node:net');
      const dns = require('node:dns');
      const { appendFileSync } = require('node:fs');
      const record = (line) => appendFileSync(process.env.NET_LOG, line + '\\n');
      const connect = net.Socket.prototype.connect;
      net.Socket.prototype.connect = function (...args) {
        // connect(options), connect(port, host), or (from net.connect) [options, callback].
        const first = Array.isArray(args[0]) ? args[0][0] : args[0];
        record('connect ' + JSON.stringify(typeof first === 'object' && first !== null ? first.host : args[1]));
        return connect.apply(this, args);
      };
      const lookup = dns.lookup;
      dns.lookup = function (host, ...rest) { record('lookup ' + host); return lookup.call(this, host, ...rest); };
    `);
    const process_ = join(tmp, 'credential-process.js');
    writeFileSync(process_, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'read');
      console.log(JSON.stringify({ Version: 1, AccessKeyId: ${JSON.stringify(d.accessKeyId)}, SecretAccessKey: ${JSON.stringify(d.secretAccessKey)} }));`);
    const config = join(tmp, 'config-credential-process');
    writeFileSync(config, `[profile otp-process]\ncredential_process = ${process.execPath} ${process_}\n`);
    const env = (api: string) => cleanEnv({ OTP_API_URL: api, AWS_REGION: d.region, AWS_CONFIG_FILE: config, AWS_PROFILE: 'otp-process', NET_LOG: netLog });
    const netCalls = () => (existsSync(netLog) ? readFileSync(netLog, 'utf8').trim().split('\n') : []);

    for (const [args, api] of [
      [['mint', 'reports/q4.pdf'], 'http://example.com'],
      [['status', UNKNOWN_ID], 'http://example.com:8080/prod'],
      [['revoke', `-p${UNKNOWN_ID.slice(2)}`, '--api', 'http://example.com'], 'https://abc123.execute-api.eu-west-1.amazonaws.com'],
    ] as const) {
      const run = await cdkOtp([...args], env(api), ['--require', hook]);
      const raw = (args as readonly string[]).includes('--api') ? 'http://example.com' : api;
      expect([args, run.code, run.stdout, run.stderr]).toEqual([args, 2, '', `${refusal('example.com', raw)}\nRun \`cdk-otp ${args[0]} --help\` for usage.\n`]);
    }
    expect([existsSync(marker), netCalls()]).toEqual([false, []]);

    // The same set-up against a loopback host (the counting server) reads the credentials
    // and connects: the mark and the records would have shown a refusal that came too late.
    const loopback = await cdkOtp(['status', UNKNOWN_ID], env(counterUrl), ['--require', hook]);
    expect([loopback.code, loopback.stderr]).toEqual([1, 'cdk-otp: the API answered 503: Service Unavailable\n']);
    expect([existsSync(marker), netCalls()]).toEqual([true, ['connect "127.0.0.1"']]);
    expect(counted.map((r) => `${r.method} ${r.url}`)).toEqual([`GET /urls/${UNKNOWN_ID}`]);
  });

  it('judges the host as a URL normalizes it: plain http only to 127.0.0.0/8, localhost and [::1]', () => {
    const attempt = (api: string) => {
      try {
        const invocation = parseInvocation(['status', UNKNOWN_ID, '--api', api, '--region', 'eu-west-1'], {});
        return invocation.kind === 'call' ? invocation.target.api.host : 'help';
      } catch (err) {
        return (err as Error).message.split('\n')[0];
      }
    };
    for (const [api, host] of [
      ['http://127.0.0.1:4566', '127.0.0.1:4566'],
      ['http://127.255.0.9', '127.255.0.9'],
      ['http://127.1:8080', '127.0.0.1:8080'],
      ['http://0x7f.1/prod', '127.0.0.1'],
      ['http://localhost:3000', 'localhost:3000'],
      ['http://LocalHost', 'localhost'],
      ['http://[::1]:3000', '[::1]:3000'],
      ['https://example.com', 'example.com'],
      ['https://10.0.0.1', '10.0.0.1'],
    ]) {
      expect([api, attempt(api)]).toEqual([api, host]);
    }
    for (const [api, hostname] of [
      ['http://example.com', 'example.com'],
      ['http://10.0.0.1:8080', '10.0.0.1'],
      ['http://128.0.0.1', '128.0.0.1'],
      ['http://0.0.0.0', '0.0.0.0'],
      ['http://127.0.0.1.nip.io', '127.0.0.1.nip.io'],
      ['http://localhost.example.com', 'localhost.example.com'],
      ['http://localhost.', 'localhost.'],
      ['http://[::ffff:127.0.0.1]', '[::ffff:7f00:1]'],
      ['http://[::2]', '[::2]'],
    ]) {
      expect([api, attempt(api)]).toEqual([api, refusal(hostname, api).replace(/^cdk-otp: /, '')]);
    }
  });
});

describe('cdk-otp other failures', () => {
  it('exits 1 when the API cannot be reached or answers 5xx', async () => {
    // Port 0: nothing can listen there. (A port that was just free may be taken by another
    // process on the machine before the CLI connects.)
    const unreachable = await cdkOtp(['status', UNKNOWN_ID], localEnv({ OTP_API_URL: 'http://127.0.0.1:0' }));
    expect([unreachable.code, unreachable.stdout, unreachable.stderr]).toEqual([
      1, '', 'cdk-otp: could not reach the API at http://127.0.0.1:0: connect ECONNREFUSED 127.0.0.1\n',
    ]);

    const unavailable = await cdkOtp(['status', UNKNOWN_ID], localEnv({ OTP_API_URL: counterUrl }));
    expect([unavailable.code, unavailable.stderr]).toEqual([1, 'cdk-otp: the API answered 503: Service Unavailable\n']);
    // It was a signed GET of the link's status.
    expect(counted).toEqual([{
      method: 'GET',
      url: `/urls/${UNKNOWN_ID}`,
      authorization: expect.stringMatching(new RegExp(`^AWS4-HMAC-SHA256 Credential=${d.accessKeyId}/\\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=host;`)),
    }]);
  });

});

describe('cdk-otp explains API Gateway\'s own refusals', () => {
  it('401: the API wants a bearer token, which cdk-otp does not send (exit code 4)', async () => {
    counterAnswer = { status: 401, body: { message: 'Unauthorized' } };
    const run = await cdkOtp(['mint', 'reports/q4.pdf'], localEnv({ OTP_API_URL: counterUrl }));
    expect([run.code, run.stderr]).toEqual([4, 'cdk-otp: refused (401): Unauthorized\n'
      + 'This API wants a bearer token (a JWT or Lambda authorizer), not a SigV4 signature: cdk-otp speaks IAM authorization only.\n']);
  });

  it('404 without a route: points at --api (exit code 5)', async () => {
    counterAnswer = { status: 404, body: { message: 'Not Found' } };
    const run = await cdkOtp(['revoke', UNKNOWN_ID], localEnv({ OTP_API_URL: `${counterUrl}/prod` }));
    expect([run.code, run.stderr]).toEqual([5, 'cdk-otp: not found (404): Not Found\n'
      + `The API has no route DELETE /urls/${UNKNOWN_ID}: is --api the construct's apiEndpoint?\n`]);
    // A base path in the API URL is kept.
    expect(counted.map((r) => `${r.method} ${r.url}`)).toEqual([`DELETE /prod/urls/${UNKNOWN_ID}`]);
  });
});

describe('cdk-otp region', () => {
  const target = (args: string[], env: Record<string, string>) => {
    const invocation = parseInvocation(['status', UNKNOWN_ID, ...args], env);
    if (invocation.kind !== 'call') throw new Error('not a call');
    return invocation.target;
  };

  it('is --region, else the region an execute-api host names, else AWS_REGION, then AWS_DEFAULT_REGION', () => {
    const host = 'https://abc123.execute-api.ap-southeast-2.amazonaws.com';
    expect(target(['--region', 'us-west-2'], { OTP_API_URL: host, AWS_REGION: 'eu-west-1' }).region).toBe('us-west-2');
    // The signature covers the region, and that host can only verify its own.
    expect(target([], { OTP_API_URL: host, AWS_REGION: 'eu-west-1' }).region).toBe('ap-southeast-2');
    expect(target([], { OTP_API_URL: 'https://links.example.com', AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-1' }).region).toBe('eu-west-1');
    expect(target([], { OTP_API_URL: 'https://links.example.com', AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1' }).region).toBe('us-east-1');
    expect(target([], { OTP_API_URL: 'https://x.execute-api.cn-north-1.amazonaws.com.cn' }).region).toBe('cn-north-1');
  });
});

describe('cdk-otp upload-link', () => {
  // A stand-in for the links API's POST /uploads (the mint's own route is tested with the
  // mint): it records each request whole and answers as the route does.
  interface Recorded { method?: string; url?: string; contentType?: string; authorization?: string; body: string }
  const recorded: Recorded[] = [];
  let api: Server;
  let apiUrl: string;
  let reply: (body: Record<string, unknown>) => { status: number; body: unknown };
  const EXPIRES_AT = '2026-12-01T09:30:00.000Z';
  const linkFor = (key: string) => `https://d111111abcdef8.cloudfront.net/${key}?x-link-id=${UNKNOWN_ID}&x-link-upload=1&x-link-sig=abc`;

  beforeAll(async () => {
    api = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        recorded.push({ method: req.method, url: req.url, contentType: req.headers['content-type'], authorization: req.headers.authorization, body });
        const answer = reply(JSON.parse(body || '{}') as Record<string, unknown>);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
      });
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  afterAll(() => { api?.close(); });
  beforeEach(() => {
    recorded.length = 0;
    reply = (body) => ({
      status: 201,
      body: {
        url: linkFor(String(body.key)),
        id: UNKNOWN_ID,
        expiresAt: EXPIRES_AT,
        maxBytes: body.maxBytes ?? 104857600,
        ...(body.contentType === undefined ? {} : { contentType: body.contentType }),
      },
    });
  });
  const env = (extra: Record<string, string> = {}) => localEnv({ OTP_API_URL: apiUrl, ...extra });

  it('POSTs the key and every limit given to /uploads, signed, and prints the API\'s answer with the link on stdout', async () => {
    const run = await cdkOtp(['upload-link', 'inbox/q4.pdf', '--max-bytes', '5000000', '--content-type', 'application/pdf', '--expires', '900', '--no-landing-page'], env());
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(run.stdout.endsWith('\n')).toBe(true);
    expect(jsonOf(run)).toEqual({ url: linkFor('inbox/q4.pdf'), id: UNKNOWN_ID, expiresAt: EXPIRES_AT, maxBytes: 5000000, contentType: 'application/pdf' });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toEqual({
      method: 'POST',
      url: '/uploads',
      contentType: 'application/json',
      authorization: expect.stringMatching(new RegExp(`^AWS4-HMAC-SHA256 Credential=${d.accessKeyId}/\\d{8}/eu-west-1/execute-api/aws4_request, SignedHeaders=content-type;host;`)),
      body: expect.any(String),
    });
    // Exactly the API's fields, nothing else.
    expect(JSON.parse(recorded[0].body)).toEqual({ key: 'inbox/q4.pdf', maxBytes: 5000000, contentType: 'application/pdf', expiresInSeconds: 900, landingPage: false });
  });

  it('sends only the key when no limit is given (the API applies its defaults), and keeps a base path of --api', async () => {
    const run = await cdkOtp(['upload-link', 'inbox/any file.bin', '--api', `${apiUrl}/prod/`], env({ OTP_API_URL: 'http://127.0.0.1:1' }));
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(jsonOf(run)).toEqual({ url: linkFor('inbox/any file.bin'), id: UNKNOWN_ID, expiresAt: EXPIRES_AT, maxBytes: 104857600 });
    expect(recorded.map((r) => [r.method, r.url, JSON.parse(r.body)])).toEqual([['POST', '/prod/uploads', { key: 'inbox/any file.bin' }]]);
    const page = await cdkOtp(['upload-link', '--landing-page', '--', '-draft.pdf'], env());
    expect(page.code).toBe(0);
    expect(JSON.parse(recorded[1].body)).toEqual({ key: '-draft.pdf', landingPage: true });
  });

  it('passes the API\'s refusals on with the CLI\'s exit codes: 400 is 2, 403 is 4', async () => {
    reply = () => ({ status: 400, body: { error: 'maxBytes must be an integer between 1 and 104857600', field: 'maxBytes' } });
    const tooBig = await cdkOtp(['upload-link', 'inbox/q4.pdf', '--max-bytes', '999999999999'], env());
    expect([tooBig.code, tooBig.stdout, tooBig.stderr]).toEqual([2, '', 'cdk-otp: bad input (400): maxBytes must be an integer between 1 and 104857600 (field maxBytes)\n']);
    reply = () => ({ status: 403, body: { message: 'Forbidden' } });
    const refused = await cdkOtp(['upload-link', 'inbox/q4.pdf'], env());
    expect([refused.code, refused.stderr.split('\n')[0]]).toEqual([4, 'cdk-otp: refused (403): Forbidden']);
    expect(refused.stderr).toContain('granted grantMint');
  });

  it('reads its options wherever they stand, as mint does', () => {
    const bodyOf = (args: string[]) => {
      const invocation = parseInvocation(args, { OTP_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });
      if (invocation.kind !== 'call') throw new Error('not a call');
      return [invocation.request.method, invocation.request.path, JSON.parse(invocation.request.body!)];
    };
    const expected = ['POST', '/uploads', { key: 'inbox/x.csv', maxBytes: 1, contentType: 'text/csv' }];
    expect(bodyOf(['upload-link', 'inbox/x.csv', '--max-bytes', '1', '--content-type', 'text/csv'])).toEqual(expected);
    expect(bodyOf(['--content-type', 'text/csv', 'upload-link', '--max-bytes=1', 'inbox/x.csv'])).toEqual(expected);
    expect(bodyOf(['upload-link', '--max-bytes', '1', '--content-type=text/csv', '--', 'inbox/x.csv'])).toEqual(expected);
  });
});
