// The README's Python example (botocore's SigV4Auth + urllib) runs, as printed, against
// the local deployment's IAM-authorized links API. It needs python3: without it this
// test fails rather than skips. botocore comes from PyPI into a virtual environment under
// .tmp/ (gitignored), pinned by test/python/requirements-botocore.txt and kept across runs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CALLER_ARN } from '../local/api-auth';
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

const ROOT = join(__dirname, '..');
const REQUIREMENTS = join(ROOT, 'test', 'python', 'requirements-botocore.txt');
const VENV = join(ROOT, '.tmp', 'venv-botocore');
const PYTHON = join(VENV, 'bin', 'python');
/** A copy of the requirements the venv was built from: a changed pin rebuilds it. */
const STAMP = join(VENV, 'requirements-botocore.txt');
const MARKER = '<!-- python-example: run by test/readme-python.test.ts -->';

interface Run { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** Runs a program without blocking this process (the local deployment answers from here). */
async function run(file: string, args: string[], env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }): Promise<Run> {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const [code] = (await Promise.race([once(child, 'close'), once(child, 'error').then(([err]) => { throw err; })])) as [number | null];
  return { code, stdout, stderr };
}

function readmePython(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no ${MARKER}`);
  const block = /^\s*```python\n([\s\S]*?)```/.exec(readme.slice(at + MARKER.length));
  if (!block) throw new Error(`no \`\`\`python block right after ${MARKER}`);
  return block[1];
}

async function ensureVenv(): Promise<void> {
  const wanted = readFileSync(REQUIREMENTS, 'utf8');
  if (existsSync(PYTHON) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === wanted) return;
  rmSync(VENV, { recursive: true, force: true });
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const steps: Array<[string, string[]]> = [
    ['python3', ['-m', 'venv', VENV]],
    [PYTHON, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS]],
  ];
  for (const [file, args] of steps) {
    const r = await run(file, args, { ...process.env } as Record<string, string>);
    if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}):\n${r.stdout}${r.stderr}`);
  }
  writeFileSync(STAMP, wanted);
}

let d: LocalDeployment;
let tmp: string;
let script: string;

beforeAll(async () => {
  await ensureVenv();
  tmp = mkdtempSync(join(tmpdir(), 'otp-readme-python-'));
  writeFileSync(join(tmp, 'empty'), '');
  script = join(tmp, 'otp_links.py');
  writeFileSync(script, readmePython());
  d = await startLocalDeployment({ mintAuth: 'iam', manageAuth: 'iam', objects: { 'reports/q4.pdf': 'quarterly numbers\n' } });
});

afterAll(async () => {
  await d?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Nothing inherited: no AWS variables, empty shared files, no instance metadata. */
const cleanEnv = (extra: Record<string, string>): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmp,
  AWS_CONFIG_FILE: join(tmp, 'empty'),
  AWS_SHARED_CREDENTIALS_FILE: join(tmp, 'empty'),
  AWS_EC2_METADATA_DISABLED: 'true',
  OTP_API_URL: d.apiUrl,
  ...extra,
});

describe('README Python example (botocore SigV4Auth)', () => {
  it('uses the pinned botocore', async () => {
    const pinned = /^botocore==(\S+)$/m.exec(readFileSync(REQUIREMENTS, 'utf8'))?.[1];
    const r = await run(PYTHON, ['-c', 'import botocore; print(botocore.__version__)']);
    expect([r.code, r.stdout.trim()]).toEqual([0, pinned]);
  });

  it('mints, reads the status of and revokes a link against the local API', async () => {
    // The region from botocore's own configuration (AWS_DEFAULT_REGION), credentials from its chain.
    const r = await run(PYTHON, [script, 'reports/q4.pdf'], cleanEnv({
      AWS_DEFAULT_REGION: d.region, AWS_ACCESS_KEY_ID: d.accessKeyId, AWS_SECRET_ACCESS_KEY: d.secretAccessKey,
    }));
    expect([r.code, r.stderr]).toEqual([0, '']);
    const [url, status, revoked, ...rest] = r.stdout.split('\n');
    expect(rest).toEqual(['']);
    const id = new URL(url).searchParams.get('x-link-id');
    expect(url.startsWith(`${d.distributionUrl}/reports/q4.pdf?x-link-id=${id}&`)).toBe(true);
    const minted = JSON.parse(status) as { expiresAt: string };
    expect(minted).toEqual({
      id, key: 'reports/q4.pdf', maxUses: 1, uses: 0, expiresAt: expect.any(String), revoked: false, size: 18, redemptions: [], owner: `iam:${DEFAULT_CALLER_ARN}`,
    });
    expect(Math.abs(Date.parse(minted.expiresAt) - Date.now() - 3_600_000)).toBeLessThan(10_000);
    expect(revoked).toBe('true');
    // Revoked for real: the link is refused, and the API says so to another client too.
    expect((await http(url)).status).toBe(403);
    expect((await callApi(`${d.apiUrl}/urls/${id}`, d.region, d)).json()).toMatchObject({ id, revoked: true, uses: 0 });
  });

  it('takes a profile from the shared credentials file, as botocore\'s chain does', async () => {
    const credentials = join(tmp, 'credentials');
    writeFileSync(credentials, `[otp]\naws_access_key_id = ${d.accessKeyId}\naws_secret_access_key = ${d.secretAccessKey}\n`);
    const r = await run(PYTHON, [script, 'reports/q4.pdf'], cleanEnv({ AWS_REGION: d.region, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: 'otp' }));
    expect([r.code, r.stderr, r.stdout.split('\n')[2]]).toEqual([0, '', 'true']);
  });

  it('stops before sending anything without credentials, and shows the API\'s refusal of wrong ones', async () => {
    const none = await run(PYTHON, [script, 'reports/q4.pdf'], cleanEnv({ AWS_REGION: d.region }));
    expect([none.code, none.stdout, none.stderr]).toEqual([1, '', 'no AWS credentials found\n']);
    const wrong = await run(PYTHON, [script, 'reports/q4.pdf'], cleanEnv({
      AWS_REGION: d.region, AWS_ACCESS_KEY_ID: d.accessKeyId, AWS_SECRET_ACCESS_KEY: 'not-the-secret',
    }));
    expect([wrong.code, wrong.stdout, wrong.stderr]).toEqual([1, '', 'POST /urls: 403 {"message":"Forbidden"}\n']);
  });
});
