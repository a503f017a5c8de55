// The three local pieces together, as the edge will use them (issue 20): an origin-request
// function running in its own container (local/edge-container.ts) presigns the one request
// CloudFront sends to S3 with its role session from its environment; the local CloudFront
// sends that request as returned; the local S3 lets the edge role read the prefix its bucket
// policy allows, and nothing else, across the container's session renewals.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CloudFrontRequestEvent, CloudFrontRequestResult } from 'aws-lambda';
import { type LocalCloudFront, startLocalCloudFront } from '../local/cloudfront';
import { LocalEdgeFunction } from '../local/edge-container';
import { LocalIdentities, type LocalS3, startS3 } from '../local/servers';
import { http } from './util/http';

// A stand-in for the edge's origin-request branch: SigV4 query signing, 60 s, for host
// origin.s3.domainName and path uri, with the credentials Lambda put in its environment.
const BUNDLE = (region: string) => `
const { S3RequestPresigner } = require(${JSON.stringify(require.resolve('@aws-sdk/s3-request-presigner'))});
const { Sha256 } = require(${JSON.stringify(require.resolve('@aws-crypto/sha256-js'))});
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
exports.handler = async (event) => {
  const request = event.Records[0].cf.request;
  const host = request.origin.s3.domainName;
  const presigner = new S3RequestPresigner({
    region: ${JSON.stringify(region)},
    sha256: Sha256,
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID,
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
      sessionToken: process.env.AWS_SESSION_TOKEN,
    },
  });
  const signed = await presigner.presign({ method: 'GET', protocol: 'https:', hostname: host, path: request.uri, query: {}, headers: { host } }, { expiresIn: 60 });
  request.querystring = Object.entries(signed.query).map(([k, v]) => enc(k) + '=' + enc(String(v))).join('&');
  return request;
};
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('edge origin signing over the local pieces', () => {
  const region = 'eu-west-1';
  const bucket = 'otp-edge-signing';
  let dir: string;
  let s3: LocalS3;
  let cf: LocalCloudFront;
  let edge: LocalEdgeFunction<CloudFrontRequestEvent, CloudFrontRequestResult>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-signing-test-'));
    mkdirSync(join(dir, 'staged'));
    writeFileSync(join(dir, 'staged', 'index.js'), BUNDLE(region));
    const identities = new LocalIdentities();
    const admin = identities.createAccessKey(identities.createUser('admin'));
    const edgeRoleArn = identities.createRole('otp-edge', { readPrefixes: [] });
    s3 = await startS3({
      region,
      bucket,
      credentials: (id) => identities.find(id),
      mayRead: (principalArn, key) => identities.mayRead(principalArn, key),
      bucketPolicy: {
        Statement: [{ Effect: 'Allow', Principal: { AWS: edgeRoleArn }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/shared/*` }],
      },
    });
    const client = new S3Client({ region, endpoint: s3.endpoint, forcePathStyle: true, credentials: admin, requestChecksumCalculation: 'WHEN_REQUIRED' });
    for (const key of ['shared/a b+c.txt', 'other/obj']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${key}` }));
    client.destroy();
    // 4 s sessions: each container serves 3 s.
    edge = new LocalEdgeFunction({ bundle: join(dir, 'staged', 'index.js'), dir: join(dir, 'containers'), name: 'edge', identities, roleArn: edgeRoleArn, sessionSeconds: 4 });
    cf = await startLocalCloudFront({
      handler: async (event) => event.Records[0].cf.request,
      originRequestHandler: edge.handler,
      originEndpoint: s3.endpoint,
      originHost: s3.regionalHost,
      originCustomHeaders: {},
    });
  });

  afterAll(async () => {
    await cf?.close();
    await edge?.close();
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the edge role reads inside its prefix, across session renewals, and is refused outside it', async () => {
    const res = await http(`${cf.url}/shared/a%20b%2Bc.txt`);
    expect(res.status).toBe(200);
    expect(res.text()).toBe('body of shared/a b+c.txt');
    expect((await http(`${cf.url}/other/obj`)).status).toBe(403);
    expect(edge.containers).toBe(1);
    await sleep(3200);
    expect((await http(`${cf.url}/shared/a%20b%2Bc.txt`)).status).toBe(200);
    expect(edge.containers).toBe(2);
  });
});
