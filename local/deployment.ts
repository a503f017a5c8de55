// The local emulated deployment: the same handler bundles that ship in assets/,
// wired together on 127.0.0.1 exactly as the construct wires them in AWS.
// Handlers are configured only through AWS_ENDPOINT_URL_<SERVICE> variables, the
// mint function's environment and the edge function's staged config.json.
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CloudFrontRequestEvent, CloudFrontRequestResult, CloudFrontResponseEvent } from 'aws-lambda';
import { jwtApiAuthorizer, sigV4ApiAuthorizer, type ApiAuthorizer } from './api-auth';
import { startLocalCloudFront, type OriginRequestHandler, type OriginResponseHandler, type ViewerRequestHandler } from './cloudfront';
import { LocalEdgeFunction } from './edge-container';
import { startLocalHttpApi, type HttpApiHandler } from './http-api';
import { createLocalJwtIssuer, type LocalJwtIssuer } from './jwt';
import { LocalLambdaFunction } from './lambda';
import { LocalMetrics } from './metrics';
import {
  LocalIdentities, startAwsJsonServices, startDynamoDB, startS3, type LocalAwsJson, type LocalDynamoDB, type LocalEvent, type LocalS3,
  type LocalStreamConsumer, type LocalStreamHandler, type OriginFaultKind, type OriginFaults,
} from './servers';
import {
  DEFAULT_LANDING_PAGE_TITLE, EDGE_STAGED_CONFIG_FILE, EdgeOperatorConfig, EdgeStagedConfig, EventsEnv, MANAGE_ROUTE_KEYS, MINT_ROUTE_KEYS, MintEnv,
  EDGE_OPERATOR_REFRESH_SECONDS, DEFAULT_PASSPHRASE_ATTEMPTS, DEFAULT_MAX_UPLOAD_BYTES,
} from '../src/shared/config';
import { LINKS_API_CORS } from '../src/shared/cors';
import { downloadMetricsId } from '../src/shared/download-metrics';
import { LEDGER_PARTITION_KEY, SESSIONS_PARTITION_KEY, SESSIONS_SORT_KEY, sessionsTableNameFor } from '../src/shared/ledger';
import { NO_THREATS_FOUND, SCAN_STATUS_CONDITION_KEY } from '../src/shared/scan-status';

export interface LocalDeploymentOptions {
  /** @default 'eu-west-1' */
  readonly region?: string;
  /** @default 'otp-local-downloads' */
  readonly bucket?: string;
  /** Objects to upload before the deployment is ready. */
  readonly objects?: Record<string, string | Buffer>;
  /** @default 900 */
  readonly defaultExpiresSeconds?: number;
  /** @default 3600 (the construct's default maxLinkLifetime) */
  readonly maxExpiresSeconds?: number;
  /** Folder holding the handler bundles. @default the repository's assets/handlers */
  readonly assetsDir?: string;
  /** @default 1 */
  readonly defaultMaxUses?: number;
  /** @default 10 */
  readonly maxUsesLimit?: number;
  /** Download window of a link when the caller does not ask for one, in seconds (the construct's downloadWindow). @default 1800 */
  readonly downloadWindowSeconds?: number;
  /** Links open a landing page unless the caller says otherwise (the construct's landingPage). @default false */
  readonly landingPage?: boolean;
  /** The construct's landingPageTitle. @default 'A file was shared with you' */
  readonly landingPageTitle?: string;
  /** The construct's landingPageShowsFileName. @default false */
  readonly landingPageShowsFileName?: boolean;
  /** Key prefixes links may be minted for. @default [''] (the whole bucket) */
  readonly allowedKeyPrefixes?: string[];
  /**
   * Key prefixes upload links may be minted for (the construct's upload prefixes): the edge
   * role may s3:PutObject under them and nowhere else. `[]` turns upload links off.
   * @default ['uploads/']
   */
  readonly uploadKeyPrefixes?: string[];
  /** Largest body an upload link takes, in bytes. @default DEFAULT_MAX_UPLOAD_BYTES (100 MiB) */
  readonly maxUploadBytes?: number;
  /**
   * The construct's `scanUploads`, as far as it can be emulated: the bucket policy's Deny of
   * s3:GetObject under the upload prefixes for objects not tagged `GuardDutyMalwareScanStatus:
   * NO_THREATS_FOUND`. GuardDuty itself is not emulated: nothing scans or tags; a test tags
   * objects (PutObjectTagging) as GuardDuty would. Only with an owned bucket. @default false
   */
  readonly scanUploads?: boolean;
  /** Refuse link-preview agents without consuming a use. @default true */
  readonly previewProtection?: boolean;
  /** Extra preview agent patterns, staged with the edge function. @default [] */
  readonly previewAgents?: string[];
  /** Initial value of the operator parameter (SSM), as the construct writes it. @default { paused: false, previewAgents: [] } */
  readonly operatorConfig?: EdgeOperatorConfig;
  /**
   * Whose bucket it is. `owned` (the construct created it): its bucket policy allows the edge
   * role to read the allowed prefixes. `brought` (the user passed one in): no bucket policy
   * from the construct; the edge role's identity policy grants the same reads.
   * @default 'owned'
   */
  readonly bucketOwnership?: 'owned' | 'brought';
  /**
   * Lifetime of every role session, in seconds: the mint function's and the edge function's
   * own credentials (each container gets a new session and is retired before it ends).
   * Sessions really end: the local S3 answers ExpiredToken afterwards. Tests compress the
   * clock with a few seconds. @default 3600
   */
  readonly sessionSeconds?: number;
  /**
   * Publish link events as the construct's `linkEvents: true` does: the ledger and the
   * sessions table get streams, the real events bundle consumes each like one of Lambda's
   * event source mappings (batches of 100, in order, partial batch failures retried 10 times,
   * then discarded into {@link LocalDeployment.linkEventFailures}), and its PutEvents calls
   * reach the local EventBridge. @default false, or true with eventsFile
   */
  readonly linkEvents?: boolean;
  /** Append one JSON line per published event (`{"source","detail-type","detail"}`) to this file. */
  readonly eventsFile?: string;
  /**
   * Append one JSON line per download metric datum the edge function publishes
   * (`{"namespace","metricName","dimensions","value","unit","timestamp"}`, as CloudWatch
   * extracts them from its embedded metric format records) to this file.
   */
  readonly metricsFile?: string;
  /** Viewer-request timeout of the local CloudFront. @default 5000 */
  readonly edgeTimeoutMs?: number;
  /**
   * Origin faults: the next GET of each key (as stored) that S3 would serve answers `500`
   * (InternalError), `503` (SlowDown), `reset` (no answer, connection destroyed) or
   * `timeout` (never answered) instead; a list fails that many GETs in turn (local/servers/s3.ts).
   * More can be added later with {@link LocalDeployment.injectOriginFault}.
   */
  readonly originFaults?: OriginFaults;
  /**
   * The local CloudFront's origin response timeout: with no response in that time it tries a
   * GET again (originConnectionAttempts), then answers 504. @default 30000 (CloudFront's)
   */
  readonly originResponseTimeoutMs?: number;
  /** The origin's connection attempts, 1 to 3 (local/cloudfront.ts). @default 3 (CloudFront's, which the construct keeps) */
  readonly originConnectionAttempts?: number;
  /**
   * The viewer's address CloudFront gives the edge function (`clientIp`) for each request, to
   * simulate an address that changes mid-download. @default the connection's remote address
   */
  readonly viewerAddress?: (req: IncomingMessage) => string;
  /**
   * Serve the mint API without authorization. By default it verifies SigV4 (service
   * execute-api) signed with the local credentials, as the deployed API's IAM auth does.
   * @default false
   */
  readonly publicApi?: boolean;
  /**
   * Authorization of the mint routes: `iam` (SigV4, the construct's default), `jwt`
   * (a JWT authorizer trusting {@link LocalDeployment.jwtIssuer}) or `none`.
   * @default 'none' with publicApi, else 'iam'
   */
  readonly mintAuth?: LocalApiAuth;
  /**
   * Authorization of the management routes (the construct's manageAuthorizer).
   * @default 'none' with publicApi, else 'iam'
   */
  readonly manageAuth?: LocalApiAuth;
  /**
   * The construct's corsAllowedOrigins: the mint API answers CORS for these origins as the
   * HTTP API's CORS configuration does (local/http-api.ts). @default none (no CORS)
   */
  readonly corsAllowedOrigins?: readonly string[];
  /** The construct's operatorRefreshInterval, in seconds (tests compress it). @default 60 */
  readonly operatorRefreshSeconds?: number;
  /** The construct's passphraseAttempts. @default 5 */
  readonly passphraseAttempts?: number;
}

export type LocalApiAuth = 'iam' | 'jwt' | 'none';

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
  /** Signs tokens the `jwt` authorizers accept (issuer and audience of the local JWT authorizer). */
  readonly jwtIssuer: LocalJwtIssuer;
  /** The ledger table: one item per link. */
  readonly tableName: string;
  /**
   * The sessions table beside it (`<tableName>-sessions`, as the construct names it): one item
   * per download session of a link with more than one use (shared/ledger.ts SessionAttr).
   */
  readonly sessionsTableName: string;
  /** The edge function's staged config.json, as the construct writes it. */
  readonly edgeConfig: EdgeStagedConfig;
  /** The operator parameter (SSM): `{ paused, previewAgents }`. */
  readonly parameterName: string;
  readonly services: { readonly dynamodb: LocalDynamoDB; readonly awsJson: LocalAwsJson; readonly s3: LocalS3 };
  /** Stream records whose events could not be published after the retries (the dead-letter queue). */
  readonly linkEventFailures: ReadonlyArray<unknown>;
  /** The loaded bundles, for tests that invoke them with events directly. */
  readonly handlers: { readonly edge: ViewerRequestHandler; readonly mint: HttpApiHandler };
  /** The account's users, roles, keys and sessions. */
  readonly identities: LocalIdentities;
  /** The edge function's role: the only principal that reads linked objects. */
  readonly edgeRoleArn: string;
  /**
   * The download metrics the edge function published, as CloudWatch extracts them from its
   * log (local/metrics.ts): a datum per metric and dimension set, once its answer is returned.
   */
  readonly metrics: LocalMetrics;
  /** Containers the mint function has started so far (each with a new role session). */
  mintContainers(): number;
  /** Containers the edge function has started so far (each with a new role session). */
  edgeContainers(): number;
  /** Link events published so far (empty unless linkEvents), in the order EventBridge accepted them. */
  linkEvents(): LocalEvent[];
  /**
   * Resolves once every change committed so far to the ledger or the sessions table has been
   * published (or given up on).
   */
  linkEventsSettled(): Promise<void>;
  /**
   * The next GET of `key` that S3 would serve meets `kind` instead (faults queue per key), so
   * one deployment can serve several fault tests. See {@link LocalDeploymentOptions.originFaults}.
   */
  injectOriginFault(key: string, kind: OriginFaultKind): void;
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
    const sessionsTableName = sessionsTableNameFor(tableName);
    const parameterName = '/cdk-one-time-presigned-url/local/edge-operator-config';
    const linkEvents = opts.linkEvents ?? opts.eventsFile !== undefined;
    // Streams only with link events, as the construct's tables.
    const stream = linkEvents ? { stream: 'NEW_AND_OLD_IMAGES' as const } : {};
    const dynamodb = await startDynamoDB({
      tables: [
        { name: tableName, hashKey: LEDGER_PARTITION_KEY, ...stream },
        { name: sessionsTableName, hashKey: SESSIONS_PARTITION_KEY, rangeKey: SESSIONS_SORT_KEY, ...stream },
      ],
    });
    closers.push(() => dynamodb.close());
    const operatorConfig: EdgeOperatorConfig = opts.operatorConfig ?? { paused: false, previewAgents: [] };
    const awsJson = await startAwsJsonServices({
      region,
      parameters: { [parameterName]: JSON.stringify(operatorConfig) },
    });
    closers.push(() => awsJson.close());

    // The account, as the construct leaves it: an administrator who uploads and calls the
    // API, the mint function's role (which lists the bucket and reads no object), and the
    // edge function's role, the only reader of objects under the allowed prefixes.
    const identities = new LocalIdentities();
    identities.createAccessKey(identities.createUser('otp-local-admin'), { accessKeyId, secretAccessKey });
    const sessionSeconds = opts.sessionSeconds ?? 3600;
    const allowedKeyPrefixes = opts.allowedKeyPrefixes ?? [''];
    const owned = (opts.bucketOwnership ?? 'owned') === 'owned';
    const uploadKeyPrefixes = opts.uploadKeyPrefixes ?? ['uploads/'];
    // The mint reads and writes no object.
    const mintRoleArn = identities.createRole('otp-local-mint', { readPrefixes: [], writePrefixes: [] });
    // A bucket the construct owns grants the edge role in its bucket policy; a bucket the user
    // brings is read through the role's identity policy (the construct grants both ways). The
    // edge role writes (an upload link's one PUT, signed by the origin-request trigger) only
    // under the upload prefixes.
    if (opts.scanUploads && !owned) throw new Error('scanUploads is emulated only for a bucket the construct owns (bucketOwnership: owned)');
    const edgeRoleArn = identities.createRole('otp-local-edge', { readPrefixes: owned ? [] : allowedKeyPrefixes, writePrefixes: uploadKeyPrefixes });
    const s3 = await startS3({
      region,
      bucket,
      credentials: (id) => identities.find(id),
      mayRead: (principalArn, key) => identities.mayRead(principalArn, key),
      mayWrite: (principalArn, key) => identities.mayWrite(principalArn, key),
      // As the construct writes it for a bucket it owns (EdgeFunctionReadsLinkedObjects and
      // NoOneElseReadsLinkedObjects): the edge role reads the allowed prefixes, nobody else does.
      bucketPolicy: owned ? {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: edgeRoleArn }, Action: 's3:GetObject', Resource: allowedKeyPrefixes.map((p) => `arn:aws:s3:::${bucket}/${p}*`) },
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: allowedKeyPrefixes.map((p) => `arn:aws:s3:::${bucket}/${p}*`),
            Condition: { ArnNotEquals: { 'aws:PrincipalArn': edgeRoleArn } },
          },
          // EdgeReadsOnlyCleanUploads (scanUploads).
          ...(opts.scanUploads && uploadKeyPrefixes.length > 0 ? [{
            Effect: 'Deny' as const,
            Principal: { AWS: edgeRoleArn },
            Action: 's3:GetObject',
            Resource: uploadKeyPrefixes.map((p) => `arn:aws:s3:::${bucket}/${p}*`),
            Condition: { StringNotEquals: { [SCAN_STATUS_CONDITION_KEY]: NO_THREATS_FOUND } },
          }] : []),
        ],
      } : undefined,
      originFaults: opts.originFaults,
    });
    closers.push(() => s3.close());

    Object.assign(process.env, {
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SSM: awsJson.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: awsJson.endpoint,
      // The SDK nags on Node.js 20, which only local runs use (Lambda runs Node.js 24).
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    // Stage the edge bundle with its config.json, as the construct does at synth.
    const edgeDir = mkdtempSync(join(tmpdir(), 'otp-local-functions-'));
    closers.push(async () => rmSync(edgeDir, { recursive: true, force: true }));
    copyFileSync(join(assetsDir, 'edge', 'index.js'), join(edgeDir, 'index.js'));
    const staged: EdgeStagedConfig = {
      tableName,
      sessionsTableName,
      tableRegion: region,
      previewProtection: opts.previewProtection ?? true,
      previewAgents: opts.previewAgents ?? [],
      bucketRegion: region,
      landingPageTitle: opts.landingPageTitle ?? DEFAULT_LANDING_PAGE_TITLE,
      landingPageShowsFileName: opts.landingPageShowsFileName ?? false,
      parameterName,
      parameterRegion: region,
      operatorRefreshSeconds: opts.operatorRefreshSeconds ?? EDGE_OPERATOR_REFRESH_SECONDS,
      metricsId: downloadMetricsId(region, 'Local/Downloads'),
    };
    writeFileSync(join(edgeDir, EDGE_STAGED_CONFIG_FILE), JSON.stringify(staged));
    // What the edge function writes to its log (stdout): embedded metric format records become
    // metrics, as CloudWatch Logs extracts them; other lines are printed.
    const metrics = new LocalMetrics();
    const metricsFile = opts.metricsFile;
    if (metricsFile) metrics.onDatum((d) => appendFileSync(metricsFile, JSON.stringify(d) + '\n'));
    let pending = '';
    const onStdout = (text: string) => {
      const lines = (pending + text).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line && !metrics.ingest(line)) console.log(line);
      }
    };
    // The edge function in containers of its own, with its role's sessions in their
    // environment, as Lambda hands them; it has no other environment variables (Lambda@Edge
    // allows none): only the endpoints the local deployment redirects the SDK to.
    const edge = new LocalEdgeFunction<CloudFrontRequestEvent & CloudFrontResponseEvent, CloudFrontRequestResult>({
      bundle: join(edgeDir, 'index.js'),
      dir: edgeDir,
      name: 'edge',
      identities,
      roleArn: edgeRoleArn,
      sessionSeconds,
      onStdout,
      env: () => ({
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
        AWS_ENDPOINT_URL_SSM: awsJson.endpoint,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        NODE_OPTIONS: process.env.NODE_OPTIONS,
      }),
    });
    closers.push(() => edge.close());
    const edgeHandler = edge.handler as ViewerRequestHandler & OriginRequestHandler & OriginResponseHandler;

    const cloudfront = await startLocalCloudFront({
      // One function, three triggers, as the construct associates it.
      handler: edgeHandler,
      originRequestHandler: edgeHandler,
      originResponseHandler: edgeHandler,
      originEndpoint: s3.endpoint,
      originHost: s3.regionalHost,
      originRegion: region,
      originCustomHeaders: {},
      timeoutMs: opts.edgeTimeoutMs,
      originResponseTimeoutMs: opts.originResponseTimeoutMs,
      originConnectionAttempts: opts.originConnectionAttempts,
      viewerAddress: opts.viewerAddress,
      // The construct associates the viewer-request trigger with includeBody (passphrase forms).
      includeBody: true,
      // With uploads on, the construct's origin request policy allowlists exactly these two: the
      // upload's media type, and the If-None-Match: * the edge sets so S3 refuses an overwrite.
      originRequestHeaders: uploadKeyPrefixes.length > 0 ? ['content-type', 'if-none-match'] : [],
    });
    closers.push(() => cloudfront.close());

    Object.assign(process.env, {
      [MintEnv.bucketName]: bucket,
      [MintEnv.bucketRegion]: region,
      [MintEnv.publicBaseUrl]: cloudfront.url,
      [MintEnv.tableName]: tableName,
      [MintEnv.sessionsTableName]: sessionsTableName,
      [MintEnv.defaultExpiresSeconds]: String(opts.defaultExpiresSeconds ?? 900),
      // The construct's default maxLinkLifetime: 1 hour.
      [MintEnv.maxExpiresSeconds]: String(opts.maxExpiresSeconds ?? 3600),
      [MintEnv.defaultMaxUses]: String(opts.defaultMaxUses ?? 1),
      [MintEnv.maxUsesLimit]: String(opts.maxUsesLimit ?? 10),
      [MintEnv.allowedKeyPrefixes]: JSON.stringify(allowedKeyPrefixes),
      [MintEnv.defaultWindowSeconds]: String(opts.downloadWindowSeconds ?? 1800),
      [MintEnv.defaultLandingPage]: String(opts.landingPage ?? false),
      [MintEnv.passphraseAttempts]: String(opts.passphraseAttempts ?? DEFAULT_PASSPHRASE_ATTEMPTS),
      [MintEnv.uploadKeyPrefixes]: JSON.stringify(uploadKeyPrefixes),
      [MintEnv.maxUploadBytes]: String(opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES),
    });
    const mint = new LocalLambdaFunction<HttpApiHandler>({
      bundle: join(assetsDir, 'mint', 'index.js'), dir: edgeDir, name: 'mint', identities, roleArn: mintRoleArn, sessionSeconds,
    });
    const jwtIssuer = createLocalJwtIssuer();
    const authorizers: Record<LocalApiAuth, ApiAuthorizer | null> = {
      iam: sigV4ApiAuthorizer({ accessKeyId, secretAccessKey }, region),
      jwt: jwtApiAuthorizer({ issuer: jwtIssuer.issuer, audience: jwtIssuer.audience, jwks: jwtIssuer.jwks }),
      none: null,
    };
    const fallback: LocalApiAuth = opts.publicApi ? 'none' : 'iam';
    const api = await startLocalHttpApi({
      routes: [
        ...MINT_ROUTE_KEYS.map((routeKey) => ({ routeKey, handler: mint.handler, authorizer: authorizers[opts.mintAuth ?? fallback] })),
        ...MANAGE_ROUTE_KEYS.map((routeKey) => ({ routeKey, handler: mint.handler, authorizer: authorizers[opts.manageAuth ?? fallback] })),
      ],
      cors: opts.corsAllowedOrigins && { ...LINKS_API_CORS, allowOrigins: opts.corsAllowedOrigins },
    });
    closers.push(() => api.close());

    // Link events: the events bundle on the streams of the ledger and the sessions table, each
    // consumed as the construct's event source mappings are (src/link-events.ts: alike, no
    // filter), publishing to the local EventBridge.
    const consumers: LocalStreamConsumer[] = [];
    const failures: unknown[] = [];
    if (linkEvents) {
      process.env[EventsEnv.eventBusName] = 'default';
      copyFileSync(join(assetsDir, 'events', 'index.js'), join(edgeDir, 'events.js'));
      const publisher = loadBundle<{ handler: LocalStreamHandler }>(join(edgeDir, 'events.js'));
      for (const streamed of [tableName, sessionsTableName]) {
        const consumer = dynamodb.stream(streamed).consume(publisher.handler, {
          batchSize: 100,
          startingPosition: 'TRIM_HORIZON',
          reportBatchItemFailures: true,
          maximumRetryAttempts: 10,
          onDiscard: (records) => failures.push(...records),
        });
        consumers.push(consumer);
        closers.push(async () => consumer.stop());
      }
      const eventsFile = opts.eventsFile;
      if (eventsFile) {
        awsJson.onEvent((e) => appendFileSync(eventsFile, JSON.stringify({ 'source': e.source, 'detail-type': e.detailType, 'detail': e.detail }) + '\n'));
      }
    }

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
      jwtIssuer,
      tableName,
      sessionsTableName,
      parameterName,
      edgeConfig: staged,
      services: { dynamodb, awsJson, s3 },
      identities,
      edgeRoleArn,
      mintContainers: () => mint.containers,
      edgeContainers: () => edge.containers,
      handlers: { edge: edgeHandler, mint: mint.handler },
      linkEvents: () => (linkEvents ? [...awsJson.events] : []),
      metrics,
      linkEventsSettled: async () => {
        await Promise.all(consumers.map((consumer) => consumer.drain()));
      },
      linkEventFailures: failures,
      injectOriginFault: (key, kind) => s3.injectOriginFault(key, kind),
      s3Client,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
