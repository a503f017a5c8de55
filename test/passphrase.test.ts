// Passphrase-protected links (issue 21): only the recipient who knows the passphrase spends a
// use. Tested as an attacker and a mail scanner would: opening, pressing without a passphrase,
// guessing (also in parallel), a passphrase in the query string, and reading every answer,
// log line and event for the secret.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CloudFrontRequest } from 'aws-lambda';
import { startLocalCloudFront } from '../local/cloudfront';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeWithTools } from './util/clients';
import { http, type HttpResult } from './util/http';
import { passphraseOfRequest } from '../src/handlers/passphrase';
import { renderLandingPage } from '../src/shared/landing-page';
import { generatePassphrase, hashPassphrase, passphraseProblem, PASSPHRASE_KDF } from '../src/shared/passphrase';

const CONTENT = randomBytes(60_000);
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const NAVIGATE = { 'user-agent': BROWSER, 'accept': 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const FORM = 'application/x-www-form-urlencoded';

describe('passphrases as mint and edge derive them', () => {
  it('generates 20 random base32 characters (100 bits) in groups a person can read out', () => {
    const a = generatePassphrase();
    expect(a).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
    expect(generatePassphrase()).not.toBe(a);
    expect(passphraseProblem(a)).toBeUndefined();
  });

  it('takes 8 to 128 characters, counted as a person sees them', () => {
    expect(passphraseProblem('1234567')).toMatch(/between 8 and 128/);
    expect(passphraseProblem('12345678')).toBeUndefined();
    expect(passphraseProblem('x'.repeat(128))).toBeUndefined();
    expect(passphraseProblem('x'.repeat(129))).toMatch(/between 8 and 128/);
    // Eight emoji are eight characters (sixteen UTF-16 code units).
    expect(passphraseProblem('🔑'.repeat(8))).toBeUndefined();
    expect(passphraseProblem('🔑'.repeat(129))).toMatch(/between 8 and 128/);
    expect(passphraseProblem('abcdefg\uD800')).toMatch(/Unicode/);
  });

  it('salts with the link id, and hashes the NFC form of what was typed', async () => {
    const id = 'AAAAAAAAAAAAAAAAAAAAAA';
    const key = await hashPassphrase('café au lait', id);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The same passphrase typed with a combining accent (NFD) is the same passphrase.
    expect(await hashPassphrase('cafe\u0301 au lait', id)).toBe(key);
    expect(await hashPassphrase('café au lait', 'BBBBBBBBBBBBBBBBBBBBBB')).not.toBe(key);
    expect(await hashPassphrase('cafe au lait', id)).not.toBe(key);
    // Memory-hard: 128 * N * r bytes of scrypt state, 16 MiB (fits 128 MB beside the SDK).
    expect(128 * PASSPHRASE_KDF.N * PASSPHRASE_KDF.r).toBe(16 * 1024 * 1024);
  });

  it('renders the page\'s form with a password field, and the notice of a refused try', () => {
    const page = renderLandingPage({ title: 'Files', expiresAt: new Date(Date.UTC(2026, 11, 1)), usesLeft: 1, passphrase: true, notice: 'Wrong <passphrase>.' });
    expect(page.html).toContain('<p class="notice" role="alert">Wrong &lt;passphrase&gt;.</p>');
    expect(page.html).toContain('<form method="post"><label for="passphrase">Passphrase</label>'
      + '<input id="passphrase" type="password" name="passphrase" required autocomplete="off" autocapitalize="off" spellcheck="false">'
      + '<button type="submit">Download</button></form>');
    expect(page.html).not.toMatch(/<script|action=/);
  });
});

describe('reading the passphrase from a press, before any I/O', () => {
  const pressOf = (body: string | undefined, type = FORM, truncated = false): CloudFrontRequest => ({
    clientIp: '203.0.113.7',
    method: 'POST',
    uri: '/f',
    querystring: '',
    headers: { 'content-type': [{ key: 'Content-Type', value: type }] },
    ...(body === undefined ? {} : { body: { inputTruncated: truncated, action: 'read-only', encoding: 'base64', data: Buffer.from(body).toString('base64') } }),
  });

  it('reads the form as a browser and curl encode it', () => {
    expect(passphraseOfRequest(pressOf('passphrase=correct+horse+battery'))).toEqual({ passphrase: 'correct horse battery' });
    expect(passphraseOfRequest(pressOf('x=1&passphrase=caf%C3%A9+%26+cr%C3%A8me%2B'))).toEqual({ passphrase: 'café & crème+' });
    expect(passphraseOfRequest(pressOf('passphrase=12345678', `${FORM}; charset=UTF-8`))).toEqual({ passphrase: '12345678' });
  });

  it('says why nothing usable came, and never echoes it', () => {
    expect(passphraseOfRequest(pressOf(undefined))).toEqual({ missing: 'missing' });
    expect(passphraseOfRequest(pressOf(''))).toEqual({ missing: 'missing' });
    expect(passphraseOfRequest(pressOf('passphrase='))).toEqual({ missing: 'missing' });
    expect(passphraseOfRequest(pressOf('passphrase=12345678', FORM, true))).toEqual({ missing: 'truncated' });
    expect(passphraseOfRequest(pressOf('passphrase=12345678', 'multipart/form-data; boundary=x'))).toEqual({ missing: 'unreadable' });
    expect(passphraseOfRequest(pressOf('passphrase=12345678&passphrase=87654321'))).toEqual({ missing: 'unreadable' });
    expect(passphraseOfRequest(pressOf('passphrase=1234567'))).toEqual({ missing: 'impossible' });
    expect(passphraseOfRequest(pressOf(`passphrase=${'x'.repeat(129)}`))).toEqual({ missing: 'impossible' });
  });
});

describe('the local CloudFront\'s Include Body, as Lambda@Edge exposes a body', () => {
  async function seen(includeBody: boolean, method: string, body?: Buffer): Promise<CloudFrontRequest['body'] | null> {
    let got: CloudFrontRequest['body'] | null = null;
    const cf = await startLocalCloudFront({
      handler: async (event) => {
        got = event.Records[0].cf.request.body ?? null;
        return { status: '204', statusDescription: 'No Content' };
      },
      originEndpoint: 'http://127.0.0.1:9',
      originHost: 'bucket.s3.eu-west-1.amazonaws.com',
      originCustomHeaders: {},
      includeBody,
    });
    try {
      expect((await http(`${cf.url}/x`, { method, body, headers: { 'content-type': FORM } })).status).toBe(204);
      return got;
    } finally {
      await cf.close();
    }
  }

  it('hands a POST body over base64-encoded, read-only, and flags nothing when it is whole', async () => {
    const body = Buffer.from('passphrase=correct+horse&x=%C3%A9');
    expect(await seen(true, 'POST', body)).toEqual({ inputTruncated: false, action: 'read-only', encoding: 'base64', data: body.toString('base64') });
  });

  it('cuts a viewer request\'s body at 40 KB and says so (inputTruncated)', async () => {
    const body = randomBytes(50_000);
    expect(await seen(true, 'POST', body)).toEqual({ inputTruncated: true, action: 'read-only', encoding: 'base64', data: body.subarray(0, 40 * 1024).toString('base64') });
  });

  it('shows no body without Include Body, nor for a GET', async () => {
    expect(await seen(false, 'POST', Buffer.from('passphrase=abcdefgh'))).toBeNull();
    expect(await seen(true, 'GET')).toBeNull();
  });
});

describe('passphrase-protected links over the local deployment', () => {
  let d: LocalDeployment;
  const printed: string[] = [];
  /** Everything any answer of the deployment carried (status lines, headers, bodies). */
  const answers: string[] = [];
  const record = (res: HttpResult): HttpResult => {
    answers.push(JSON.stringify(res.headers), res.body.toString('latin1'));
    return res;
  };

  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true, linkEvents: true, maxUsesLimit: 5, passphraseAttempts: 5 });
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      jest.spyOn(console, level).mockImplementation((...args: unknown[]) => { printed.push(args.map(String).join(' ')); });
    }
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await d?.close();
  });

  interface Minted { url: string; id: string; passphraseProtected: boolean; landingPage: boolean; passphrase?: string }
  async function mint(body: Record<string, unknown>): Promise<Minted> {
    const res = record(await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', ...body }) }));
    expect(res.status).toBe(201);
    return JSON.parse(res.text()) as Minted;
  }
  interface Status { uses: number; revoked: boolean; passphraseProtected?: boolean; locked?: boolean; passphraseTriesLeft?: number }
  const statusOf = async (id: string) => JSON.parse(record(await http(`${d.apiUrl}/urls/${id}`)).text()) as Status;
  const press = async (url: string, body: string, headers: Record<string, string> = {}, from = '127.0.0.2') =>
    record(await http(url, { method: 'POST', localAddress: from, headers: { 'user-agent': 'curl/8.5.0', 'content-type': FORM, ...headers }, body }));
  const form = (passphrase: string) => `passphrase=${encodeURIComponent(passphrase)}`;
  const cookieOf = (res: HttpResult) => String(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '').split(';')[0];
  const calls = () => ({ get: d.services.dynamodb.calls.get('GetItem') ?? 0, update: d.services.dynamodb.calls.get('UpdateItem') ?? 0 });

  const SECRET = 'correct horse battery staple';

  it('mints a protected link: always a landing page, the answer never repeats the passphrase', async () => {
    const link = await mint({ passphrase: SECRET, landingPage: true });
    expect(link).toMatchObject({ passphraseProtected: true, landingPage: true });
    expect(link).not.toHaveProperty('passphrase');
    expect(link.url).toContain('x-link-page=1');
    expect(link.url).toContain('x-link-pass=1');
    const status = await statusOf(link.id);
    expect(status).toMatchObject({ passphraseProtected: true, locked: false, passphraseTriesLeft: 5, uses: 0 });
    // Even without landingPage (the deployment's default is off) the link gets its page.
    expect(await mint({ passphrase: SECRET })).toMatchObject({ passphraseProtected: true, landingPage: true });
    expect(await mint({})).toMatchObject({ passphraseProtected: false, landingPage: false });
  });

  it('generates a passphrase on request and shows it this once', async () => {
    const link = await mint({ generatePassphrase: true });
    expect(link.passphrase).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){4}$/);
    const status = await http(`${d.apiUrl}/urls/${link.id}`);
    expect(status.text()).not.toContain(link.passphrase);
    const pressed = await press(link.url, form(link.passphrase!));
    expect(pressed.status).toBe(303);
  });

  it('refuses bad passphrase requests with a message naming the field, and writes nothing', async () => {
    const puts = d.services.dynamodb.calls.get('PutItem') ?? 0;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ passphrase: 'short' }, 'passphrase'],
      [{ passphrase: 'x'.repeat(129) }, 'passphrase'],
      [{ passphrase: 12345678 }, 'passphrase'],
      [{ passphrase: SECRET, generatePassphrase: true }, 'generatePassphrase'],
      [{ generatePassphrase: 'yes' }, 'generatePassphrase'],
      [{ passphrase: SECRET, landingPage: false }, 'landingPage'],
    ];
    for (const [body, field] of cases) {
      const res = record(await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', ...body }) }));
      expect([res.status, (JSON.parse(res.text()) as { field: string }).field]).toEqual([400, field]);
      expect(res.text()).not.toContain(SECRET);
      expect(res.text()).not.toContain('short');
    }
    // The seed's GET /get-url takes no passphrase: it would be in a URL, and ignoring it would
    // issue an unprotected link.
    for (const query of [`passphrase=${encodeURIComponent(SECRET)}`, 'generatePassphrase=true']) {
      const res = record(await http(`${d.apiUrl}/get-url?key=reports/q4.pdf&${query}`));
      expect([res.status, (JSON.parse(res.text()) as { error: string }).error]).toEqual([400, expect.stringMatching(/only taken in the JSON body of POST \/urls/)]);
      expect(res.text()).not.toContain('horse');
    }
    expect(d.services.dynamodb.calls.get('PutItem') ?? 0).toBe(puts);
  });

  it('shows the page with a passphrase field on open, and spends nothing', async () => {
    const link = await mint({ passphrase: SECRET });
    const before = calls();
    const page = record(await http(link.url, { headers: NAVIGATE }));
    expect(page.status).toBe(200);
    expect(page.text()).toContain('<input id="passphrase" type="password" name="passphrase"');
    expect(calls().update).toBe(before.update);
    expect((await statusOf(link.id)).uses).toBe(0);
  });

  it('refuses a press without a passphrase (a scanner submitting the form) before any I/O, and counts nothing', async () => {
    const link = await mint({ passphrase: SECRET });
    const before = calls();
    for (const body of ['', 'passphrase=', 'other=1', 'passphrase=a&passphrase=b', 'passphrase=1234567']) {
      const res = await press(link.url, body, { ...NAVIGATE, 'content-type': FORM });
      expect([body, res.status]).toEqual([body, 403]);
    }
    // A body CloudFront cut at 40 KB (inputTruncated) is not read, even if the passphrase came first.
    const huge = await press(link.url, `${form(SECRET)}&pad=${'x'.repeat(50_000)}`);
    expect([huge.status, /too large/.test(huge.text())]).toEqual([403, true]);
    // A passphrase in the query string is ignored: the press has none.
    const inQuery = await press(`${link.url}&passphrase=${encodeURIComponent(SECRET)}`, '');
    expect(inQuery.status).toBe(403);
    expect(inQuery.text()).toMatch(/needs its passphrase/);
    // Not a form: a JSON body or multipart is not read.
    expect((await press(link.url, JSON.stringify({ passphrase: SECRET }), { 'content-type': 'application/json' })).status).toBe(403);
    expect(calls()).toEqual(before);
    expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 5, locked: false });
  });

  it('refuses a wrong passphrase, spends nothing, and says how many tries are left', async () => {
    const link = await mint({ passphrase: SECRET });
    const wrong = await press(link.url, form('not the passphrase'));
    expect(wrong.status).toBe(403);
    expect(wrong.text()).toBe('Wrong passphrase. Nothing was spent. 4 tries left before the link locks.');
    expect(wrong.headers['set-cookie']).toBeUndefined();
    // A browser gets the page again, with the notice and the field.
    const page = await press(link.url, form('still not it!'), NAVIGATE);
    expect(page.status).toBe(403);
    expect(page.text()).toContain('3 tries left before the link locks.');
    expect(page.text()).toContain('name="passphrase"');
    expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 3, locked: false });
    // The right one still works.
    expect((await press(link.url, form(SECRET))).status).toBe(303);
  });

  it('locks after exactly the limit of wrong tries sent in parallel; then the right one is refused too', async () => {
    const link = await mint({ passphrase: SECRET, maxUses: 2 });
    const answersOf = await Promise.all(Array.from({ length: 20 }, (_, i) => press(link.url, form(`wrong guess ${i}`), {}, `127.0.0.${10 + i}`)));
    expect(answersOf.map((r) => r.status)).toEqual(Array(20).fill(403));
    const texts = answersOf.map((r) => r.text());
    // Exactly four answers counted a try with some left, each a different count; the rest say locked.
    const counted = texts.filter((t) => /(try|tries) left/.test(t)).sort();
    expect(counted).toEqual([1, 2, 3, 4].map((n) => `Wrong passphrase. Nothing was spent. ${n === 1 ? '1 try' : `${n} tries`} left before the link locks.`));
    expect(texts.filter((t) => /locked/.test(t))).toHaveLength(16);
    // The function logged each counted try by link id: four wrong, one that locked it.
    const logged = (event: string) => printed.filter((l) => l.includes(`"event":"${event}","id":"${link.id}"`)).length;
    expect([logged('passphrase-wrong'), logged('passphrase-locked')]).toEqual([4, 1]);
    expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 0, locked: true });

    const right = await press(link.url, form(SECRET));
    expect([right.status, right.text()]).toEqual([403, 'This link is locked: its passphrase was entered wrongly too many times. Ask the sender for a new link.']);
    const opened = record(await http(link.url, { headers: NAVIGATE }));
    expect([opened.status, /locked/.test(opened.text()), /name="passphrase"/.test(opened.text())]).toEqual([403, true, false]);
    // Also a browser with a cookie that holds no session (it gets the page, not a form, otherwise).
    const forged = record(await http(link.url, { headers: { ...NAVIGATE, cookie: `otp-${link.id}=${'A'.repeat(22)}` } }));
    expect([forged.status, /locked/.test(forged.text()), /name="passphrase"/.test(forged.text())]).toEqual([403, true, false]);
    expect((await statusOf(link.id)).uses).toBe(0);

    await d.linkEventsSettled();
    const locked = d.linkEvents().filter((e) => e.detailType === 'Link Locked' && (e.detail as { id: string }).id === link.id);
    expect(locked).toHaveLength(1);
  });

  it('downloads the exact bytes once with the right passphrase; the browser\'s ranges continue; a second press is refused', async () => {
    const link = await mint({ passphrase: SECRET });
    const pressed = await press(link.url, form(SECRET));
    expect(pressed.status).toBe(303);
    const cookie = cookieOf(pressed);
    expect(cookie).toMatch(new RegExp(`^otp-${link.id}=`));
    const file = record(await http(String(new URL(String(pressed.headers.location), link.url)), { headers: { cookie } }));
    expect([file.status, file.body.equals(CONTENT)]).toEqual([200, true]);
    // The same browser resumes from another address: no passphrase needed, nothing spent.
    const resumed = await http(link.url, { localAddress: '127.0.0.9', headers: { cookie, range: 'bytes=1000-' } });
    expect([resumed.status, resumed.body.equals(CONTENT.subarray(1000))]).toEqual([206, true]);
    expect((await statusOf(link.id)).uses).toBe(1);
    const again = await press(link.url, form(SECRET), {}, '127.0.0.3');
    expect([again.status, /already been used/.test(again.text())]).toEqual([403, true]);
    expect(await statusOf(link.id)).toMatchObject({ uses: 1, passphraseTriesLeft: 5 });
  });

  it('asks for the passphrase on every use of an N-use link', async () => {
    const link = await mint({ passphrase: SECRET, maxUses: 2 });
    for (let use = 1; use <= 2; use++) {
      expect((await press(link.url, '')).status).toBe(403);
      const pressed = await press(link.url, form(SECRET), {}, `127.0.0.${20 + use}`);
      expect(pressed.status).toBe(303);
      const file = await http(link.url, { headers: { cookie: cookieOf(pressed) } });
      expect(file.body.equals(CONTENT)).toBe(true);
      expect((await statusOf(link.id)).uses).toBe(use);
    }
    expect((await press(link.url, form(SECRET))).status).toBe(403);
  });

  it('counts no wrong try on a revoked link: it says revoked', async () => {
    const link = await mint({ passphrase: SECRET });
    expect((await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' })).status).toBe(204);
    const res = await press(link.url, form('a wrong guess'));
    expect([res.status, /revoked/.test(res.text())]).toEqual([403, true]);
    expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 5, revoked: true });
  });

  it('cannot be stripped of its flag or page: an edited link matches nothing and counts nothing', async () => {
    const link = await mint({ passphrase: SECRET });
    const stripped = link.url.replace('&x-link-pass=1', '');
    const pressed = await press(stripped, '');
    expect([pressed.status, /not valid/.test(pressed.text())]).toEqual([403, true]);
    const direct = await http(stripped.replace('&x-link-page=1', ''));
    expect(direct.status).toBe(403);
    const guessed = await press(stripped.replace('x-link-pass', 'x-link-page'), form('a wrong one'));
    expect(guessed.status).toBe(403);
    expect(await statusOf(link.id)).toMatchObject({ uses: 0, passphraseTriesLeft: 5 });
  });

  it('keeps the passphrase and its hash out of every answer, log line and event', async () => {
    const link = await mint({ passphrase: SECRET });
    await press(link.url, form('wrong wrong wrong'));
    await press(link.url, form(SECRET));
    const generated = await mint({ generatePassphrase: true });
    await press(generated.url, form('wrong wrong wrong'));
    for (const l of [link, generated]) {
      expect(await statusOf(l.id)).toMatchObject({ passphraseProtected: true, locked: false });
      record(await http(l.url, { headers: NAVIGATE }));
    }
    await d.linkEventsSettled();
    const credentials = { accessKeyId: d.accessKeyId, secretAccessKey: d.secretAccessKey };
    const client = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint, credentials });
    const hashes: string[] = [];
    for (const id of [link.id, generated.id]) {
      const { Item } = await client.send(new GetItemCommand({ TableName: d.tableName, Key: { id: { S: id } } }));
      hashes.push(Item!.passphraseHash.S!);
    }
    client.destroy();
    expect(hashes[0]).toBe(await hashPassphrase(SECRET, link.id));
    // The generate answer is the one place a passphrase is returned, once: leave it out.
    const returned = answers.filter((a) => !(generated.passphrase && a.includes('"passphrase":"') && a.includes(generated.id)));
    const events = JSON.stringify(d.linkEvents());
    const logs = printed.join('\n');
    for (const secret of [SECRET, encodeURIComponent(SECRET), form(SECRET), generated.passphrase!, ...hashes]) {
      for (const [where, text] of [['answers', returned.join('\n')], ['logs', logs], ['events', events]]) {
        expect([where, text.includes(secret)]).toEqual([where, false]);
      }
    }
    // The logs did capture the functions: decisions by link id.
    expect(logs).toContain(`"event":"issued","id":"${link.id}"`);
    expect(logs).toContain(`"event":"passphrase-wrong","id":"${link.id}","triesLeft":4`);
  });

  describeWithTools(['curl'], 'from curl', () => {
    it('downloads with curl -d passphrase=... -L, the README\'s command', async () => {
      const link = await mint({ passphrase: SECRET });
      const dir = mkdtempSync(join(tmpdir(), 'otp-pass-'));
      try {
        const out = join(dir, 'q4.pdf');
        writeFileSync(out, '');
        const code = await new Promise<number>((resolve) => {
          const args = ['-sS', '--fail', '-L', '-b', '', '--data-urlencode', `passphrase=${SECRET}`, '-o', out, link.url];
          execFile('curl', args, (err) => resolve(err ? 1 : 0));
        });
        expect(code).toBe(0);
        expect(readFileSync(out).equals(CONTENT)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
