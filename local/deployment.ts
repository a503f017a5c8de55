// The local emulated deployment: the same handler bundles that ship in assets/,
// wired together on 127.0.0.1 exactly as the construct wires them in AWS.
// Handlers are configured only through AWS_ENDPOINT_URL_<SERVICE> variables, the
// mint function's environment and the edge function's staged config.json.
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { sigV4ApiAuthorizer } from './api-auth';
import { startLocalCloudFront, type ViewerRequestHandler } from './cloudfront';
import { startLocalHttpApi, type HttpApiHandler } from './http-api';
import { startAwsJsonServices, startDynamoDB, startS3, type LocalAwsJson, type LocalDynamoDB, type LocalS3 } from './servers';
import { EDGE_STAGED_CONFIG_FILE, EdgeRuntimeConfig, EdgeStagedConfig, MANAGE_ROUTE_KEYS, MINT_ROUTE_KEYS, MintEnv } from '../src/shared/config';
import { LEDGER_PARTITION_KEY } from '../src/shared/ledger';
import { ORIGIN_VERIFY_HEADER } from '../src/shared/link';

export interface LocalDeploymentOptions {
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** @default 'otp-local-downloads' */
  readonly bucket?: string;
  /** Objects to upload before the deployment is ready. */
  readonly objects?: Record<string, string | Buffer>;
  /** @default 900 */
  readonly defaultExpiresSeconds?: number;
  /** @default 3600 */
  readonly maxExpiresSeconds?: number;
  /** Folder holding the handler bundles. @default the repository's assets/handlers */
  readonly assetsDir?: string;
  /** @default 1 */
  readonly defaultMaxUses?: number;
  /** @default 10 */
  readonly maxUsesLimit?: number;
  /** Key prefixes links may be minted for. @default [''] (the whole bucket) */
  readonly allowedKeyPrefixes?: string[];
  /** Refuse link-preview agents without consuming a use. @default true */
  readonly previewProtection?: boolean;
  /** Extra preview agent patterns. @default [] */
  readonly previewAgents?: string[];
  /** Emulate the seed's AllViewer origin request policy (forwards the viewer's Host). @default false */
  readonly forwardViewerHost?: boolean;
  /** Viewer-request timeout of the local CloudFront. @default 5000 */
  readonly edgeTimeoutMs?: number;
  /**
   * Serve the mint API without authorization. By default it verifies SigV4 (service
   * execute-api) signed with the local credentials, as the deployed API's IAM auth does.
   * @default false
   */
  readonly publicApi?: boolean;
}

export interface LocalDeployment {
  /** The mint API, e.g. `${apiUrl}/get-url?key=...`. */
  readonly apiUrl: string;
  /** The local CloudFront that minted URLs point at. */
  readonly distributionUrl: string;
  /** The S3 front (path-style) for uploads and for bypass attempts. */
  readonly originUrl: string;
  /** The bucket's regional host: the host every URL is signed for. */
  readonly originHost: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly tableName: string;
  readonly parameterName: string;
  readonly services: { readonly dynamodb: LocalDynamoDB; readonly awsJson: LocalAwsJson; readonly s3: LocalS3 };
  /** The loaded bundles, for tests that invoke them with events directly. */
  readonly handlers: { readonly edge: ViewerRequestHandler; readonly mint: HttpApiHandler };
  /** An S3 client for the origin, with the local credentials. */
  s3Client(): S3Client;
  close(): Promise<void>;
}

const REPO_ASSETS = resolve(__dirname, '..', 'assets', 'handlers');

/** Loads a handler bundle the way Lambda does: a CommonJS module from a path known only at run time. */
function loadBundle<T>(file: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as T;
}
let active = false;

export async function startLocalDeployment(opts: LocalDeploymentOptions = {}): Promise<LocalDeployment> {
  // The SDK reads endpoints and credentials from process.env: one deployment per process.
  if (active) throw new Error('a local deployment is already running in this process');
  active = true;
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    active = false;
  };
  try {
    const region = opts.region ?? 'eu-west-1';
    const bucket = opts.bucket ?? 'otp-local-downloads';
    const assetsDir = opts.assetsDir ?? REPO_ASSETS;
    for (const fn of ['mint', 'edge']) {
      if (!existsSync(join(assetsDir, fn, 'index.js'))) {
        throw new Error(`handler bundle ${join(assetsDir, fn, 'index.js')} is missing: run \`npx projen bundle\` first`);
      }
    }
    const accessKeyId = 'AKIA' + randomBytes(8).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(30).toString('base64');
    const tableName = 'otp-local-ledger';
    const parameterName = '/cdk-one-time-presigned-url/local/edge-config';
    const secretName = 'otp-local-origin-secret';
    const originSecret = randomBytes(36).toString('base64url');
    const refererSecret = randomBytes(36).toString('base64url');

    const dynamodb = await startDynamoDB({ tables: [{ name: tableName, hashKey: LEDGER_PARTITION_KEY }] });
    closers.push(() => dynamodb.close());
    const runtimeConfig: EdgeRuntimeConfig = {
      tableName,
      tableRegion: region,
      previewProtection: opts.previewProtection ?? true,
      previewAgents: opts.previewAgents ?? [],
    };
    const awsJson = await startAwsJsonServices({
      region,
      parameters: { [parameterName]: JSON.stringify(runtimeConfig) },
      secrets: { [secretName]: originSecret },
    });
    closers.push(() => awsJson.close());
    const s3 = await startS3({ region, bucket, credentials: { accessKeyId, secretAccessKey } });
    closers.push(() => s3.close());

    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SSM: awsJson.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: awsJson.endpoint,
      // The SDK nags on Node.js 20, which only local runs use (Lambda runs Node.js 24).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    // Stage the edge bundle with its config.json, as the construct does at synth.
    const edgeDir = mkdtempSync(join(tmpdir(), 'otp-local-functions-'));
    closers.push(async () => rmSync(edgeDir, { recursive: true, force: true }));
    copyFileSync(join(assetsDir, 'edge', 'index.js'), join(edgeDir, 'index.js'));
    const staged: EdgeStagedConfig = { parameterName, parameterRegion: region };
    writeFileSync(join(edgeDir, EDGE_STAGED_CONFIG_FILE), JSON.stringify(staged));
    const edge = loadBundle<{ handler: ViewerRequestHandler }>(join(edgeDir, 'index.js'));

    const cloudfront = await startLocalCloudFront({
      handler: edge.handler,
      originEndpoint: s3.endpoint,
      originHost: s3.regionalHost,
      originCustomHeaders: { [ORIGIN_VERIFY_HEADER]: originSecret, referer: refererSecret },
      forwardViewerHost: opts.forwardViewerHost,
      timeoutMs: opts.edgeTimeoutMs,
    });
    closers.push(() => cloudfront.close());

    Object.assign(process.env, {
      [MintEnv.bucketName]: bucket,
      [MintEnv.bucketRegion]: region,
      [MintEnv.originDomain]: s3.regionalHost,
      [MintEnv.publicBaseUrl]: cloudfront.url,
      [MintEnv.tableName]: tableName,
      [MintEnv.originSecretArn]: secretName,
      [MintEnv.defaultExpiresSeconds]: String(opts.defaultExpiresSeconds ?? 900),
      [MintEnv.maxExpiresSeconds]: String(opts.maxExpiresSeconds ?? 3600),
      [MintEnv.defaultMaxUses]: String(opts.defaultMaxUses ?? 1),
      [MintEnv.maxUsesLimit]: String(opts.maxUsesLimit ?? 10),
      [MintEnv.allowedKeyPrefixes]: JSON.stringify(opts.allowedKeyPrefixes ?? ['']),
    });
    // A fresh copy per deployment: the bundle caches its settings and clients per container.
    copyFileSync(join(assetsDir, 'mint', 'index.js'), join(edgeDir, 'mint.js'));
    const mint = loadBundle<{ handler: HttpApiHandler }>(join(edgeDir, 'mint.js'));
    const api = await startLocalHttpApi({
      routes: [...MINT_ROUTE_KEYS, ...MANAGE_ROUTE_KEYS].map((routeKey) => ({ routeKey, handler: mint.handler })),
      authorize: opts.publicApi ? undefined : sigV4ApiAuthorizer({ accessKeyId, secretAccessKey }, region),
    });
    closers.push(() => api.close());

    const s3Client = () => new S3Client({
      region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    if (opts.objects) {
      const client = s3Client();
      for (const [key, body] of Object.entries(opts.objects)) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }
      client.destroy();
    }

    return {
      apiUrl: api.url,
      distributionUrl: cloudfront.url,
      originUrl: s3.endpoint,
      originHost: s3.regionalHost,
      bucket,
      region,
      accessKeyId,
      secretAccessKey,
      tableName,
      parameterName,
      services: { dynamodb, awsJson, s3 },
      handlers: { edge: edge.handler, mint: mint.handler },
      s3Client,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
