// Mint handler (regional Lambda behind the HTTP API): issues one-time links.
//
// A link is a token (src/shared/link.ts): a fresh random id, the key's path for a readable
// file name, and what the edge needs before its one ledger call. The mint checks the object
// exists (recording its size), records the link and its fingerprint in the ledger, and only
// then returns the URL. It signs nothing: the edge signs each request it sends to S3 with its
// own role, so no key, no secret and no signature's lifetime bounds a link.
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  getLinkInput, hasSessionItems, issueLinkInput, linkStatus, revokeLinkInput, revokeSessionInput, sessionsOfLinkInput, sweepAgainAt,
} from './ledger';
import { newLinkId } from './link-id';
import { boundedHttpHandler } from './sdk';
import { DEFAULT_MAX_UPLOAD_BYTES, MintEnv } from '../shared/config';
import { Attr, SessionAttr } from '../shared/ledger';
import {
  isLinkId, isMediaType, keyToPath, LINK_EXPIRES_PARAM, LINK_ID_PARAM, LINK_PAGE_PARAM, LINK_PASS_PARAM, LINK_SIZE_PARAM, LINK_TYPE_PARAM,
  LINK_UPLOAD_PARAM, LINK_USES_PARAM,
  LINK_WINDOW_PARAM, linkFingerprint, linkQuery, MAX_DOWNLOAD_WINDOW_SECONDS, parseQuery, validateKey,
} from '../shared/link';
import { generatePassphrase, hashPassphrase, passphraseProblem } from '../shared/passphrase';

interface Settings {
  readonly bucketName: string;
  readonly bucketRegion: string;
  readonly publicBaseUrl: string;
  readonly tableName: string;
  readonly sessionsTableName: string;
  readonly defaultExpiresSeconds: number;
  readonly maxExpiresSeconds: number;
  readonly defaultMaxUses: number;
  readonly maxUsesLimit: number;
  readonly allowedKeyPrefixes: string[];
  readonly defaultWindowSeconds: number;
  readonly defaultLandingPage: boolean;
  readonly passphraseAttempts: number;
  /** Prefixes upload links may be minted for (none: no upload links). */
  readonly uploadKeyPrefixes: string[];
  readonly maxUploadBytes: number;
}

interface Clients {
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
}

let settings: Settings | undefined;
let clients: Clients | undefined;

type Result = APIGatewayProxyStructuredResultV2;

export async function handler(event: APIGatewayProxyEventV2): Promise<Result> {
  const route = event.routeKey;
  try {
    switch (route) {
      case 'GET /get-url': return await getUrl(event);
      case 'POST /urls': return await postUrls(event);
      case 'POST /uploads': return await postUploads(event);
      case 'GET /urls/{id}': return await getStatus(event.pathParameters?.id, callerOf(event));
      case 'DELETE /urls/{id}': return await revoke(event.pathParameters?.id, callerOf(event));
      default: return json(404, { error: `no route for ${route}` });
    }
  } catch (err) {
    const e = err as Error;
    log('error', { route, error: e.name, message: e.message });
    return json(500, { error: 'internal error: no link was issued or changed' });
  }
}

/** `GET /get-url?key=<key>[&expiresInSeconds=<n>]`, the seed's shape. */
async function getUrl(event: APIGatewayProxyEventV2): Promise<Result> {
  // Parse the raw query ourselves: API Gateway joins repeated parameters with commas.
  const query = parseQuery(event.rawQueryString ?? '');
  if (!query.ok) return badRequest('query', query.reason);
  // A passphrase has no place in a URL (it would sit in logs and histories), and ignoring it
  // would issue an unprotected link to a caller who asked for a protected one.
  const asked = ['passphrase', 'generatePassphrase'].find((name) => query.value.has(name));
  if (asked) return badRequest(asked, `${asked} is only taken in the JSON body of POST /urls, never in a URL`);
  const expires = query.value.get('expiresInSeconds');
  if (expires !== undefined && !/^\d{1,9}$/.test(expires)) return badRequest('expiresInSeconds', lifetimeError());
  return mintFor({ key: query.value.get('key'), expiresInSeconds: expires === undefined ? undefined : Number(expires) }, 200, callerOf(event));
}

/**
 * `POST /urls` with `{ "key", "expiresInSeconds"?, "maxUses"?, "downloadWindowSeconds"?, "landingPage"?,
 * "passphrase"? | "generatePassphrase"? }`.
 */
async function postUrls(event: APIGatewayProxyEventV2): Promise<Result> {
  const parsed = jsonFields(event, ['key', 'expiresInSeconds', 'maxUses', 'downloadWindowSeconds', 'landingPage', 'passphrase', 'generatePassphrase']);
  if ('refused' in parsed) return parsed.refused;
  const { fields } = parsed;
  const protection = passphraseOf(fields);
  if ('error' in protection) return badRequest(protection.field, protection.error);
  if (fields.key !== undefined && typeof fields.key !== 'string') return badRequest('key', 'key must be a string');
  if (fields.landingPage !== undefined && typeof fields.landingPage !== 'boolean') return badRequest('landingPage', 'landingPage must be true or false');
  for (const name of ['expiresInSeconds', 'maxUses', 'downloadWindowSeconds']) {
    if (fields[name] !== undefined && !Number.isSafeInteger(fields[name])) return badRequest(name, `${name} must be an integer`);
  }
  return mintFor({ ...fields as MintRequest, passphrase: protection.passphrase, generated: protection.generated }, 201, callerOf(event));
}

/** A request's JSON object body, or the 400 that refuses it (not an object, or a field not in `known`). */
function jsonFields(event: APIGatewayProxyEventV2, known: string[]): { fields: Record<string, unknown> } | { refused: Result } {
  let body: unknown;
  try {
    body = JSON.parse(event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body ?? '');
  } catch {
    return { refused: badRequest('body', 'body must be a JSON object') };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { refused: badRequest('body', 'body must be a JSON object') };
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !known.includes(k));
  if (unknown !== undefined) return { refused: badRequest(unknown, `unknown field ${unknown}`) };
  return { fields };
}

/**
 * `POST /uploads` with `{ "key", "maxBytes"?, "contentType"?, "expiresInSeconds"?, "landingPage"? }`:
 * a link that takes one file, stored at `key`. The key must be free (an upload link never
 * replaces an object: S3 refuses the PUT with If-None-Match, see handlers/upload.ts).
 */
async function postUploads(event: APIGatewayProxyEventV2): Promise<Result> {
  const parsed = jsonFields(event, ['key', 'maxBytes', 'contentType', 'expiresInSeconds', 'landingPage']);
  if ('refused' in parsed) return parsed.refused;
  const { fields } = parsed;
  const s = loadSettings();
  if (fields.key !== undefined && typeof fields.key !== 'string') return badRequest('key', 'key must be a string');
  const key = validateKey(fields.key as string | undefined);
  if (!key.ok) return badRequest('key', key.reason);
  for (const name of ['maxBytes', 'expiresInSeconds']) {
    if (fields[name] !== undefined && !Number.isSafeInteger(fields[name])) return badRequest(name, `${name} must be an integer`);
  }
  const maxBytes = (fields.maxBytes as number | undefined) ?? s.maxUploadBytes;
  if (maxBytes < 1 || maxBytes > s.maxUploadBytes) return badRequest('maxBytes', `maxBytes must be an integer between 1 and ${s.maxUploadBytes}`);
  const { contentType } = fields;
  if (contentType !== undefined && (typeof contentType !== 'string' || !isMediaType(contentType))) {
    return badRequest('contentType', 'contentType must be a media type such as application/pdf (type/subtype, no parameters)');
  }
  const lifetime = (fields.expiresInSeconds as number | undefined) ?? s.defaultExpiresSeconds;
  if (lifetime < 1 || lifetime > s.maxExpiresSeconds) return badRequest('expiresInSeconds', lifetimeError());
  if (fields.landingPage !== undefined && typeof fields.landingPage !== 'boolean') return badRequest('landingPage', 'landingPage must be true or false');
  if (s.uploadKeyPrefixes.length === 0) {
    log('refused', { reason: 'uploads-off' });
    return json(403, { error: 'this API mints no upload links: the construct has no uploadKeyPrefixes', field: 'key' });
  }
  if (!s.uploadKeyPrefixes.some((prefix) => key.value.startsWith(prefix))) {
    log('refused', { reason: 'prefix-not-allowed' });
    return json(403, { error: 'key is outside the prefixes this API may mint upload links for', field: 'key' });
  }
  if (await storedObject(key.value)) {
    log('refused', { reason: 'exists' });
    return json(409, { error: 'an object already exists at key: an upload link never replaces one', field: 'key' });
  }
  const landingPage = (fields.landingPage as boolean | undefined) ?? true;
  const type = (contentType as string | undefined)?.toLowerCase();
  const link = await record(key.value, maxBytes, lifetime, [
    [LINK_WINDOW_PARAM, '0'],
    [LINK_SIZE_PARAM, String(maxBytes)],
    ...(landingPage ? [[LINK_PAGE_PARAM, '1'] as [string, string]] : []),
    [LINK_UPLOAD_PARAM, '1'],
    ...(type === undefined ? [] : [[LINK_TYPE_PARAM, type] as [string, string]]),
  ], { maxUses: 1, owner: callerOf(event).id, upload: type === undefined ? {} : { contentType: type } });
  log('issued', { id: link.id, kind: 'upload', expiresAt: link.expiresAt, maxBytes, landingPage });
  return json(201, { ...link, kind: 'upload', maxBytes, ...(type === undefined ? {} : { contentType: type }), landingPage });
}

/**
 * The passphrase a `POST /urls` asks for: the caller's, a generated one, or none. Checked
 * before anything else is done; the error never repeats the value.
 */
function passphraseOf(fields: Record<string, unknown>):
{ passphrase?: string; generated?: boolean } | { error: string; field: string } {
  const { passphrase, generatePassphrase: generate, landingPage } = fields;
  if (generate !== undefined && typeof generate !== 'boolean') return { error: 'generatePassphrase must be true or false', field: 'generatePassphrase' };
  if (passphrase !== undefined && generate === true) {
    return { error: 'give either passphrase or generatePassphrase, not both', field: 'generatePassphrase' };
  }
  if (passphrase !== undefined) {
    if (typeof passphrase !== 'string') return { error: 'passphrase must be a string', field: 'passphrase' };
    const problem = passphraseProblem(passphrase);
    if (problem) return { error: problem, field: 'passphrase' };
  }
  const protectedLink = passphrase !== undefined || generate === true;
  // A protected link is always a landing page (its form takes the passphrase): say so rather
  // than silently issue something other than what was asked for.
  if (protectedLink && landingPage === false) {
    return { error: 'a passphrase-protected link always shows a landing page: leave landingPage out or set it to true', field: 'landingPage' };
  }
  if (!protectedLink) return {};
  return generate === true ? { passphrase: generatePassphrase(), generated: true } : { passphrase: passphrase as string };
}

interface MintRequest {
  readonly key?: string;
  readonly expiresInSeconds?: number;
  readonly maxUses?: number;
  readonly downloadWindowSeconds?: number;
  readonly landingPage?: boolean;
  /** The link's passphrase (the caller's or a generated one): only its derived key is stored. */
  readonly passphrase?: string;
  /** Whether the mint generated the passphrase: then the answer carries it, this once. */
  readonly generated?: boolean;
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

  // Existence and size, recorded with the link.
  const object = await storedObject(key.value);
  if (!object) {
    log('refused', { reason: 'not-found' });
    return json(404, { error: 'object not found', key: key.value });
  }

  const passphraseProtected = req.passphrase !== undefined;
  const landingPage = passphraseProtected || (req.landingPage ?? s.defaultLandingPage);
  const link = await issue(key.value, object.Size ?? 0, lifetime, uses, window, landingPage, caller.id, req.passphrase);
  log('issued', { id: link.id, expiresAt: link.expiresAt, maxUses: uses, downloadWindowSeconds: window, landingPage, passphraseProtected });
  if (status !== 201) return json(status, link);
  return json(status, {
    ...link,
    maxUses: uses,
    downloadWindowSeconds: window,
    landingPage,
    passphraseProtected,
    // Only a generated passphrase comes back, and only now: nothing can show it again.
    ...(req.generated ? { passphrase: req.passphrase } : {}),
  });
}

/**
 * The object stored at `key`, if any: ListObjectsV2 (s3:ListBucket) with the function's own
 * role, which reads no object (only the edge function's role may, for the requests it lets through).
 */
async function storedObject(key: string): Promise<{ Key?: string; Size?: number } | undefined> {
  const listed = await loadClients().s3.send(new ListObjectsV2Command({ Bucket: loadSettings().bucketName, Prefix: key, MaxKeys: 1 }));
  const object = listed.Contents?.[0];
  return object?.Key === key ? object : undefined;
}

async function getStatus(id: string | undefined, caller: Caller): Promise<Result> {
  if (id === undefined || !isLinkId(id)) return json(404, { error: 'no such link' });
  const s = loadSettings();
  const out = await loadClients().dynamo.send(new GetItemCommand(getLinkInput(s.tableName, id)));
  if (!out.Item) return json(404, { error: 'no such link' });
  if (!mayManage(caller, out.Item[Attr.owner]?.S)) return notYours(id);
  return json(200, linkStatus(out.Item, hasSessionItems(out.Item) ? await sessionsOf(id) : []));
}

/** Every session item of an N-use link (at most one per use, so a few pages at most). */
async function sessionsOf(id: string): Promise<Array<Record<string, AttributeValue>>> {
  const { dynamo } = loadClients();
  const items: Array<Record<string, AttributeValue>> = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(new QueryCommand(sessionsOfLinkInput(loadSettings().sessionsTableName, id, startKey)));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/**
 * Stops the open sessions of a revoked N-use link (each continuation checks only its session's
 * item). A take the link's item records within the edge's budget may still be writing its
 * session, so the sweep runs again once that budget has passed: when DELETE answers, nothing
 * of the link serves.
 */
async function revokeSessions(item: Record<string, AttributeValue>): Promise<void> {
  const { dynamo } = loadClients();
  const sweep = async () => {
    for (const session of await sessionsOf(item[Attr.id].S!)) {
      if (session[SessionAttr.revoked]?.BOOL === true) continue;
      try {
        await dynamo.send(new UpdateItemCommand(revokeSessionInput(loadSettings().sessionsTableName, session)));
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      }
    }
  };
  await sweep();
  const again = sweepAgainAt(item);
  const wait = again === undefined ? 0 : again * 1000 - Date.now();
  if (wait > 0) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    await sweep();
  }
}

async function revoke(id: string | undefined, caller: Caller): Promise<Result> {
  if (id === undefined || !isLinkId(id)) return json(404, { error: 'no such link' });
  // A scoped caller without an identity owns nothing.
  if (caller.scoped && caller.id === undefined) return notYours(id);
  const s = loadSettings();
  try {
    const out = await loadClients().dynamo.send(new UpdateItemCommand(
      revokeLinkInput(s.tableName, id, Math.floor(Date.now() / 1000), caller.scoped ? caller.id : undefined),
    ));
    if (out.Attributes && hasSessionItems(out.Attributes)) await revokeSessions(out.Attributes);
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
  lifetime: number,
  maxUses: number,
  windowSeconds: number,
  landingPage: boolean,
  owner: string | undefined,
  passphrase: string | undefined,
): Promise<MintedLink> {
  return record(key, size, lifetime, [
    ...(maxUses > 1 ? [[LINK_USES_PARAM, String(maxUses)] as [string, string]] : []),
    [LINK_WINDOW_PARAM, String(windowSeconds)],
    [LINK_SIZE_PARAM, String(size)],
    ...(landingPage ? [[LINK_PAGE_PARAM, '1'] as [string, string]] : []),
    ...(passphrase !== undefined ? [[LINK_PASS_PARAM, '1'] as [string, string]] : []),
  ], { maxUses, owner, passphrase });
}

/**
 * Records a link in the ledger and returns it: a fresh id and expiry, then `params` (the
 * link's own parameters after them, in the mint's order).
 */
async function record(
  key: string,
  size: number,
  lifetime: number,
  params: Array<[string, string]>,
  { maxUses, owner, passphrase, upload }: { maxUses: number; owner: string | undefined; passphrase?: string; upload?: { contentType?: string } },
): Promise<MintedLink> {
  const s = loadSettings();
  const { dynamo } = loadClients();
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = now + lifetime;
  const id = newLinkId();
  const all = new Map<string, string>([[LINK_ID_PARAM, id], [LINK_EXPIRES_PARAM, String(expiresAt)], ...params]);
  // Salted with the link id (shared/passphrase.ts): the edge derives the same key without I/O.
  const hash = passphrase === undefined ? undefined : await hashPassphrase(passphrase, id);
  // Record before returning: a link the ledger does not know can never be redeemed,
  // and a failed write returns an error instead of a half-issued link.
  await dynamo.send(new PutItemCommand(issueLinkInput(s.tableName, {
    id,
    key,
    size,
    fingerprint: linkFingerprint(key, all),
    maxUses,
    expiresAt,
    now,
    owner,
    ...(hash === undefined ? {} : { passphrase: { hash, attempts: s.passphraseAttempts } }),
    ...(upload === undefined ? {} : { upload }),
  })));
  return { url: `${s.publicBaseUrl}${keyToPath(key)}?${linkQuery(all)}`, id, expiresAt: new Date(expiresAt * 1000).toISOString() };
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
    publicBaseUrl: read(MintEnv.publicBaseUrl),
    tableName: read(MintEnv.tableName),
    sessionsTableName: read(MintEnv.sessionsTableName),
    defaultExpiresSeconds: Number(read(MintEnv.defaultExpiresSeconds)),
    maxExpiresSeconds: Number(read(MintEnv.maxExpiresSeconds)),
    defaultMaxUses: Number(read(MintEnv.defaultMaxUses)),
    maxUsesLimit: Number(read(MintEnv.maxUsesLimit)),
    allowedKeyPrefixes: JSON.parse(read(MintEnv.allowedKeyPrefixes)) as string[],
    defaultWindowSeconds: Number(read(MintEnv.defaultWindowSeconds)),
    defaultLandingPage: process.env[MintEnv.defaultLandingPage] === 'true',
    passphraseAttempts: Number(read(MintEnv.passphraseAttempts)),
    // Absent in a deployment from before upload links: none.
    uploadKeyPrefixes: JSON.parse(process.env[MintEnv.uploadKeyPrefixes] || '[]') as string[],
    maxUploadBytes: Number(process.env[MintEnv.maxUploadBytes] || DEFAULT_MAX_UPLOAD_BYTES),
  };
  return settings;
}

function loadClients(): Clients {
  if (clients) return clients;
  const s = loadSettings();
  const requestHandler = boundedHttpHandler({ connectionTimeoutMs: 2000, requestTimeoutMs: 5000 });
  clients = {
    s3: new S3Client({ region: s.bucketRegion, requestHandler }),
    dynamo: new DynamoDBClient({ requestHandler }),
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
