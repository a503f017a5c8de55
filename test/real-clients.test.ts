// The clients people use, as child processes over the local deployment: curl, wget, aria2c,
// ffprobe and ffmpeg on direct links; curl through a landing page's button with its cookie,
// resuming from another address. Each gets the exact bytes for one use; anyone else gets 403.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeWithTools, missingTools } from './util/clients';
import { http } from './util/http';

const CONTENT = randomBytes(3 * 1024 * 1024 + 17);
let d: LocalDeployment;
let dir: string;
let video: Buffer;

/** Runs a client; resolves with its exit code and output (a client that fails is an answer, not an error). */
function run(file: string, args: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function mint(key: string, body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}
const usesOf = async (id: string) => (JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as { uses: number }).uses;
const file = (name: string) => join(dir, name);
/** What a transfer broken halfway leaves on disk: the first half of the file. */
function interrupt(path: string): void {
  const whole = readFileSync(path);
  writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 2)));
  expect(statSync(path).size).toBeLessThan(CONTENT.length);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'otp-clients-'));
  // A small WebM video, made here so the test ships no binary (when ffmpeg is there to make it).
  video = Buffer.alloc(0);
  if (missingTools(['ffmpeg']).length === 0) {
    const made = await run('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=8:size=160x120:rate=10', '-c:v', 'libvpx', '-b:v', '100k', '-g', '10', file('v.webm')]);
    expect(made).toMatchObject({ code: 0 });
    video = readFileSync(file('v.webm'));
  }
  d = await startLocalDeployment({ objects: { 'big.bin': CONTENT, 'v.webm': video }, publicApi: true, maxUsesLimit: 5 });
});
afterAll(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

describeWithTools(['curl', 'wget', 'aria2c', 'ffprobe', 'ffmpeg'], 'direct links', () => {
  it('curl downloads once, resumes its broken transfer (-C -), and another client is refused', async () => {
    const link = await mint('big.bin');
    expect((await run('curl', ['-sS', '--fail', '-o', file('curl.bin'), link.url])).code).toBe(0);
    expect(readFileSync(file('curl.bin')).equals(CONTENT)).toBe(true);
    // The transfer broke halfway (what is on disk is the first half): curl -C - resumes it.
    interrupt(file('curl.bin'));
    const resumed = await run('curl', ['-sS', '--fail', '-C', '-', '-o', file('curl.bin'), link.url]);
    expect(resumed.code).toBe(0);
    expect(readFileSync(file('curl.bin')).equals(CONTENT)).toBe(true);
    const other = await run('curl', ['-sS', '-A', 'someone-else', '-o', '/dev/null', '-w', '%{http_code}', link.url]);
    expect(other.stdout).toBe('403');
    expect(await usesOf(link.id)).toBe(1);
  });

  it('wget -c resumes its own interrupted download', async () => {
    const link = await mint('big.bin');
    expect((await run('wget', ['-q', '-O', file('wget.bin'), link.url])).code).toBe(0);
    interrupt(file('wget.bin'));
    expect((await run('wget', ['-q', '-c', '-O', file('wget.bin'), link.url])).code).toBe(0);
    expect(readFileSync(file('wget.bin')).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('aria2c fetches in four parallel ranges for one use', async () => {
    const link = await mint('big.bin');
    const got = await run('aria2c', ['-q', '-x4', '-s4', '-k1M', '--allow-overwrite=true', '-d', dir, '-o', 'aria.bin', link.url]);
    expect(got.code).toBe(0);
    expect(readFileSync(file('aria.bin')).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
  });

  it('ffprobe probes and ffmpeg decodes a video for one use', async () => {
    const link = await mint('v.webm');
    const probed = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', link.url]);
    expect([probed.code, Math.round(Number(probed.stdout))]).toEqual([0, 8]);
    const decoded = await run('ffmpeg', ['-v', 'error', '-ss', '5', '-i', link.url, '-f', 'null', '-']);
    expect(decoded.code).toBe(0);
    expect(await usesOf(link.id)).toBe(1);
  });
});

describeWithTools(['curl', 'aria2c', 'ffprobe', 'ffmpeg'], 'N-use links (their sessions in the sessions table)', () => {
  it('aria2c\'s four parallel ranges, ffmpeg\'s probe and seek, and curl\'s resume each take one use of a 3-use link', async () => {
    const link = await mint('big.bin', { maxUses: 3 });
    const got = await run('aria2c', ['-q', '-x4', '-s4', '-k1M', '--allow-overwrite=true', '-d', dir, '-o', 'aria-n.bin', link.url]);
    expect(got.code).toBe(0);
    expect(readFileSync(file('aria-n.bin')).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(1);
    expect((await run('curl', ['-sS', '--fail', '-o', file('curl-n.bin'), link.url])).code).toBe(0);
    interrupt(file('curl-n.bin'));
    expect((await run('curl', ['-sS', '--fail', '-C', '-', '-o', file('curl-n.bin'), link.url])).code).toBe(0);
    expect(readFileSync(file('curl-n.bin')).equals(CONTENT)).toBe(true);
    expect(await usesOf(link.id)).toBe(2);
    const clip = await mint('v.webm', { maxUses: 3 });
    const probed = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', clip.url]);
    expect([probed.code, Math.round(Number(probed.stdout))]).toEqual([0, 8]);
    expect((await run('ffmpeg', ['-v', 'error', '-ss', '5', '-i', clip.url, '-f', 'null', '-'])).code).toBe(0);
    expect(await usesOf(clip.id)).toBe(1);
  });
});

describeWithTools(['curl'], 'landing-page links', () => {
  it('curl presses the button and keeps the cookie; the download resumes from another address; other clients are refused', async () => {
    const link = await mint('big.bin', { landingPage: true });
    const jar = file('jar.txt');
    writeFileSync(jar, '');
    // The button: POST, follow the 303 with the cookie (-b/-c turn on curl's cookie engine).
    const pressed = await run('curl', ['-sS', '--fail', '-L', '-c', jar, '-b', jar, '-d', '', '-o', file('page.bin'), link.url]);
    expect(pressed.code).toBe(0);
    expect(readFileSync(jar, 'utf8')).toContain(`otp-${link.id}`);
    interrupt(file('page.bin'));
    // The network changed: the same browser (cookie jar) resumes from another source address.
    const resumed = await run('curl', ['-sS', '--fail', '--interface', '127.0.0.9', '-b', jar, '-C', '-', '-o', file('page.bin'), link.url]);
    expect(resumed.code).toBe(0);
    expect(readFileSync(file('page.bin')).equals(CONTENT)).toBe(true);
    // The same URL without the cookie: the page says it was used.
    const other = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', link.url]);
    expect(other.stdout).toBe('403');
    expect(await usesOf(link.id)).toBe(1);
  });
});
