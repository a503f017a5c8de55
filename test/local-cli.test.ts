// `npm run local`'s program as a user runs it: one JSON line on stdout, preloaded
// objects, SigV4 on the API by default, and a clean exit on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CloudFrontRequestEvent, CloudFrontRequestResult } from 'aws-lambda';
import { callApi } from '../local/api-client';
import { parseArgs } from '../local/cli';
import { startLocalCloudFront } from '../local/cloudfront';
import { http } from './util/http';

const ROOT = join(__dirname, '..');

interface Started { child: ChildProcess; info: Record<string, string>; stdoutLines: string[]; stderr: () => string; tmp: string }

async function startCli(args: string[]): Promise<Started> {
  const tmp = mkdtempSync(join(tmpdir(), 'otp-cli-test-'));
  const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin'), '--transpile-only', '-P', join(ROOT, 'tsconfig.dev.json'), join(ROOT, 'local', 'cli.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own temp dir, so the test can prove the CLI removes everything it created.
    env: { ...process.env, TMPDIR: tmp, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const stdoutLines: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (l) => stdoutLines.push(l));
  const [first] = (await once(lines, 'line')) as [string];
  return { child, info: JSON.parse(first) as Record<string, string>, stdoutLines, stderr: () => stderr, tmp };
}

describe('npm run local', () => {
  let s: Started;
  const metricsDir = mkdtempSync(join(tmpdir(), 'otp-cli-metrics-'));
  const metricsFile = join(metricsDir, 'metrics.jsonl');
  beforeAll(async () => {
    const file = join(tmpdir(), `otp-cli-object-${process.pid}.txt`);
    writeFileSync(file, 'preloaded bytes');
    // Two-second role sessions: the mint function's own credentials end while the test runs.
    // The first GET of faulty.txt is reset by S3.
    s = await startCli([
      '--object', `docs/hello world.txt=${file}`, '--object', `faulty.txt=${file}`, '--origin-fault', 'faulty.txt=reset', '--session-seconds', '2',
      '--metrics-file', metricsFile,
    ]);
    rmSync(file);
  });
  afterAll(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
    rmSync(metricsDir, { recursive: true, force: true });
  });

  it('prints one JSON line with the contract\'s fields', () => {
    expect(s.stdoutLines).toHaveLength(1);
    for (const field of ['apiUrl', 'distributionUrl', 'originUrl', 'bucket', 'region', 'accessKeyId', 'secretAccessKey']) {
      expect([field, typeof s.info[field]]).toEqual([field, 'string']);
    }
    for (const url of [s.info.apiUrl, s.info.distributionUrl, s.info.originUrl]) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('serves a preloaded object once through a SigV4-minted link, and refuses unsigned minting', async () => {
    const creds = { accessKeyId: s.info.accessKeyId, secretAccessKey: s.info.secretAccessKey };
    expect((await callApi(`${s.info.apiUrl}/get-url?key=docs%2Fhello%20world.txt`, s.info.region, undefined)).status).toBe(403);
    const minted = await callApi(`${s.info.apiUrl}/get-url?key=docs%2Fhello%20world.txt`, s.info.region, creds);
    expect(minted.status).toBe(200);
    const { url } = minted.json<{ url: string }>();
    expect(url.startsWith(s.info.distributionUrl)).toBe(true);
    const first = await http(url);
    expect([first.status, first.text()]).toEqual([200, 'preloaded bytes']);
    expect((await http(url, { headers: { 'user-agent': 'someone-else' } })).status).toBe(403);
  });

  it('links outlive the sessions of both functions: the edge signs each origin request when it sends it', async () => {
    const creds = { accessKeyId: s.info.accessKeyId, secretAccessKey: s.info.secretAccessKey };
    const minted = await callApi(`${s.info.apiUrl}/get-url?key=docs%2Fhello%20world.txt&expiresInSeconds=60`, s.info.region, creds);
    expect(minted.status).toBe(200);
    // Two-second sessions: the mint's and the edge's first containers are gone by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const res = await http(minted.json<{ url: string }>().url);
    expect([res.status, res.text()]).toEqual([200, 'preloaded bytes']);
  });

  it('--origin-fault: S3 resets the first GET of the key, and the local CloudFront answers its own 502', async () => {
    const creds = { accessKeyId: s.info.accessKeyId, secretAccessKey: s.info.secretAccessKey };
    const minted = await callApi(`${s.info.apiUrl}/get-url?key=faulty.txt&expiresInSeconds=60`, s.info.region, creds);
    expect(minted.status).toBe(200);
    const res = await http(minted.json<{ url: string }>().url);
    expect([res.status, res.headers['x-cache']]).toEqual([502, 'Error from cloudfront']);
  });

  it('exits cleanly on SIGTERM, leaving no temp files behind', async () => {
    const exited = once(s.child, 'exit');
    s.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    // (TypeScript's own compile cache is not ours to clean.)
    expect(readdirSync(s.tmp).filter((name) => !name.startsWith('v8-compile-cache'))).toEqual([]);
    rmSync(s.tmp, { recursive: true, force: true });
  });

  it('kept the download metrics off stdout: in --metrics-file, and their totals on stderr at shutdown', () => {
    // Three uses opened (one of them reset by S3: no answer, so no origin-response and no
    // OriginFailures), one replay refused as used.
    expect(s.stdoutLines.filter((l) => l.includes('"_aws"'))).toEqual([]);
    const totals = s.stderr().slice(s.stderr().indexOf('local: download metrics:'));
    expect(totals).toContain('  LinkRedemptions Distribution=eu-west-1/Local/Downloads: 3\n');
    expect(totals).toContain('  LinkRefusals Distribution=eu-west-1/Local/Downloads Reason=used: 1\n');
    const data = readFileSync(metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { metricName: string });
    expect(data.filter((d) => d.metricName === 'LinkRedemptions')).toHaveLength(3);
  });
});

describe('npm run local -- --public-api', () => {
  it('mints without a signature', async () => {
    const s = await startCli(['--public-api']);
    try {
      expect(s.info.apiAuth).toBe('none');
      expect((await http(`${s.info.apiUrl}/get-url?key=missing`)).status).toBe(404);
    } finally {
      const exited = once(s.child, 'exit');
      s.child.kill('SIGINT');
      expect((await exited)[0]).toBe(0);
      rmSync(s.tmp, { recursive: true, force: true });
    }
  });

  it('takes the links API limits as flags', () => {
    expect(parseArgs(['--max-uses-limit', '5', '--allowed-prefix', 'a/', '--allowed-prefix', 'b/', '--no-preview-protection'])).toMatchObject({
      maxUsesLimit: 5, allowedKeyPrefixes: ['a/', 'b/'], previewProtection: false, publicApi: false,
    });
    expect(parseArgs([])).toMatchObject({ previewProtection: true, allowedKeyPrefixes: undefined });
    expect(() => parseArgs(['--max-uses-limit', '0'])).toThrow(/--max-uses-limit expects an integer between 1 and 100; got 0/);
    expect(() => parseArgs(['--object', 'no-equals-sign'])).toThrow(/--object expects KEY=FILE; got no-equals-sign/);
    expect(parseArgs(['--download-window', '0'])).toMatchObject({ downloadWindowSeconds: 0 });
    expect(parseArgs(['--events-file', '/tmp/events.jsonl'])).toMatchObject({ eventsFile: '/tmp/events.jsonl' });
    expect(parseArgs(['--metrics-file', '/tmp/metrics.jsonl'])).toMatchObject({ metricsFile: '/tmp/metrics.jsonl' });
    expect(parseArgs(['--download-window', '600'])).toMatchObject({ downloadWindowSeconds: 600 });
    expect(parseArgs(['--passphrase-attempts', '3'])).toMatchObject({ passphraseAttempts: 3 });
    expect(() => parseArgs(['--passphrase-attempts', '101'])).toThrow(/--passphrase-attempts expects an integer between 1 and 100; got 101/);
    expect(() => parseArgs(['--download-window', '86401'])).toThrow(/--download-window expects whole seconds between 0 and 86400; got 86401/);
    expect(() => parseArgs(['--download-window', '1.5'])).toThrow(/--download-window expects whole seconds/);
    expect(parseArgs([])).toMatchObject({ maxExpiresSeconds: undefined, sessionSeconds: undefined });
    expect(parseArgs(['--max-link-lifetime', '2592000', '--session-seconds', '5'])).toMatchObject({ maxExpiresSeconds: 2_592_000, sessionSeconds: 5 });
    expect(() => parseArgs(['--max-link-lifetime', '31536001'])).toThrow(/--max-link-lifetime expects whole seconds between 1 and 31536000; got 31536001/);
    expect(() => parseArgs(['--session-seconds', '0'])).toThrow(/--session-seconds expects whole seconds between 1 and 43200; got 0/);
    expect(parseArgs([]).originFaults).toBeUndefined();
    expect(parseArgs(['--origin-fault', 'a/b.txt=503', '--origin-fault', 'k=v.txt=reset', '--origin-fault', 'a/b.txt=timeout']).originFaults).toEqual({
      'a/b.txt': ['503', 'timeout'],
      'k=v.txt': ['reset'],
    });
    expect(() => parseArgs(['--origin-fault', 'a.txt=418'])).toThrow(/--origin-fault expects KEY=500\|503\|reset\|timeout; got a.txt=418/);
    expect(() => parseArgs(['--origin-fault', '=500'])).toThrow(/--origin-fault expects KEY=/);
    expect(parseArgs([]).corsAllowedOrigins).toBeUndefined();
    expect(parseArgs(['--cors-origin', 'http://127.0.0.1:5173', '--cors-origin', 'https://app.example.com']).corsAllowedOrigins)
      .toEqual(['http://127.0.0.1:5173', 'https://app.example.com']);
    expect(() => parseArgs(['--cors-origin', 'http://127.0.0.1:5173/'])).toThrow(/--cors-origin expects an origin, scheme:\/\/host\[:port\]; got http:\/\/127.0.0.1:5173\/ \(browsers send the origin as http:\/\/127.0.0.1:5173\)/);
    expect(() => parseArgs(['--cors-origin', '*'])).toThrow(/--cors-origin .*; got \* \(wildcards are not allowed/);
  });

  it('takes the upload links settings as flags', () => {
    expect(parseArgs([])).toMatchObject({ uploadKeyPrefixes: undefined, maxUploadBytes: undefined });
    expect(parseArgs(['--upload-prefix', 'inbox/', '--upload-prefix', 'drop/', '--max-upload-bytes', '1048576']))
      .toMatchObject({ uploadKeyPrefixes: ['inbox/', 'drop/'], maxUploadBytes: 1_048_576 });
    expect(parseArgs(['--no-uploads'])).toMatchObject({ uploadKeyPrefixes: [] });
    expect(() => parseArgs(['--upload-prefix', ''])).toThrow(/--upload-prefix expects a non-empty key prefix .*--no-uploads turns upload links off/);
    expect(() => parseArgs(['--no-uploads', '--upload-prefix', 'inbox/'])).toThrow(/--no-uploads and --upload-prefix contradict each other/);
    expect(() => parseArgs(['--max-upload-bytes', '0'])).toThrow(/--max-upload-bytes expects an integer between 1 and 5368709120; got 0/);
    expect(() => parseArgs(['--max-upload-bytes', '5368709121'])).toThrow(/--max-upload-bytes expects an integer between 1 and 5368709120/);
  });

  it('refuses unknown arguments with usage', async () => {
    const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin'), '--transpile-only', '-P', join(ROOT, 'tsconfig.dev.json'), join(ROOT, 'local', 'cli.ts'), '--bogus'], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown argument --bogus[\s\S]*usage: npm run local/);
    expect(stderr).toMatch(/\[--upload-prefix PREFIX\]\.\.\. \[--no-uploads\] \[--max-upload-bytes N\]/);
  });
});

describe('local CloudFront', () => {
  async function withHandler(handler: (e: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>, timeoutMs = 5000) {
    return startLocalCloudFront({ handler, originEndpoint: 'http://127.0.0.1:9', originHost: 'b.s3.eu-west-1.amazonaws.com', originCustomHeaders: {}, timeoutMs });
  }

  it.each([
    ['times out', () => new Promise<CloudFrontRequestResult>(() => undefined), 503],
    ['throws', async () => { throw new Error('boom'); }, 503],
    ['returns a body over 40 KB', async () => ({ status: '403', body: 'x'.repeat(41 * 1024) }), 502],
    ['sets a disallowed header', async () => ({ status: '403', headers: { 'transfer-encoding': [{ key: 'Transfer-Encoding', value: 'chunked' }] } }), 502],
    ['changes a read-only header', async (e: CloudFrontRequestEvent) => {
      const r = e.Records[0].cf.request;
      r.headers.host = [{ key: 'Host', value: 'evil.example' }];
      return r;
    }, 502],
  ])('answers like CloudFront when the function %s', async (_name, handler, status) => {
    const cf = await withHandler(handler as (e: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>, 300);
    try {
      expect((await http(`${cf.url}/x`)).status).toBe(status);
    } finally {
      await cf.close();
    }
  });
});
