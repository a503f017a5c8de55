// Upload links (issue 22) over the local deployment: the links API mints them, the edge takes
// exactly one PUT, S3 stores it without ever replacing an object, and the sender hears of it.
// Tested as a recipient (curl, a plain PUT), a racer (300 concurrent PUTs) and an attacker
// (oversize, wrong type, chunked, tampered, expired, revoked, a download link used for upload).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeWithTools } from './util/clients';
import { http, type HttpResult } from './util/http';

const NAVIGATE = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0', 'accept': 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('upload links over the local deployment', () => {
  let d: LocalDeployment;
  let s3: S3Client;
  let ledger: DynamoDBClient;
  beforeAll(async () => {
    d = await startLocalDeployment({
      objects: { 'uploads/taken.txt': 'already here', 'reports/q4.pdf': 'report' },
      publicApi: true,
      linkEvents: true,
      uploadKeyPrefixes: ['uploads/'],
      maxUploadBytes: 8 * 1024 * 1024,
    });
    // Only the edge role reads linked objects (the bucket policy): read what was stored as it.
    const credentials = d.identities.createSession(d.edgeRoleArn, 3600);
    s3 = new S3Client({ region: d.region, endpoint: d.originUrl, forcePathStyle: true, credentials });
    ledger = new DynamoDBClient({ region: d.region, endpoint: d.services.dynamodb.endpoint });
  });
  afterAll(async () => {
    s3?.destroy();
    ledger?.destroy();
    await d?.close();
  });

  interface Minted { url: string; id: string; expiresAt: string; maxBytes: number; kind: string; contentType?: string }
  async function mintUpload(body: Record<string, unknown>): Promise<Minted> {
    const res = await http(`${d.apiUrl}/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect([res.status, res.text()]).toEqual([201, expect.any(String)]);
    return JSON.parse(res.text()) as Minted;
  }
  const put = (url: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResult> =>
    http(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': String(Buffer.byteLength(body)), ...headers }, body });
  const stored = async (key: string): Promise<Buffer | undefined> => {
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: d.bucket, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if ((err as Error).name === 'NoSuchKey') return undefined;
      throw err;
    }
  };
  const statusOf = async (id: string) => JSON.parse((await http(`${d.apiUrl}/urls/${id}`)).text()) as Record<string, unknown>;
  const updates = () => d.services.dynamodb.calls.get('UpdateItem') ?? 0;
  /** What the clock does to a take that never heard back: its deadline passes (moved, not waited for). */
  const expireTake = (id: string) => ledger.send(new UpdateItemCommand({
    TableName: d.tableName, Key: { id: { S: id } }, UpdateExpression: 'SET uploadUntil = :past', ExpressionAttributeValues: { ':past': { N: String(Math.floor(Date.now() / 1000) - 1) } },
  }));
  const puts = () => d.services.s3.forwarded.get('PutObject') ?? 0;
  const ledgerItem = async (id: string) =>
    (await ledger.send(new GetItemCommand({ TableName: d.tableName, Key: { id: { S: id } }, ConsistentRead: true }))).Item;
  /** Waits until a PUT has taken the link with a deadline after `seconds` (the edge decides once it saw 40 KB), and returns the item. */
  const takenSince = async (id: string, seconds: number) => {
    for (let i = 0; i < 500; i++) {
      const item = await ledgerItem(id);
      if (item?.uploadState?.S === 'uploading' && Number(item.uploadUntil?.N) > seconds) return item;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no PUT took link ${id}`);
  };

  it('mints an upload link that says what it takes, and shows it through the links API', async () => {
    const link = await mintUpload({ key: 'uploads/a.bin', maxBytes: 1000, contentType: 'Application/PDF', expiresInSeconds: 600 });
    expect(link).toMatchObject({ kind: 'upload', maxBytes: 1000, contentType: 'application/pdf' });
    expect(link.url).toContain('x-link-upload=1');
    expect(link.url).toContain('x-link-type=application%2Fpdf');
    expect(await statusOf(link.id)).toMatchObject({ kind: 'upload', uploaded: false, maxBytes: 1000, contentType: 'application/pdf', uses: 0, maxUses: 1 });
  });

  it('refuses bad mint requests with the field named, and writes nothing', async () => {
    const before = d.services.dynamodb.calls.get('PutItem') ?? 0;
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ key: 'uploads/b.bin', maxBytes: 0 }, 400, 'maxBytes'],
      [{ key: 'uploads/b.bin', maxBytes: 8 * 1024 * 1024 + 1 }, 400, 'maxBytes'],
      [{ key: 'uploads/b.bin', maxBytes: '10' }, 400, 'maxBytes'],
      [{ key: 'uploads/b.bin', contentType: 'pdf' }, 400, 'contentType'],
      [{ key: 'uploads/b.bin', contentType: 'text/plain; charset=utf-8' }, 400, 'contentType'],
      [{ key: 'uploads/b.bin', maxUses: 2 }, 400, 'maxUses'],
      [{ key: 'reports/elsewhere.bin' }, 403, 'key'],
      [{ key: 'uploads/taken.txt' }, 409, 'key'],
      [{}, 400, 'key'],
    ];
    for (const [body, status, field] of cases) {
      const res = await http(`${d.apiUrl}/uploads`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect([res.status, (JSON.parse(res.text()) as { field: string }).field]).toEqual([status, field]);
    }
    expect(d.services.dynamodb.calls.get('PutItem') ?? 0).toBe(before);
  });

  it('takes one PUT: stores the exact bytes, then refuses every later one and stores nothing', async () => {
    const link = await mintUpload({ key: 'uploads/one.bin' });
    const body = randomBytes(200_000);
    const first = await put(link.url, body);
    expect([first.status, first.text()]).toEqual([201, 'Upload received: 200000 bytes. You can close this page.']);
    expect((await stored('uploads/one.bin'))?.equals(body)).toBe(true);
    const status = await statusOf(link.id);
    expect(status).toMatchObject({ kind: 'upload', uploaded: true, receivedBytes: 200_000, uses: 1 });
    expect(typeof status.uploadedAt).toBe('string');

    const s3Puts = puts();
    const again = await put(link.url, randomBytes(10));
    expect([again.status, again.text()]).toEqual([403, 'This upload link has already received its file.']);
    expect(puts()).toBe(s3Puts);
    expect((await stored('uploads/one.bin'))?.equals(body)).toBe(true);
    // No answer carries S3's internals.
    expect(Object.keys(first.headers).filter((h) => h.startsWith('x-amz-'))).toEqual([]);
  });

  it('300 concurrent PUTs: one object, the winner\'s bytes; the others are refused and reach no S3', async () => {
    const link = await mintUpload({ key: 'uploads/race.bin' });
    const bodies = Array.from({ length: 300 }, (_, i) => Buffer.concat([Buffer.from(`racer ${i} `), randomBytes(2000)]));
    const s3Puts = puts();
    const answers = await Promise.all(bodies.map((b) => put(link.url, b)));
    const won = answers.map((a, i) => [a.status, i] as const).filter(([status]) => status === 201);
    expect(won).toHaveLength(1);
    expect(answers.filter((a) => a.status === 403)).toHaveLength(299);
    expect(puts() - s3Puts).toBe(1);
    expect((await stored('uploads/race.bin'))?.equals(bodies[won[0][1]])).toBe(true);
  });

  it('refuses before any I/O and spends nothing: oversize, wrong type, no length, chunked, empty, HEAD', async () => {
    const link = await mintUpload({ key: 'uploads/typed.pdf', maxBytes: 1000, contentType: 'application/pdf' });
    const before = { updates: updates(), gets: d.services.dynamodb.calls.get('GetItem') ?? 0, s3: puts() };
    const over = await put(link.url, randomBytes(1001), { 'content-type': 'application/pdf' });
    expect([over.status, over.text()]).toEqual([413, 'The file is 1001 bytes; this link takes at most 1000. Nothing was uploaded.']);
    const wrong = await put(link.url, 'hello', { 'content-type': 'text/plain' });
    expect([wrong.status, wrong.text()]).toEqual([415, expect.stringContaining('only application/pdf')]);
    const untyped = await put(link.url, 'hello', { 'content-type': '' });
    expect(untyped.status).toBe(415);
    const empty = await put(link.url, '', { 'content-type': 'application/pdf' });
    expect(empty.status).toBe(400);
    // Transfer-Encoding: chunked and no Content-Length, as a streaming client sends it.
    const chunked = await http(link.url, { method: 'PUT', headers: { 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' }, body: '%PDF-1.7 chunked' });
    expect([chunked.status, chunked.text()]).toEqual([411, expect.stringContaining('chunked')]);
    const head = await http(link.url, { method: 'HEAD' });
    expect(head.status).toBe(403);
    expect({ updates: updates(), gets: d.services.dynamodb.calls.get('GetItem') ?? 0, s3: puts() }).toEqual(before);
    // The right one still works: a parameter on the type (charset) is fine.
    const ok = await put(link.url, '%PDF-1.7 tiny', { 'content-type': 'application/pdf; charset=binary' });
    expect(ok.status).toBe(201);
  });

  it('never replaces an object: a key that filled after the mint answers 409 and keeps the old bytes', async () => {
    const link = await mintUpload({ key: 'uploads/late.txt' });
    // Someone else writes the key after the link was minted (another upload link, say).
    const other = await mintUpload({ key: 'uploads/late.txt' });
    expect((await put(other.url, 'first')).status).toBe(201);
    const res = await put(link.url, 'second');
    expect([res.status, res.text()]).toEqual([409, 'A file is already stored under this name; nothing was replaced. Ask the sender for a new link.']);
    expect((await stored('uploads/late.txt'))?.toString()).toBe('first');
    // Closed, not given back: another try would only meet the same refusal.
    expect(await statusOf(link.id)).toMatchObject({ uploaded: false, uploadState: 'conflict', uses: 0 });
    const again = await put(link.url, 'third');
    expect([again.status, again.text()]).toEqual([403, 'A file is already stored under this name; nothing was replaced. Ask the sender for a new link.']);
    expect((await stored('uploads/late.txt'))?.toString()).toBe('first');
  });

  it('a PUT that outlived its take still marks the link uploaded; the PUT that took it again meets 412 and changes nothing', async () => {
    const link = await mintUpload({ key: 'uploads/slow.bin' });
    const slow = randomBytes(300_000);
    // A sends half its body and stalls; its take's deadline passes; B takes the link and stalls too.
    const a = stalledPut(link.url, slow);
    await a.sentHalf;
    await takenSince(link.id, 0);
    await expireTake(link.id);
    const b = stalledPut(link.url, randomBytes(200_000));
    await b.sentHalf;
    // B's take: a deadline in the future again.
    await takenSince(link.id, Math.floor(Date.now() / 1000));
    // A finishes first: S3 stores A's bytes, and the link is uploaded although B holds the take.
    const aAnswer = await a.finish();
    expect([aAnswer.status, aAnswer.text()]).toEqual([201, 'Upload received: 300000 bytes. You can close this page.']);
    const bAnswer = await b.finish();
    expect(bAnswer.status).toBe(409);
    expect((await stored('uploads/slow.bin'))?.equals(slow)).toBe(true);
    expect(await statusOf(link.id)).toMatchObject({ uploaded: true, uploadState: 'uploaded', receivedBytes: 300_000, uses: 1 });
    await d.linkEventsSettled();
    expect(d.linkEvents().filter((e) => (e.detail as { id: string }).id === link.id).map((e) => e.detailType)).toEqual(['Link Issued', 'Upload Received']);
  });

  it('refuses web pages and scripts on a link that names no type (they would run on this domain when downloaded)', async () => {
    const link = await mintUpload({ key: 'uploads/invoice.pdf' });
    for (const type of ['text/html', 'text/html; charset=utf-8', 'image/svg+xml', 'application/xhtml+xml', 'text/xml', 'text/javascript']) {
      const res = await put(link.url, '<script>alert(1)</script>', { 'content-type': type });
      expect([type, res.status]).toEqual([type, 415]);
    }
    expect(await stored('uploads/invoice.pdf')).toBeUndefined();
    expect((await put(link.url, '%PDF-1.7', { 'content-type': 'application/pdf' })).status).toBe(201);
    // A sender who asks for HTML gets it.
    const html = await mintUpload({ key: 'uploads/page.html', contentType: 'text/html' });
    expect((await put(html.url, '<p>hi</p>', { 'content-type': 'text/html' })).status).toBe(201);
  });

  it('the file is stored even when the ledger fails after S3\'s 200; the link then holds until its take\'s deadline', async () => {
    const link = await mintUpload({ key: 'uploads/unmarked.bin' });
    const body = randomBytes(100_000);
    const put1 = stalledPut(link.url, body);
    await put1.sentHalf;
    await takenSince(link.id, 0);
    // The take is in the ledger; the write after S3's answer meets errors on both of the client's tries.
    d.services.dynamodb.fault.set({ mode: 'error', status: 500, code: 'InternalServerError', operations: ['UpdateItem'], times: 2 });
    const res = await put1.finish();
    expect([res.status, res.text()]).toEqual([201, 'Upload received: all bytes. You can close this page.']);
    expect((await stored('uploads/unmarked.bin'))?.equals(body)).toBe(true);
    expect(await statusOf(link.id)).toMatchObject({ uploadState: 'uploading', uploaded: false });
  });

  it('refuses expired, revoked, tampered and reused-as-download links', async () => {
    const revoked = await mintUpload({ key: 'uploads/revoked.bin' });
    expect((await http(`${d.apiUrl}/urls/${revoked.id}`, { method: 'DELETE' })).status).toBe(204);
    expect(await put(revoked.url, 'x')).toMatchObject({ status: 403 });
    expect((await put(revoked.url, 'x')).text()).toBe('This upload link has been revoked by the sender.');
    expect(await statusOf(revoked.id)).toMatchObject({ revoked: true, uploaded: false });

    const short = await mintUpload({ key: 'uploads/short.bin', expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    expect((await put(short.url, 'x')).text()).toBe('This link has expired.');

    const link = await mintUpload({ key: 'uploads/tamper.bin', maxBytes: 10 });
    const bigger = link.url.replace('x-link-size=10', 'x-link-size=10000');
    expect((await put(bigger, randomBytes(100))).status).toBe(403);
    const elsewhere = link.url.replace('/uploads/tamper.bin', '/uploads/other.bin');
    expect((await put(elsewhere, 'x')).status).toBe(403);
    // Without the upload flag it is no link at all; a GET of it downloads nothing.
    const asDownload = link.url.replace('&x-link-upload=1', '');
    expect((await http(asDownload)).status).toBe(403);
    // A download link takes no PUT.
    const download = JSON.parse((await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf' }) })).text()) as { url: string };
    expect((await put(download.url, 'overwrite')).status).toBe(403);
    expect((await stored('reports/q4.pdf'))?.toString()).toBe('report');
    expect((await stored('uploads/tamper.bin'))).toBeUndefined();
    expect((await stored('uploads/other.bin'))).toBeUndefined();
  });

  it('shows a browser the upload page after one read, and curl how to upload', async () => {
    const link = await mintUpload({ key: 'uploads/page.bin', maxBytes: 5000 });
    const page = await http(link.url, { headers: NAVIGATE });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const plain = await http(link.url, { headers: { 'user-agent': 'curl/8.5.0' } });
    expect([plain.status, plain.headers.allow, plain.text()]).toEqual([405, 'PUT', expect.stringContaining('curl -T FILE')]);
    expect(await statusOf(link.id)).toMatchObject({ uploaded: false, uses: 0 });
    // A used link's page says so.
    expect((await put(link.url, 'done')).status).toBe(201);
    const after = await http(link.url, { headers: NAVIGATE });
    expect([after.status, after.text()]).toEqual([403, expect.stringContaining('already received its file')]);
  });

  it('publishes Upload Received with the size and type, never who sent it', async () => {
    const link = await mintUpload({ key: 'uploads/event.csv' });
    expect((await put(link.url, 'a,b\n1,2\n', { 'content-type': 'text/csv' })).status).toBe(201);
    await d.linkEventsSettled();
    const events = d.linkEvents().filter((e) => (e.detail as { id: string }).id === link.id);
    expect(events.map((e) => e.detailType)).toEqual(['Link Issued', 'Upload Received']);
    expect(events[1].detail).toMatchObject({ id: link.id, key: 'uploads/event.csv', kind: 'upload', size: 8, contentType: 'text/csv' });
    expect(JSON.stringify(events[1].detail)).not.toMatch(/127\.0\.0|userAgent|"ip"/);
  });

  it('gives the link back when S3 fails the PUT, so the recipient can try again', async () => {
    const link = await mintUpload({ key: 'uploads/retry.bin' });
    d.services.s3.fault.set({ mode: 'error', status: 503, code: 'SlowDown', operations: ['PutObject'], times: 1 });
    const failed = await put(link.url, 'try one');
    expect(failed.status).toBe(503);
    expect(await statusOf(link.id)).toMatchObject({ uploaded: false, uses: 0 });
    const retried = await put(link.url, 'try two');
    expect(retried.status).toBe(201);
    expect((await stored('uploads/retry.bin'))?.toString()).toBe('try two');
  });

  it('an upload whose sender went away mid-body holds the link until its deadline, then it opens again', async () => {
    const link = await mintUpload({ key: 'uploads/dropped.bin' });
    // Half the declared bytes, then the connection is gone: S3 stores nothing, and no
    // origin-response trigger runs for a request that got no answer.
    const dropped = stalledPut(link.url, randomBytes(100_000));
    await dropped.sentHalf;
    const taken = await takenSince(link.id, 0);
    dropped.abort();
    expect(await stored('uploads/dropped.bin')).toBeUndefined();
    expect((await ledgerItem(link.id))?.uploadState?.S).toBe('uploading');
    // 15 minutes plus 100000 bytes at 64 KiB/s (2 s) from the take, whose clock reading may be a
    // second before the time it recorded.
    const took = Math.floor(Date.parse(taken.uploader!.M!.at.S!) / 1000);
    expect(Number(taken.uploadUntil!.N) - took).toBeGreaterThanOrEqual(901);
    expect(Number(taken.uploadUntil!.N) - took).toBeLessThanOrEqual(902);
    const retry = await put(link.url, 'second try');
    expect([retry.status, retry.text()]).toEqual([403, 'A file is being uploaded through this link right now. Try again later if it does not arrive.']);
    await expireTake(link.id);
    const late = await put(link.url, 'third try');
    expect(late.status).toBe(201);
    expect((await stored('uploads/dropped.bin'))?.toString()).toBe('third try');
  });

  describeWithTools(['curl'], 'with curl', () => {
    it('curl -T uploads a 3 MB file once (Expect: 100-continue), and a second curl -T is refused', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'otp-upload-'));
      try {
        const file = join(dir, 'big.bin');
        const body = randomBytes(3 * 1024 * 1024);
        writeFileSync(file, body);
        const link = await mintUpload({ key: 'uploads/curl.bin' });
        const first = await run('curl', ['-sS', '-T', file, '-w', '\n%{http_code}', link.url]);
        expect(first.trim().split('\n').pop()).toBe('201');
        const saved = await stored('uploads/curl.bin');
        expect(createHash('sha256').update(saved!).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
        const second = await run('curl', ['-sS', '-T', file, '-w', '\n%{http_code}', link.url]);
        expect(second.trim().split('\n').pop()).toBe('403');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

/** A PUT that sends half its body, then waits to be told to send the rest (or to go away). */
function stalledPut(url: string, body: Buffer): { sentHalf: Promise<void>; finish: () => Promise<HttpResult>; abort: () => void } {
  const u = new URL(url);
  let answered!: (r: HttpResult) => void;
  let failed!: (e: Error) => void;
  const answer = new Promise<HttpResult>((resolve, reject) => { answered = resolve; failed = reject; });
  const req = httpRequest({ host: u.hostname, port: u.port, method: 'PUT', path: u.pathname + u.search, headers: { 'content-type': 'application/octet-stream', 'content-length': String(body.length) } }, (res) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => {
      const b = Buffer.concat(parts);
      answered({ status: res.statusCode ?? 0, headers: res.headers, body: b, text: () => b.toString('utf8') });
    });
  });
  req.on('error', failed);
  // Over 40 KB, so the edge decides on what was sent (includeBody shows it the first 40 KB).
  const half = body.subarray(0, Math.floor(body.length / 2));
  if (half.length <= 40 * 1024) throw new Error('a stalled PUT must send over 40 KB before it stalls');
  const sentHalf = new Promise<void>((resolve) => req.write(half, () => resolve()));
  return {
    sentHalf,
    finish: () => { req.end(body.subarray(half.length)); return answer; },
    abort: () => { answer.catch(() => undefined); req.destroy(); },
  };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}
