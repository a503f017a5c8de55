// Mint handler (regional Lambda behind the HTTP API): issues one-time links.
//
// It presigns an S3 GetObject for the bucket's regional host (the exact host
// CloudFront sends to the origin), with a fresh random id and the secret origin
// header inside the signature, records the link in the ledger, and only then
// returns the URL re-pointed at the distribution.
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { getLinkInput, issueLinkInput, linkStatus, revokeLinkInput } from './ledger';
import { newLinkId } from './link-id';
import { boundedHttpHandler } from './sdk';
import { LinkSigner, signingConfigFromEnv, SigningUnavailable, type Signing } from './signing';
import { MintEnv } from '../shared/config';
import {
  buildQuery, isLinkId, keyToPath, LINK_GENERATION_PARAM, LINK_ID_PARAM, LINK_PAGE_PARAM, LINK_SIZE_PARAM, LINK_WINDOW_PARAM, linkFingerprint,
  MAX_DOWNLOAD_WINDOW_SECONDS, ORIGIN_VERIFY_HEADER, parseQuery, validateKey,
} from '../shared/link';

/**
 * The origin secret is read once per container and re-read after this long. Rotation
 * (the construct's secretGeneration) points the function at a new secret, so a new
 * value reaches every container at once; this bound covers a value changed in place.
 */
const SECRET_REFRESH_MS = 5 * 60_000;

interface Settings {
  readonly bucketName: string;
  readonly bucketRegion: string;
  readonly originDomain: string;
  readonly publicBaseUrl: string;
  readonly tableName: string;
  readonly originSecretArn: string;
  readonly secretGeneration: number;
  readonly defaultExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  readonly defaultMaxUses: number;
  readonly maxUsesLimit: number;
  readonly allowedKeyPrefixes: string[];
  readonly defaultWindowSeconds: number;
  readonly defaultLandingPage: boolean;
}

interface Clients {
  readonly s3: S3Client;
  readonly signer: LinkSigner;
  readonly dynamo: DynamoDBClient;
  readonly secrets: SecretsManagerClient;
}

let settings: Settings | undefined;
let clients: Clients | undefined;
let originSecret: { value: string; freshUntil: number } | undefined;
/** One presigner per set of signing credentials (a renewed session or a re-read key pair gets a new one). */
let presigner: { credentials: Signing; value: S3RequestPresigner } | undefined;

type Result = APIGatewayProxyStructuredResultV2;

export async function handler(event: APIGatewayProxyEventV2): Promise<Result> {
  const route = event.routeKey;
  try {
    switch (route) {
      case 'GET /get-url': return await getUrl(event);
      case 'POST /urls': return await postUrls(event);
      case 'GET /urls/{id}': return await getStatus(event.pathParameters?.id, callerOf(event));
      case 'DELETE /urls/{id}': return await revoke(event.pathParameters?.id, callerOf(event));
      default: return json(404, { error: `no route for ${route}` });
    }
  } catch (err) {
    const e = err as Error;
    if (e instanceof SigningUnavailable) {
      log('refused', { route, reason: 'signing-credentials', message: e.message });
      return json(503, { error: e.message });
    }
    log('error', { route, error: e.name, message: e.message });
    return json(500, { error: 'internal error: no link was issued or changed' });
  }
}

/** `GET /get-url?key=<key>[&expiresInSeconds=<n>]`, the seed's shape. */
async function getUrl(event: APIGatewayProxyEventV2): Promise<Result> {
  // Parse the raw query ourselves: API Gateway joins repeated parameters with commas.
  const query = parseQuery(event.rawQueryString ?? '');
  if (!query.ok) return badRequest('query', query.reason);
  const expires = query.value.get('expiresInSeconds');
  if (expires !== undefined && !/^\d{1,9}$/.test(expires)) return badRequest('expiresInSeconds', lifetimeError());
  return mintFor({ key: query.value.get('key'), expiresInSeconds: expires === undefined ? undefined : Number(expires) }, 200, callerOf(event));
}

/** `POST /urls` with `{ "key", "expiresInSeconds"?, "maxUses"?, "downloadWindowSeconds"?, "landingPage"? }`. */
async function postUrls(event: APIGatewayProxyEventV2): Promise<Result> {
  let body: unknown;
  try {
    body = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body ?? '');
  } catch {
    return badRequest('body', 'body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('body', 'body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !['key', 'expiresInSeconds', 'maxUses', 'downloadWindowSeconds', 'landingPage'].includes(k));
  if (unknown !== undefined) return badRequest(unknown, `unknown field ${unknown}`);
  if (fields.key !== undefined && typeof fields.key !== 'string') return badRequest('key', 'key must be a string');
  if (fields.landingPage !== undefined && typeof fields.landingPage !== 'boolean') return badRequest('landingPage', 'landingPage must be true or false');
  for (const name of ['expiresInSeconds', 'maxUses', 'downloadWindowSeconds']) {
    if (fields[name] !== undefined && !Number.isSafeInteger(fields[name])) return badRequest(name, `${name} must be an integer`);
  }
  return mintFor(fields as MintRequest, 201, callerOf(event));
}

interface MintRequest {
  readonly key?: string;
  readonly expiresInSeconds?: number;
  readonly maxUses?: number;
  readonly downloadWindowSeconds?: number;
  readonly landingPage?: boolean;
}

async function mintFor(req: MintRequest, status: number, caller: Caller): Promise<Result> {
  const { expiresInSeconds, maxUses } = req;
  const s = loadSettings();
  const key = validateKey(req.key);
  if (!key.ok) return badRequest('key', key.reason);
  const lifetime = expiresInSeconds ?? s.defaultExpiresSeconds;
  if (lifetime < 1 || lifetime > s.maxExpiresSeconds) return badRequest('expiresInSeconds', lifetimeError());
  const uses = maxUses ?? s.defaultMaxUses;
  if (uses < 1 || uses > s.maxUsesLimit) return badRequest('maxUses', `maxUses must be an integer between 1 and ${s.maxUsesLimit}`);
  const window = req.downloadWindowSeconds ?? s.defaultWindowSeconds;
  if (window < 0 || window > MAX_DOWNLOAD_WINDOW_SECONDS) {
    return badRequest('downloadWindowSeconds', `downloadWindowSeconds must be an integer between 0 and ${MAX_DOWNLOAD_WINDOW_SECONDS}`);
  }
  if (!s.allowedKeyPrefixes.some((prefix) => key.value.startsWith(prefix))) {
    log('refused', { reason: 'prefix-not-allowed' });
    return json(403, { error: 'key is outside the prefixes this API may mint links for', field: 'key' });
  }

  // Existence via ListObjectsV2 (s3:ListBucket) with the function's own role, which reads
  // no object: only the signer (src/handlers/signing.ts) may, and only through CloudFront.
  const { s3 } = loadClients();
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: s.bucketName, Prefix: key.value, MaxKeys: 1 }));
  const object = listed.Contents?.[0];
  if (object?.Key !== key.value) {
    log('refused', { reason: 'not-found' });
    return json(404, { error: 'object not found', key: key.value });
  }

  const landingPage = req.landingPage ?? s.defaultLandingPage;
  const link = await issue(key.value, object.Size ?? 0, lifetime, uses, window, landingPage, caller.id);
  log('issued', { id: link.id, expiresAt: link.expiresAt, maxUses: uses, downloadWindowSeconds: window, landingPage });
  return json(status, status === 201 ? { ...link, maxUses: uses, downloadWindowSeconds: window, landingPage } : link);
}

async function getStatus(id: string | undefined, caller: Caller): Promise<Result> {
  if (id === undefined || !isLinkId(id)) return json(404, { error: 'no such link' });
  const s = loadSettings();
  const out = await loadClients().dynamo.send(new GetItemCommand(getLinkInput(s.tableName, id)));
  if (!out.Item) return json(404, { error: 'no such link' });
  const status = linkStatus(out.Item);
  if (!mayManage(caller, status.owner)) return notYours(id);
  return json(200, status);
}

async function revoke(id: string | undefined, caller: Caller): Promise<Result> {
  if (id === undefined || !isLinkId(id)) return json(404, { error: 'no such link' });
  // A scoped caller without an identity owns nothing.
  if (caller.scoped && caller.id === undefined) return notYours(id);
  const s = loadSettings();
  try {
    await loadClients().dynamo.send(new UpdateItemCommand(
      revokeLinkInput(s.tableName, id, Math.floor(Date.now() / 1000), caller.scoped ? caller.id : undefined),
    ));
  } catch (err) {
    const e = err as Error & { Item?: unknown };
    if (e.name !== 'ConditionalCheckFailedException') throw err;
    // The old item comes back only when the link exists: then it is someone else's.
    return e.Item ? notYours(id) : json(404, { error: 'no such link' });
  }
  log('revoked', { id });
  return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
}

/**
 * Who calls, as the route's authorizer established it. IAM callers hold an explicit
 * grant (grantManage) and may manage every link; JWT and Lambda-authorizer callers are
 * any signed-in user of an identity provider, so they manage only links they minted.
 */
interface Caller {
  /** Recorded as the owner of links this caller mints. */
  readonly id: string | undefined;
  /** Whether this caller may only manage its own links. */
  readonly scoped: boolean;
}

interface AuthorizerContext {
  readonly iam?: { readonly userArn?: string };
  readonly jwt?: { readonly claims?: Record<string, unknown> };
  readonly lambda?: Record<string, unknown>;
}

function callerOf(event: APIGatewayProxyEventV2): Caller {
  const authorizer = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer;
  if (typeof authorizer?.iam?.userArn === 'string') return { id: `iam:${authorizer.iam.userArn}`, scoped: false };
  const claims = authorizer?.jwt?.claims;
  if (claims) {
    // A JWT caller without a subject has no identity to own links with: it may manage none.
    const ok = typeof claims.sub === 'string' && claims.sub !== '';
    return { id: ok ? `jwt:${String(claims.iss ?? '')}#${claims.sub as string}` : undefined, scoped: true };
  }
  if (authorizer?.lambda) {
    const principal = authorizer.lambda.sub ?? authorizer.lambda.principalId;
    return { id: typeof principal === 'string' && principal !== '' ? `lambda:${principal}` : undefined, scoped: true };
  }
  return { id: undefined, scoped: false };
}

function mayManage(caller: Caller, owner: string | undefined): boolean {
  return !caller.scoped || (caller.id !== undefined && caller.id === owner);
}

function notYours(id: string): Result {
  log('refused', { reason: 'not-owner', id });
  return json(403, { error: 'this link was minted by another caller' });
}

function lifetimeError(): string {
  return `expiresInSeconds must be an integer between 1 and ${loadSettings().maxExpiresSeconds}`;
}

interface MintedLink {
  readonly url: string;
  readonly id: string;
  readonly expiresAt: string;
}

async function issue(
  key: string,
  size: number,
  requestedLifetime: number,
  maxUses: number,
  windowSeconds: number,
  landingPage: boolean,
  owner: string | undefined,
): Promise<MintedLink> {
  const s = loadSettings();
  const { signer, dynamo } = loadClients();
  const now = Math.floor(Date.now() / 1000);
  const lifetime = requestedLifetime;

  // A URL dies with the credentials that signed it, whatever X-Amz-Expires says: sign only
  // with credentials that outlive the link (src/handlers/signing.ts), so expiresAt is exact.
  const credentials = await signer.credentialsFor(lifetime, now);

  // Never begins with `-` (see newLinkId), so it is never taken for an option on a command line.
  const id = newLinkId();
  const path = keyToPath(key);
  const signed = await presignerFor(credentials).presign(
    new HttpRequest({
      method: 'GET',
      protocol: 'https:',
      hostname: s.originDomain,
      path,
      query: {
        [LINK_ID_PARAM]: id,
        [LINK_GENERATION_PARAM]: String(s.secretGeneration),
        [LINK_WINDOW_PARAM]: String(windowSeconds),
        [LINK_SIZE_PARAM]: String(size),
        ...(landingPage ? { [LINK_PAGE_PARAM]: '1' } : {}),
      },
      headers: { host: s.originDomain, [ORIGIN_VERIFY_HEADER]: await loadOriginSecret() },
    }),
    { expiresIn: lifetime, signingDate: new Date(now * 1000) },
  );

  // The signature covers the host: it must be exactly the origin host CloudFront sends.
  const signedQuery = signed.query ?? {};
  const signedHeaders = String(signedQuery['X-Amz-SignedHeaders'] ?? '').split(';');
  if (signed.headers.host !== s.originDomain || !signedHeaders.includes('host') || !signedHeaders.includes(ORIGIN_VERIFY_HEADER)) {
    throw new Error(`presigned URL is not bound to the origin host ${s.originDomain} and the origin secret`);
  }

  const querystring = buildQuery(Object.entries(signedQuery).map(([k, v]) => [k, String(v)]));
  const params = parseQuery(querystring);
  if (!params.ok) throw new Error(`presigner produced an unparsable query: ${params.reason}`);

  const expiresAt = now + lifetime;
  // Record before returning: a link the ledger does not know can never be redeemed,
  // and a failed write returns an error instead of a half-issued link.
  await dynamo.send(new PutItemCommand(issueLinkInput(s.tableName, {
    id, key, size, fingerprint: linkFingerprint(key, params.value), maxUses, expiresAt, now, owner,
  })));
  return { url: `${s.publicBaseUrl}${path}?${querystring}`, id, expiresAt: new Date(expiresAt * 1000).toISOString() };
}

async function loadOriginSecret(): Promise<string> {
  if (originSecret && Date.now() < originSecret.freshUntil) return originSecret.value;
  const out = await loadClients().secrets.send(new GetSecretValueCommand({ SecretId: loadSettings().originSecretArn }));
  if (!out.SecretString) throw new Error('origin secret has no string value');
  originSecret = { value: out.SecretString, freshUntil: Date.now() + SECRET_REFRESH_MS };
  return originSecret.value;
}

function loadSettings(): Settings {
  if (settings) return settings;
  const read = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  settings = {
    bucketName: read(MintEnv.bucketName),
    bucketRegion: read(MintEnv.bucketRegion),
    originDomain: read(MintEnv.originDomain),
    publicBaseUrl: read(MintEnv.publicBaseUrl),
    tableName: read(MintEnv.tableName),
    originSecretArn: read(MintEnv.originSecretArn),
    secretGeneration: Number(read(MintEnv.secretGeneration)),
    defaultExpiresSeconds: Number(read(MintEnv.defaultExpiresSeconds)),
    maxExpiresSeconds: Number(read(MintEnv.maxExpiresSeconds)),
    defaultMaxUses: Number(read(MintEnv.defaultMaxUses)),
    maxUsesLimit: Number(read(MintEnv.maxUsesLimit)),
    allowedKeyPrefixes: JSON.parse(read(MintEnv.allowedKeyPrefixes)) as string[],
    defaultWindowSeconds: Number(read(MintEnv.defaultWindowSeconds)),
    defaultLandingPage: process.env[MintEnv.defaultLandingPage] === 'true',
  };
  return settings;
}

function presignerFor(credentials: Signing): S3RequestPresigner {
  if (presigner?.credentials !== credentials) {
    const s = loadSettings();
    // The presigner signs a request we build ourselves, so the host comes from our
    // configuration, never from endpoint resolution (which local runs redirect).
    presigner = {
      credentials,
      value: new S3RequestPresigner({ region: s.bucketRegion, credentials, sha256: loadClients().s3.config.sha256 }),
    };
  }
  return presigner.value;
}

function loadClients(): Clients {
  if (clients) return clients;
  const s = loadSettings();
  const requestHandler = boundedHttpHandler({ connectionTimeoutMs: 2000, requestTimeoutMs: 5000 });
  const s3 = new S3Client({
    region: s.bucketRegion,
    requestHandler,
    // Keep the SDK from adding checksum parameters that would change URLs across SDK upgrades.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const secrets = new SecretsManagerClient({ requestHandler });
  let sts: STSClient | undefined;
  clients = {
    s3,
    signer: new LinkSigner(signingConfigFromEnv(process.env), {
      secrets,
      sts: () => (sts ??= new STSClient({ requestHandler })),
    }, () => s3.config.credentials()),
    dynamo: new DynamoDBClient({ requestHandler }),
    secrets,
  };
  return clients;
}

function badRequest(field: string, message: string): Result {
  log('refused', { reason: 'bad-request', field });
  return json(400, { error: message, field });
}

function json(statusCode: number, body: unknown): Result {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

function log(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ...fields }));
}
