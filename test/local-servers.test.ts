import { createHash, randomBytes } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  CallCounter,
  canonicalQuery,
  canonicalUri,
  FaultInjector,
  type LocalAwsJson,
  type LocalDynamoDB,
  type LocalS3,
  parseQuery,
  S3AuthError,
  startAwsJsonServices,
  startDynamoDB,
  startS3,
  verifySigV4,
} from '../local/servers';
import { keyPath, queryString, type RawResponse, send } from './util/raw-http';
import { rejection } from './util/rejection';

function errorCode(res: RawResponse): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(res.body.toString('utf8'))?.[1];
}

// requestTimeout alone only logs a warning in @smithy/node-http-handler 4.x; throwOnRequestTimeout makes it fail.
const fastHandler = (requestTimeout = 2000): NodeHttpHandler =>
  new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout, throwOnRequestTimeout: true });

describe('CallCounter and FaultInjector', () => {
  test('counts per operation', () => {
    const c = new CallCounter();
    c.record('UpdateItem');
    c.record('UpdateItem');
    c.record('GetItem');
    expect(c.get('UpdateItem')).toBe(2);
    expect(c.get('Scan')).toBe(0);
    expect(c.total()).toBe(3);
    const snap = c.snapshot();
    c.reset();
    expect(snap).toEqual({ UpdateItem: 2, GetItem: 1 });
    expect(c.total()).toBe(0);
  });

  test('faults filter by operation and expire after `times`', () => {
    const f = new FaultInjector();
    f.set({ mode: 'error', operations: ['UpdateItem'], times: 2 });
    expect(f.take('GetItem')).toBeUndefined();
    expect(f.take('UpdateItem')?.mode).toBe('error');
    expect(f.take('UpdateItem')?.mode).toBe('error');
    expect(f.take('UpdateItem')).toBeUndefined();
    expect(() => f.set({ mode: 'error', times: 0 })).toThrow(/times/);
  });
});

describe('SigV4 canonicalization (S3 rules)', () => {
  test('the path is used as received, never double-encoded', () => {
    expect(canonicalUri('/a%20b/c%2Bd')).toBe('/a%20b/c%2Bd');
    expect(canonicalUri('/na%C3%AFve/%E2%98%83.txt')).toBe('/na%C3%AFve/%E2%98%83.txt');
    // Characters a signer would have escaped but the client sent raw get encoded.
    expect(canonicalUri('/a=b!')).toBe('/a%3Db%21');
    expect(canonicalUri('/100%')).toBe('/100%25');
    expect(canonicalUri('')).toBe('/');
  });

  test('other services normalize the path and encode it twice', () => {
    expect(canonicalUri('/things/a%20b/./c/../d/', true)).toBe('/things/a%2520b/d/');
    expect(canonicalUri('/', true)).toBe('/');
  });

  test('the query is decoded, re-encoded and sorted, without X-Amz-Signature', () => {
    const pairs = parseQuery('b=2&X-Amz-Signature=abc&a=x%20y&a=1&empty&c=%2F');
    expect(canonicalQuery(pairs)).toBe('a=1&a=x%20y&b=2&c=%2F&empty=');
  });

  test('verifies a non-S3 (execute-api) request signed by SignatureV4, payload = body hash', async () => {
    const credentials = { accessKeyId: 'AKIAAPI', secretAccessKey: 'api-secret' };
    const body = '{"key":"a b.txt"}';
    const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'execute-api', sha256: Sha256 });
    const signed = await signer.sign(new HttpRequest({
      method: 'POST',
      protocol: 'https:',
      hostname: 'api.local',
      path: '/links/a%20b',
      query: { k: 'v w' },
      headers: { 'host': 'api.local', 'content-type': 'application/json' },
      body,
    }));
    const rawHeaders = Object.entries(signed.headers).flat();
    const received = { method: 'POST', rawPath: '/links/a%20b', rawQuery: 'k=v%20w', rawHeaders };
    const base = { credentials: [credentials], region: 'eu-west-1', service: 'execute-api', now: Date.now() };
    const bodySha256 = createHash('sha256').update(body).digest('hex');
    expect(verifySigV4(received, { ...base, bodySha256 })).toMatchObject({ mechanism: 'header', accessKeyId: 'AKIAAPI' });
    const tampered = createHash('sha256').update(`${body} `).digest('hex');
    expect(() => verifySigV4(received, { ...base, bodySha256: tampered })).toThrow(S3AuthError);
    expect(() => verifySigV4(received, { ...base, bodySha256, uriEscapePath: false })).toThrow(/signature we calculated/);
  });
});

describe('local DynamoDB (dynalite)', () => {
  let ddb: LocalDynamoDB;
  let client: DynamoDBClient;

  beforeAll(async () => {
    ddb = await startDynamoDB({ tables: [{ name: 'links', hashKey: 'id' }, { name: 'pairs', hashKey: 'pk', rangeKey: 'sk' }] });
    client = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      requestHandler: fastHandler(),
    });
  });

  afterAll(async () => {
    client.destroy();
    await ddb.close();
  });

  afterEach(() => {
    ddb.fault.clear();
  });

  test('binds to 127.0.0.1, creates the tables and does not count setup calls', async () => {
    expect(ddb.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ddb.calls.total()).toBe(0);
    const tables = await client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toEqual(['links', 'pairs']);
    expect(ddb.calls.get('ListTables')).toBe(1);
  });

  test('conditional UpdateItem is atomic under concurrency and counted per operation', async () => {
    await client.send(new PutItemCommand({ TableName: 'links', Item: { id: { S: 'l1' }, uses: { N: '0' } } }));
    ddb.calls.reset();
    const attempts = await Promise.allSettled(Array.from({ length: 20 }, () => client.send(new UpdateItemCommand({
      TableName: 'links',
      Key: { id: { S: 'l1' } },
      UpdateExpression: 'SET uses = uses + :one',
      ConditionExpression: 'attribute_exists(id) AND uses < :max',
      ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: '1' } },
    }))));
    expect(attempts.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    const failures = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(new Set(failures.map((f) => (f.reason as Error).name))).toEqual(new Set(['ConditionalCheckFailedException']));
    expect(ddb.calls.snapshot()).toEqual({ UpdateItem: 20 });
  });

  test('throttle and error faults answer in DynamoDB shape, only for the chosen operations', async () => {
    ddb.fault.set({ mode: 'throttle', operations: ['UpdateItem'] });
    const throttled = await rejection(client.send(new UpdateItemCommand({
      TableName: 'links', Key: { id: { S: 'l1' } }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': { S: 'x' } },
    })));
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$metadata?.httpStatusCode).toBe(400);
    await expect(client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } }))).resolves.toBeDefined();

    ddb.fault.set({ mode: 'throttle', code: 'ProvisionedThroughputExceededException' });
    expect((await rejection(client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } })))).name)
      .toBe('ProvisionedThroughputExceededException');

    ddb.fault.set({ mode: 'error' });
    const failed = await rejection(client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } })));
    expect(failed.name).toBe('InternalServerError');
    expect(failed.$metadata?.httpStatusCode).toBe(500);
  });

  test('a `times`-limited fault lets the SDK retry succeed', async () => {
    const retrying = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 2,
      requestHandler: fastHandler(),
    });
    try {
      ddb.calls.reset();
      ddb.fault.set({ mode: 'error', times: 1 });
      const got = await retrying.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } }));
      expect(got.Item?.id?.S).toBe('l1');
      expect(ddb.calls.get('GetItem')).toBe(2);
      expect(ddb.fault.active).toBeUndefined();
    } finally {
      retrying.destroy();
    }
  });

  test('delay adds latency, hang trips the client timeout, reset drops the connection', async () => {
    ddb.fault.set({ mode: 'delay', delayMs: 250 });
    const started = Date.now();
    await client.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);

    const impatient = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      requestHandler: fastHandler(200),
    });
    try {
      ddb.fault.set({ mode: 'hang' });
      const hung = await rejection(impatient.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } })));
      expect(hung.name).toBe('TimeoutError');

      ddb.fault.set({ mode: 'reset' });
      const reset = await rejection(impatient.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } })));
      // No HTTP answer at all: the connection was dropped.
      expect(reset.$metadata?.httpStatusCode).toBeUndefined();

      ddb.fault.clear();
      await expect(impatient.send(new GetItemCommand({ TableName: 'links', Key: { id: { S: 'l1' } } }))).resolves.toBeDefined();
    } finally {
      impatient.destroy();
    }
  });

  test('close() ends hung requests promptly', async () => {
    const other = await startDynamoDB();
    other.fault.set({ mode: 'hang' });
    const pending = send(other.endpoint, { method: 'POST', path: '/', headers: { 'x-amz-target': 'DynamoDB_20120810.ListTables' }, body: '{}' });
    const outcome = pending.then(() => 'answered', () => 'dropped');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await outcome).toBe('dropped');
  });
});

describe('local SSM (AWS JSON 1.1)', () => {
  let svc: LocalAwsJson;
  const creds = { accessKeyId: 'local', secretAccessKey: 'local' };

  beforeAll(async () => {
    svc = await startAwsJsonServices({
      parameters: { '/otp/dev/config': '{"tableName":"links"}', 'plain': 'v' },
    });
  });

  afterAll(async () => {
    await svc.close();
  });

  afterEach(() => {
    svc.fault.clear();
  });

  test('GetParameter through the real SSMClient; versions go up on set', async () => {
    const ssm = new SSMClient({ endpoint: svc.endpoint, region: 'eu-west-1', credentials: creds, maxAttempts: 1 });
    try {
      const got = await ssm.send(new GetParameterCommand({ Name: '/otp/dev/config', WithDecryption: true }));
      expect(got.Parameter).toMatchObject({
        Name: '/otp/dev/config',
        Type: 'String',
        Value: '{"tableName":"links"}',
        Version: 1,
        ARN: 'arn:aws:ssm:eu-west-1:123456789012:parameter/otp/dev/config',
      });
      expect(got.Parameter?.LastModifiedDate).toBeInstanceOf(Date);

      svc.setParameter('/otp/dev/config', 'v2');
      const again = await ssm.send(new GetParameterCommand({ Name: got.Parameter?.ARN }));
      expect(again.Parameter).toMatchObject({ Value: 'v2', Version: 2 });

      const plain = await ssm.send(new GetParameterCommand({ Name: 'plain' }));
      expect(plain.Parameter?.ARN).toBe('arn:aws:ssm:eu-west-1:123456789012:parameter/plain');

      const missing = await rejection(ssm.send(new GetParameterCommand({ Name: '/nope' })));
      expect(missing.name).toBe('ParameterNotFound');
      expect(missing.$metadata?.httpStatusCode).toBe(400);
      expect(svc.calls.get('GetParameter')).toBeGreaterThanOrEqual(4);
    } finally {
      ssm.destroy();
    }
  });

  test('the SSM client finds it through AWS_ENDPOINT_URL_SSM', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_SSM;
    process.env.AWS_ENDPOINT_URL_SSM = svc.endpoint;
    const ssm = new SSMClient({ region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    try {
      svc.calls.reset();
      expect((await ssm.send(new GetParameterCommand({ Name: 'plain' }))).Parameter?.Value).toBe('v');
      expect(svc.calls.snapshot()).toEqual({ GetParameter: 1 });
    } finally {
      ssm.destroy();
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SSM;
      else process.env.AWS_ENDPOINT_URL_SSM = saved;
    }
  });

  test('unknown operations and faults', async () => {
    const unknown = await send(svc.endpoint, {
      method: 'POST',
      path: '/',
      body: '{}',
      headers: { 'x-amz-target': 'AmazonSSM.PutParameter', 'content-type': 'application/x-amz-json-1.1' },
    });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body.toString())).toMatchObject({ __type: 'UnknownOperationException' });

    const ssm = new SSMClient({ endpoint: svc.endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
    try {
      svc.fault.set({ mode: 'throttle', operations: ['GetParameter'] });
      expect((await rejection(ssm.send(new GetParameterCommand({ Name: 'plain' })))).name).toBe('ThrottlingException');
      svc.fault.set({ mode: 'error' });
      const failed = await rejection(ssm.send(new GetParameterCommand({ Name: 'plain' })));
      expect(failed.name).toBe('InternalServerError');
      expect(failed.$metadata?.httpStatusCode).toBe(500);
    } finally {
      ssm.destroy();
    }
  });
});

describe('local S3 with a SigV4-verifying front', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-test-bucket';
  const credentials = { accessKeyId: 'AKIALOCALTEST', secretAccessKey: 'local-secret-key' };
  const SECRET = 'origin-verify-secret';
  const KEY = 'reports/q1.bin';
  const CONTENT = randomBytes(4096);
  let s3: LocalS3;
  let client: S3Client;

  const makeClient = (creds: { accessKeyId: string; secretAccessKey: string }): S3Client => new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region,
    credentials: creds,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: fastHandler(),
  });

  /** Presigns a GET (by default) the way the mint does: regional host, x-origin-verify signed, x-link-id in the query. */
  const presign = async (opts: {
    key?: string;
    host?: string;
    method?: string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
    expiresIn?: number;
    signingDate?: Date;
    signingRegion?: string;
  } = {}): Promise<string> => {
    const host = opts.host ?? s3.regionalHost;
    const presigner = new S3RequestPresigner({ region: opts.signingRegion ?? region, credentials, sha256: Sha256 });
    const signed = await presigner.presign(new HttpRequest({
      method: opts.method ?? 'GET',
      protocol: 'https:',
      hostname: host,
      path: keyPath(opts.key ?? KEY),
      headers: { host, ...(opts.headers ?? { 'x-origin-verify': SECRET }) },
      query: opts.query ?? { 'x-link-id': 'abc' },
    }), { expiresIn: opts.expiresIn ?? 300, signingDate: opts.signingDate });
    return `${signed.path}?${queryString(signed.query ?? {})}`;
  };

  /** Sends a request the way the local CloudFront will: to the front's port with Host = the origin host. */
  const viaOrigin = (path: string, headers: Record<string, string> = { 'x-origin-verify': SECRET }, method = 'GET'): Promise<RawResponse> =>
    send(s3.endpoint, { method, path, headers: { host: s3.regionalHost, ...headers } });

  beforeAll(async () => {
    s3 = await startS3({ region, bucket, credentials });
    client = makeClient(credentials);
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: CONTENT }));
  });

  afterAll(async () => {
    client.destroy();
    await s3.close();
  });

  afterEach(() => {
    s3.fault.clear();
  });

  test('exposes the front endpoint and the regional host', () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.regionalHost).toBe(`${bucket}.s3.${region}.amazonaws.com`);
  });

  test('PutObject / GetObject / HeadObject through the S3Client (header auth, path-style)', async () => {
    s3.calls.reset();
    s3.forwarded.reset();
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: KEY }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(CONTENT)).toBe(true);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: KEY }));
    expect(head.ContentLength).toBe(CONTENT.length);
    expect(s3.calls.snapshot()).toEqual({ GetObject: 1, HeadObject: 1 });
    expect(s3.forwarded.snapshot()).toEqual({ GetObject: 1, HeadObject: 1 });
  });

  test('keys with spaces, unicode and slashes work for the client and for presigned URLs', async () => {
    for (const key of ['dir/sub dir/naïve file ☃.txt', 'a+b=c&d', 'deep/er/path/with~tilde (1).txt']) {
      const body = `content of ${key}`;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe(body);
      const res = await viaOrigin(await presign({ key }));
      expect(res.status).toBe(200);
      expect(res.body.toString('utf8')).toBe(body);
    }
  });

  test('a wrong secret key or an unknown access key is refused', async () => {
    const wrongSecret = makeClient({ ...credentials, secretAccessKey: 'not-the-secret' });
    const unknownKey = makeClient({ ...credentials, accessKeyId: 'AKIAUNKNOWN' });
    try {
      s3.forwarded.reset();
      expect((await rejection(wrongSecret.send(new GetObjectCommand({ Bucket: bucket, Key: KEY })))).name).toBe('SignatureDoesNotMatch');
      expect((await rejection(wrongSecret.send(new PutObjectCommand({ Bucket: bucket, Key: KEY, Body: 'overwrite' })))).name)
        .toBe('SignatureDoesNotMatch');
      expect((await rejection(unknownKey.send(new GetObjectCommand({ Bucket: bucket, Key: KEY })))).name).toBe('InvalidAccessKeyId');
      expect(s3.forwarded.total()).toBe(0);
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: KEY }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(CONTENT)).toBe(true);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
    }
  });

  test('a presigned URL for the regional host with x-origin-verify signed gets the exact bytes', async () => {
    const path = await presign();
    expect(path).toContain('X-Amz-SignedHeaders=host%3Bx-origin-verify');
    expect(path).toContain('x-link-id=abc');
    expect(path).not.toContain(SECRET);
    const res = await viaOrigin(path);
    expect(res.status).toBe(200);
    expect(res.body.equals(CONTENT)).toBe(true);
    expect(res.headers['content-length']).toBe(String(CONTENT.length));
  });

  test.each<[string, (path: string) => Promise<RawResponse>]>([
    ['the x-origin-verify header is missing (direct-to-S3 bypass)', (p) => viaOrigin(p, {})],
    ['the x-origin-verify value is wrong', (p) => viaOrigin(p, { 'x-origin-verify': 'guess' })],
    ['the viewer Host is forwarded', (p) => send(s3.endpoint, { path: p, headers: { 'host': 'd111.cloudfront.net', 'x-origin-verify': SECRET } })],
    ['one character of X-Amz-Signature changes', (p) => viaOrigin(p.replace(/(X-Amz-Signature=)(.)/, (_m, k: string, c: string) => k + (c === '0' ? '1' : '0')))],
    ['the x-link-id value changes', (p) => viaOrigin(p.replace('x-link-id=abc', 'x-link-id=abd'))],
    ['the key in the path changes', (p) => viaOrigin(p.replace('/q1.bin', '/q2.bin'))],
    ['the method changes (HEAD with a GET signature)', (p) => viaOrigin(p, { 'x-origin-verify': SECRET }, 'HEAD')],
  ])('403 SignatureDoesNotMatch when %s', async (_name, attempt) => {
    s3.forwarded.reset();
    const res = await attempt(await presign());
    expect(res.status).toBe(403);
    if (res.body.length > 0) expect(errorCode(res)).toBe('SignatureDoesNotMatch');
    expect(s3.forwarded.total()).toBe(0);
  });

  test('403 SignatureDoesNotMatch when the URL was signed for the global host', async () => {
    const res = await viaOrigin(await presign({ host: `${bucket}.s3.amazonaws.com` }));
    expect(res.status).toBe(403);
    expect(errorCode(res)).toBe('SignatureDoesNotMatch');
    expect(res.body.toString()).toContain('<CanonicalRequest>');
  });

  test('a reordered query string still verifies (SigV4 sorts)', async () => {
    const path = await presign();
    const [base, qs] = path.split('?');
    const reordered = qs.split('&').reverse().join('&');
    expect(reordered).not.toBe(qs);
    const res = await viaOrigin(`${base}?${reordered}`);
    expect(res.status).toBe(200);
    expect(res.body.equals(CONTENT)).toBe(true);
  });

  test('expired and over-long presigned URLs are refused', async () => {
    const expired = await viaOrigin(await presign({ signingDate: new Date(Date.now() - 3600_000), expiresIn: 60 }));
    expect(expired.status).toBe(403);
    expect(errorCode(expired)).toBe('AccessDenied');
    expect(expired.body.toString()).toContain('<Message>Request has expired</Message>');

    const tooLong = await viaOrigin((await presign()).replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604801'));
    expect(tooLong.status).toBe(400);
    expect(errorCode(tooLong)).toBe('AuthorizationQueryParametersError');
  });

  test('no auth, two auth mechanisms, a wrong region scope, another bucket', async () => {
    const anonymous = await viaOrigin(keyPath(KEY));
    expect(anonymous.status).toBe(403);
    expect(errorCode(anonymous)).toBe('AccessDenied');

    const both = await viaOrigin(await presign(), { 'x-origin-verify': SECRET, 'authorization': 'AWS4-HMAC-SHA256 Credential=x' });
    expect(both.status).toBe(400);
    expect(errorCode(both)).toBe('InvalidArgument');

    const wrongRegion = await viaOrigin(await presign({ signingRegion: 'us-east-1' }));
    expect(wrongRegion.status).toBe(400);
    expect(errorCode(wrongRegion)).toBe('AuthorizationQueryParametersError');
    expect(wrongRegion.body.toString()).toContain("expecting 'eu-west-1'");

    const otherHost = `other-bucket.s3.${region}.amazonaws.com`;
    const other = await send(s3.endpoint, { path: await presign({ host: otherHost }), headers: { 'host': otherHost, 'x-origin-verify': SECRET } });
    expect(other.status).toBe(404);
    expect(errorCode(other)).toBe('NoSuchBucket');
  });

  test('response-content-disposition in a signed URL is applied, as S3 does', async () => {
    const res = await viaOrigin(await presign({ query: { 'x-link-id': 'abc', 'response-content-disposition': 'attachment; filename="q1.bin"' } }));
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename="q1.bin"');
  });

  test('a body that does not match the signed x-amz-content-sha256 is refused and not stored', async () => {
    const signer = new SignatureV4({ credentials, region, service: 's3', sha256: Sha256, uriEscapePath: false });
    const host = new URL(s3.endpoint).host;
    const signed = await signer.sign(new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: `/${bucket}${keyPath(KEY)}`,
      headers: { 'host': host, 'x-amz-content-sha256': createHash('sha256').update('promised').digest('hex') },
    }));
    const res = await send(s3.endpoint, { method: 'PUT', path: signed.path, headers: signed.headers, body: 'delivered' });
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('XAmzContentSHA256Mismatch');
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: KEY }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(CONTENT)).toBe(true);
  });

  test('large bodies: hashed PutObject and a streamed presigned PUT (UNSIGNED-PAYLOAD)', async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const sha = (b: Buffer | Uint8Array): string => createHash('sha256').update(b).digest('hex');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'big/hashed.bin', Body: big }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/hashed.bin' }));
    expect(sha(await got.Body!.transformToByteArray())).toBe(sha(big));

    const putPath = await presign({ key: 'big/streamed.bin', method: 'PUT', headers: {}, query: {} });
    const put = await send(s3.endpoint, { method: 'PUT', path: putPath, headers: { host: s3.regionalHost }, body: big });
    expect(put.status).toBe(200);
    const back = await viaOrigin(await presign({ key: 'big/streamed.bin' }));
    expect(back.status).toBe(200);
    expect(sha(back.body)).toBe(sha(big));
  });

  test('faults answer S3-style errors before authentication', async () => {
    s3.fault.set({ mode: 'error', operations: ['GetObject'] });
    const failed = await rejection(client.send(new GetObjectCommand({ Bucket: bucket, Key: KEY })));
    expect(failed.name).toBe('InternalError');
    expect(failed.$metadata?.httpStatusCode).toBe(500);

    s3.fault.set({ mode: 'throttle' });
    const slow = await viaOrigin(await presign());
    expect(slow.status).toBe(503);
    expect(errorCode(slow)).toBe('SlowDown');
  });
});
