// The local S3's PutObject as Amazon S3 answers it for upload links: If-None-Match: * refuses to
// overwrite (412), the first conditional write to finish wins a race, a delete that overtakes a
// conditional write makes it fail with 409, a PUT needs a Content-Length, and an object appears
// only once its whole body arrived. Sources are cited in local/servers/s3.ts (putObject).
import { randomBytes } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { LocalIdentities, type LocalS3, startS3 } from '../local/servers';
import { keyPath, queryString, type RawResponse, send } from './util/raw-http';

function xmlField(res: RawResponse, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(res.body.toString('utf8'))?.[1];
}

/** A PUT whose body is written by the test, piece by piece; `answer` resolves with the response (or 'reset'). */
function openPut(endpoint: string, path: string, headers: Record<string, string>): { req: ClientRequest; answer: Promise<RawResponse | 'reset'> } {
  const { hostname, port } = new URL(endpoint);
  const req = request({ host: hostname, port, method: 'PUT', path, headers, agent: false });
  const answer = new Promise<RawResponse | 'reset'>((resolve) => {
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', () => resolve('reset'));
  });
  req.flushHeaders();
  return { req, answer };
}

const settle = (ms = 100) => new Promise((r) => setTimeout(r, ms));

describe('local S3 conditional writes and whole-object PUTs', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-conditional-bucket';
  const identities = new LocalIdentities();
  const admin = identities.createAccessKey(identities.createUser('admin'));
  const uploaderRole = identities.createRole('uploader', { readPrefixes: [], writePrefixes: ['uploads/'] });
  const uploader = identities.createSession(uploaderRole, 3600);
  let s3: LocalS3;

  /** A presigned request as the edge will sign a PUT: regional host, UNSIGNED-PAYLOAD, the given headers signed. */
  const presign = async (key: string, headers: Record<string, string> = {}, method = 'PUT', creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = admin): Promise<string> => {
    const presigner = new S3RequestPresigner({ region, credentials: creds, sha256: Sha256 });
    const signed = await presigner.presign(new HttpRequest({
      method,
      protocol: 'https:',
      hostname: s3.regionalHost,
      path: keyPath(key),
      headers: { host: s3.regionalHost, ...headers },
    }), { expiresIn: 300 });
    return `${signed.path}?${queryString(signed.query ?? {})}`;
  };
  const put = async (key: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
    send(s3.endpoint, { method: 'PUT', path: await presign(key, headers), headers: { 'host': s3.regionalHost, 'content-length': String(body.length), ...headers }, body });
  const get = async (key: string): Promise<RawResponse> =>
    send(s3.endpoint, { path: await presign(key, {}, 'GET'), headers: { host: s3.regionalHost } });

  beforeAll(async () => {
    s3 = await startS3({
      region,
      bucket,
      credentials: (id) => identities.find(id),
      mayRead: (principal, key) => identities.mayRead(principal, key),
      mayWrite: (principal, key) => identities.mayWrite(principal, key),
    });
  });
  afterAll(async () => {
    await s3.close();
  });

  it('refuses a second conditional PUT of a key with 412 PreconditionFailed and keeps the first bytes', async () => {
    const first = randomBytes(2048);
    const created = await put('uploads/once.bin', first, { 'if-none-match': '*' });
    expect(created.status).toBe(200);
    expect(created.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);

    const again = await put('uploads/once.bin', randomBytes(2048), { 'if-none-match': '*' });
    expect(again.status).toBe(412);
    expect(again.headers['content-type']).toBe('application/xml');
    expect(xmlField(again, 'Code')).toBe('PreconditionFailed');
    expect(xmlField(again, 'Message')).toBe('At least one of the pre-conditions you specified did not hold');
    expect(xmlField(again, 'Condition')).toBe('If-None-Match');
    expect(again.headers['x-amz-request-id']).toMatch(/^[0-9A-F]{16}$/);

    const stored = await get('uploads/once.bin');
    expect(stored.status).toBe(200);
    expect(stored.body.equals(first)).toBe(true);
  });

  it('lets exactly one of 60 concurrent conditional PUTs of one key win, and stores the winner\'s bytes', async () => {
    const bodies = Array.from({ length: 60 }, () => randomBytes(64 * 1024 + Math.floor(Math.random() * 4096)));
    const answers = await Promise.all(bodies.map((body) => put('uploads/raced.bin', body, { 'if-none-match': '*' })));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 412 || s === 409)).toBe(true);
    for (const loser of answers.filter((a) => a.status !== 200)) {
      expect(xmlField(loser, 'Code')).toBe(loser.status === 412 ? 'PreconditionFailed' : 'ConditionalRequestConflict');
    }
    const winner = bodies[statuses.indexOf(200)];
    const stored = await get('uploads/raced.bin');
    expect(stored.body.length).toBe(winner.length);
    expect(stored.body.equals(winner)).toBe(true);
  });

  it('answers 409 ConditionalRequestConflict to a conditional PUT that a successful delete overtook', async () => {
    const key = 'uploads/overtaken.bin';
    const body = randomBytes(8192);
    const upload = openPut(s3.endpoint, await presign(key, { 'if-none-match': '*' }),
      { 'host': s3.regionalHost, 'content-length': String(body.length), 'if-none-match': '*' });
    upload.req.write(body.subarray(0, 4096));
    await settle();
    const deleted = await send(s3.endpoint, { method: 'DELETE', path: await presign(key, {}, 'DELETE'), headers: { host: s3.regionalHost } });
    expect(deleted.status).toBe(204);
    upload.req.end(body.subarray(4096));
    const answer = await upload.answer;
    expect(answer).not.toBe('reset');
    const res = answer as RawResponse;
    expect(res.status).toBe(409);
    expect(xmlField(res, 'Code')).toBe('ConditionalRequestConflict');
    expect(xmlField(res, 'Message')).toBe('A conflicting conditional operation is currently in progress against this resource. Please try again.');
    expect((await get(key)).status).toBe(404);
  });

  it('answers 501 NotImplemented to If-None-Match with anything but *', async () => {
    const res = await put('uploads/etag-condition.bin', Buffer.from('x'), { 'if-none-match': '"0cc175b9c0f1b6a831c399e269772661"' });
    expect(res.status).toBe(501);
    expect(xmlField(res, 'Code')).toBe('NotImplemented');
    expect(xmlField(res, 'Header')).toBe('If-None-Match');
    expect((await get('uploads/etag-condition.bin')).status).toBe(404);
  });

  it('answers 411 MissingContentLength to a PUT without Content-Length (chunked) and stores nothing', async () => {
    const upload = openPut(s3.endpoint, await presign('uploads/chunked.bin'), { 'host': s3.regionalHost, 'transfer-encoding': 'chunked' });
    upload.req.end(randomBytes(1000));
    const res = await upload.answer as RawResponse;
    expect(res.status).toBe(411);
    expect(xmlField(res, 'Code')).toBe('MissingContentLength');
    expect(xmlField(res, 'Message')).toBe('You must provide the Content-Length HTTP header.');
    expect((await get('uploads/chunked.bin')).status).toBe(404);
  });

  it('never shows an object whose body is still arriving', async () => {
    const key = 'uploads/slow.bin';
    const body = randomBytes(300_000);
    const upload = openPut(s3.endpoint, await presign(key), { 'host': s3.regionalHost, 'content-length': String(body.length) });
    upload.req.write(body.subarray(0, 200_000));
    await settle();
    expect((await get(key)).status).toBe(404);
    upload.req.end(body.subarray(200_000));
    expect(((await upload.answer) as RawResponse).status).toBe(200);
    const stored = await get(key);
    expect(stored.body.equals(body)).toBe(true);
  });

  it('stores nothing when the client goes away before its Content-Length arrived', async () => {
    const key = 'uploads/abandoned.bin';
    const upload = openPut(s3.endpoint, await presign(key), { 'host': s3.regionalHost, 'content-length': '500000' });
    upload.req.write(randomBytes(100_000));
    await settle();
    upload.req.destroy();
    await upload.answer;
    await settle();
    expect((await get(key)).status).toBe(404);
    // A later PUT of the key is unaffected.
    expect((await put(key, Buffer.from('whole'), { 'if-none-match': '*' })).status).toBe(200);
  });

  it('verifies a presigned PUT with UNSIGNED-PAYLOAD and if-none-match signed, and refuses it without the header', async () => {
    const path = await presign('uploads/presigned.bin', { 'if-none-match': '*' });
    const params = new URLSearchParams(path.slice(path.indexOf('?') + 1));
    expect(params.get('X-Amz-SignedHeaders')?.split(';')).toContain('if-none-match');
    expect(params.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD').toBe('UNSIGNED-PAYLOAD');
    const body = Buffer.from('signed condition');

    const dropped = await send(s3.endpoint, { method: 'PUT', path, headers: { 'host': s3.regionalHost, 'content-length': String(body.length) }, body });
    expect(dropped.status).toBe(403);
    expect(xmlField(dropped, 'Code')).toBe('SignatureDoesNotMatch');

    const ok = await send(s3.endpoint, { method: 'PUT', path, headers: { 'host': s3.regionalHost, 'content-length': String(body.length), 'if-none-match': '*' }, body });
    expect(ok.status).toBe(200);
    expect((await get('uploads/presigned.bin')).body.toString()).toBe('signed condition');
  });

  it('lets a role PUT only under the prefixes its identity policy allows (s3:PutObject)', async () => {
    const body = Buffer.from('from the role');
    const signedPut = async (key: string) => {
      const path = await presign(key, {}, 'PUT', uploader);
      return send(s3.endpoint, { method: 'PUT', path, headers: { 'host': s3.regionalHost, 'content-length': String(body.length) }, body });
    };
    expect((await signedPut('uploads/by-role.bin')).status).toBe(200);
    const outside = await signedPut('downloads/by-role.bin');
    expect(outside.status).toBe(403);
    expect(xmlField(outside, 'Code')).toBe('AccessDenied');
    expect((await get('downloads/by-role.bin')).status).toBe(404);
  });
});
