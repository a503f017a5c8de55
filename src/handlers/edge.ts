// Lambda@Edge handler, associated three times with the distribution's behaviour:
// - viewer-request: redeems a one-time link atomically, or refuses; a request it lets
//   through asks for the object key the ledger recorded at mint, never one from the URL;
// - origin-request: signs that one request for S3 with the function's own role (origin-signing.ts);
// - origin-response: gives back what a request took when the origin failed it, removes
//   S3's x-amz-* headers from successes, and replaces every error answer of the origin.
//
// Who may continue a download: the browser holding a landing page's session cookie, or,
// for a direct link, the client (address by /64, User-Agent) that redeemed it (viewer.ts).
//
// Everything a redemption needs is staged beside the handler at synth (config.json): a
// warm or cold request of a one-use link costs exactly one DynamoDB call and no SSM call (an
// N-use link's new use two or three, its continuation one or two: session-table.ts). The SSM
// parameter holds only operator switches, read in the background.
import { readFileSync } from 'fs';
import { join } from 'path';
import {
  DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand,
  type AttributeValue, type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type {
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
  CloudFrontResponse,
  CloudFrontResponseEvent,
  CloudFrontResultResponse,
} from 'aws-lambda';
import { requestedBytes } from './byte-range';
import {
  afterRefusal, continueInput, directHolder, linkState, objectKeyOf, openInput, redeemInput, reopenedBy, sessionEnd, sessionKey, sessionRefusal,
  type Refusal, type ViewerRequest,
} from './download-session';
import { CONTINUED, publish, publishOutcome, REDEEMED, withOutcome } from './edge-metrics';
import { getLinkInput } from './ledger';
import { forwardedLinkId, forwardedSession, giveBackInput, isOriginFailure, LINK_SESSION_PARAM } from './origin-failure';
import { signOriginRequest } from './origin-signing';
import {
  isLocked, LOCKED_MESSAGE, MISSING_PASSPHRASE_MESSAGES, NO_PASSPHRASE, passphraseKey, passphraseOfRequest, passphraseOutcome, rightPassphrase,
  triesLeftOf, wrongPassphraseMessage, wrongTryInput,
} from './passphrase';
import { boundedHttpHandler, byDeadline, deadlines } from './sdk';
import {
  continueSessionInput, getSessionInput, giveBackSessionInputs, oldItem, openUntil, openUse, redeemFromTable, sessionItemRefusal, sessionSortKey,
  type SessionCalls, type Tables,
} from './session-table';
import {
  declaredBytes, endTakeInput, isConflict, takeUploadInput, uploadAnswer, uploadedInput, uploadLinkState, uploadProblem,
} from './upload';
import { isSameOriginPost, newSessionSecret, sessionCookie, sessionSecretOf } from './viewer';
import { EDGE_BUDGET_MS, EDGE_STAGED_CONFIG_FILE, EdgeOperatorConfig, EdgeStagedConfig, nextOperatorRead } from '../shared/config';
import type { RefusalReason } from '../shared/download-metrics';
import { renderLandingPage, renderMessagePage, wantsHtml } from '../shared/landing-page';
import { Attr, type Redemption } from '../shared/ledger';
import { buildQuery, keyToPath, LINK_ID_PARAM, mediaTypeOf, parsePresentedLink, type PresentedLink } from '../shared/link';
import { previewMatcher, previewProbe } from '../shared/preview';
import { renderUploadPage } from '../shared/upload-page';


let staged: { config: EdgeStagedConfig; preview: RegExp | undefined } | undefined;
/** The operator switches: last good value, and when to read them again. */
let operator: { config: EdgeOperatorConfig; preview: RegExp | undefined; nextReadAt: number } = {
  config: {}, preview: undefined, nextReadAt: 0,
};
let operatorRead: Promise<void> | undefined;
let ssm: SSMClient | undefined;
let dynamo: DynamoDBClient | undefined;
let dynamoOnce: DynamoDBClient | undefined;
let ledgerTransport: ReturnType<typeof boundedHttpHandler> | undefined;

export async function handler(event: CloudFrontRequestEvent | CloudFrontResponseEvent): Promise<CloudFrontRequestResult> {
  const cf = event.Records[0].cf;
  if ('response' in cf) return originResponse(cf.request, cf.response, cf.config.requestId);
  // The function's own role session, as the SDK resolved it for the ledger client: one
  // credential chain and one SHA-256 in the bundle.
  if (cf.config.eventType === 'origin-request') {
    const { bucketRegion, tableRegion } = stagedConfig().config;
    return signOriginRequest(cf.request, bucketRegion, () => ledgerClient(tableRegion));
  }
  const answer = await redeem(cf.request, cf.config.requestId);
  publishOutcome(stagedConfig().config.metricsId, answer);
  return answer;
}

/** What each refusal tells the viewer. */
const REFUSALS: Record<Refusal, string> = {
  unknown: 'This link is not valid. Check that you copied all of it, or ask the sender for a new link.',
  revoked: 'This link has been revoked by the sender.',
  expired: 'This link has expired.',
  used: 'This link has already been used.',
  allowance: 'This download has already transferred three times the file\'s size, the most one use allows. Ask the sender for a new link.',
  ended: 'This download has ended. Open the link again to start another one, if it has uses left.',
};
/** Which refusal a message of REFUSALS is, for the metrics. */
const REFUSAL_OF = new Map(Object.entries(REFUSALS).map(([refusal, message]) => [message, refusal as Refusal]));

async function redeem(request: CloudFrontRequest, requestId: string): Promise<CloudFrontRequestResult> {
  const deadline = Date.now() + EDGE_BUDGET_MS;
  const { config, preview } = stagedConfig();
  refreshOperatorConfig();
  const say = responder(request);

  // Only GET redeems, POST presses a landing page's button and PUT sends an upload link its
  // file. HEAD, OPTIONS and the rest are refused before any I/O, so they never burn a use.
  if (!['GET', 'POST', 'PUT'].includes(request.method)) return say.refuse('Only GET is allowed for one-time links.', 'method');

  const now = Math.floor(Date.now() / 1000);
  const parsed = parsePresentedLink(request.uri, request.querystring, now);
  if (!parsed.ok) return say.refuse(parsed.reason === 'link has expired' ? REFUSALS.expired : `Refused: ${parsed.reason}.`, 'malformed');
  const link = parsed.value;
  if (link.upload) return receiveUpload(request, link, requestId, ledgerCaller(config.tableRegion, deadline), say, now);
  if (request.method === 'PUT' || (request.method === 'POST' && !link.landingPage)) return say.refuse('Only GET is allowed for one-time links.', 'method');
  if (operator.config.paused) return say.unavailable('Downloads are paused by the operator. Try again later.', 'paused');

  // Speculative prefetch and prerender would spend a use before anyone clicks.
  if (isPrefetch(request.headers)) return say.refuse('Prefetched requests do not open one-time links.', 'prefetch');

  const range = request.headers.range?.[0]?.value;
  const userAgent = request.headers['user-agent']?.[0]?.value ?? '';
  const who: ViewerRequest = {
    at: new Date().toISOString(),
    ip: request.clientIp,
    userAgent,
    requestId,
    bytes: request.method === 'GET' ? requestedBytes(range, link.objectSize) : 0,
  };
  const ledger = ledgerCaller(config.tableRegion, deadline);

  const probe = previewProbe(userAgent);
  const isPreview = preview?.test(probe) === true || operator.preview?.test(probe) === true;
  if (link.landingPage && request.method === 'GET') {
    const secret = sessionSecretOf(request.headers, link.id);
    // A chat or mail preview gets the neutral title (its OpenGraph tags) and nothing else:
    // no I/O, so previews cost nothing whatever their volume.
    if (isPreview) return previewPage();
    // Opening the link: the page, after one read that tells the truth about the link. A
    // person and a mail scanner both get it; neither spends anything.
    if (secret === undefined && range === undefined) return pageView(link, ledger, say, now);
    // A range without the session cookie is not the browser that pressed the button.
    if (secret === undefined) return say.refuse('This download was started in another browser. Open the link to download it here, if it has uses left.', 'other-browser');
    // The browser that pressed the button: its session continues, whatever URL or address.
    const c = sessionKey({ kind: 'browser', secret });
    // An N-use link's session is an item of its own (session-table.ts), its first and only.
    const tabled = link.maxUses > 1 ? sessionSortKey(c, 1) : undefined;
    const result = await ledger.update(tabled === undefined ? continueInput(config.tableName, link, c, who, now)
      : continueSessionInput(config.sessionsTableName, link, tabled, who, now));
    if (result === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    if (!result.refusedItem) return withOutcome(forward(request, link, result.attributes, tabled), CONTINUED);
    // What is left of the link: its item (an N-use link's session item does not say).
    const item = tabled === undefined ? oldItem(result.refusedItem) : await ledger.read(config.tableName, link.id, false);
    if (item === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    const state = linkState(item, link, now);
    // A navigation after the session ended shows the page again (as opening the link would).
    if (!('refusal' in state) && range === undefined && say.html) return landingPageFor(item!, state.usesLeft);
    const ended = tabled === undefined ? sessionRefusal(result.refusedItem, c, who.bytes, now)
      : sessionItemRefusal(oldItem(result.refusedItem), who.bytes, now);
    return say.refuse(REFUSALS['refusal' in state ? state.refusal : ended]);
  }

  if (isPreview) return say.refuse('Link previews are not served: this link works once. Open it in a browser.', 'preview');

  if (request.method === 'POST') {
    // The button, pressed on the link's own page: a third-party page must not spend it.
    if (!isSameOriginPost(request.headers)) return say.refuse('This download must be started from its own page. Open the link and press Download.', 'cross-site');
    return pressButton(request, link, who, ledger, say, now);
  }

  const c = sessionKey(directHolder(link, who));
  if (link.maxUses > 1) {
    // An N-use link: its sessions are items of their own (session-table.ts).
    const tabled = await redeemFromTable(ledger, tables(), link, c, who, now);
    if (tabled === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    if (typeof tabled === 'string') return say.refuse(REFUSALS[tabled]);
    return withOutcome(forward(request, link, tabled.pass, tabled.session), tabled.opened ? REDEEMED : CONTINUED);
  }
  const outcome = await redeemDirect(config.tableName, ledger, link, c, who, now);
  if (outcome === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
  if (typeof outcome === 'string') return say.refuse(REFUSALS[outcome]);
  // A use this request opened (its own write, or its own earlier attempt, recorded it), or a session it continued.
  return withOutcome(forward(request, link, outcome.pass), reopenedBy(outcome.pass, c, who) ? REDEEMED : CONTINUED);
}

/**
 * An upload link (upload.ts): its GET shows how to send the file (the upload page, after one
 * read that tells the truth about the link), its PUT is checked, then takes the link with one
 * conditional write and goes on to S3 with If-None-Match: *.
 */
async function receiveUpload(
  request: CloudFrontRequest, link: PresentedLink, requestId: string, ledger: LedgerCaller, say: Responder, now: number,
): Promise<CloudFrontRequestResult> {
  const { tableName } = stagedConfig().config;
  if (request.method !== 'PUT') {
    const usage = `This link takes one file, sent with PUT: curl -T FILE '${link.canonicalUri}?${link.canonicalQuery}' (with this site's address before it).`;
    if (request.method !== 'GET' || !link.landingPage || !say.html) return say.reject('405', 'Method Not Allowed', usage, 'method', { allow: 'PUT' });
    const item = await ledger.read(tableName, link.id, false);
    if (item === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    const state = uploadLinkState(item, link, now);
    return state === 'open' ? uploadPage(link, item!) : say.refuse(state.message, state.reason);
  }
  if (operator.config.paused) return say.unavailable('Uploads are paused by the operator. Try again later.', 'paused');
  const problem = uploadProblem(request, link);
  if (problem) return say.reject(problem.status, STATUS_TEXT[problem.status], problem.message, 'upload');
  const who: Redemption = { at: new Date().toISOString(), ip: request.clientIp, userAgent: request.headers['user-agent']?.[0]?.value ?? '', requestId };
  const type = mediaTypeOf(request.headers['content-type']?.[0]?.value);
  const result = await ledger.update(takeUploadInput(tableName, link, who, declaredBytes(request), type, now));
  if (result === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
  if (result.refusedItem) {
    const state = uploadLinkState(oldItem(result.refusedItem), link, now);
    // 'open': the item changed between the write and now (a take given back meanwhile).
    if (state === 'open') return say.refuse('A file is being uploaded through this link right now. Try again shortly.', 'used');
    return say.refuse(state.message, state.reason);
  }
  const sent = forward(request, link, result.attributes);
  // S3 refuses to replace an existing object (upload.ts); the origin request policy forwards
  // this header and Content-Type, and the origin-request trigger signs it.
  if (sent === request) request.headers['if-none-match'] = [{ key: 'If-None-Match', value: '*' }];
  return withOutcome(sent, REDEEMED);
}

const STATUS_TEXT: Record<string, string> = {
  400: 'Bad Request', 405: 'Method Not Allowed', 411: 'Length Required', 413: 'Content Too Large', 415: 'Unsupported Media Type',
};

/** An open upload link's page: what the ledger recorded (size limit, type, expiry), nothing from the URL. */
function uploadPage(link: PresentedLink, item: Record<string, AttributeValue>): CloudFrontResultResponse {
  const page = renderUploadPage({
    title: 'Send a file',
    maxBytes: Number(item[Attr.objectSize]?.N ?? link.objectSize),
    expiresAt: new Date(Number(item[Attr.expiresAt]?.N) * 1000),
    ...(item[Attr.contentType]?.S === undefined ? {} : { contentType: item[Attr.contentType].S }),
  });
  return { status: '200', statusDescription: 'OK', headers: cfHeaders(page.headers), body: page.html };
}

/**
 * Sends the request on (a download, or an upload's PUT) for the object the ledger recorded
 * at mint (read back by the write that let it through), never for a key the viewer wrote:
 * the URL's path is only a file name. The query keeps only the link id, for the origin
 * triggers; the origin-request trigger signs the request. Cookies and other viewer headers
 * never go (the origin request policy forwards none but an upload's Content-Type and
 * If-None-Match; CloudFront adds Range).
 */
function forward(
  request: CloudFrontRequest, link: PresentedLink, attributes: Record<string, AttributeValue> | undefined, session?: string,
): CloudFrontRequestResult {
  // The key read back (READ_BACK_KEY). Should DynamoDB leave out an attribute set to its own
  // value (its UpdateItem reference says UPDATED_NEW "returns only the updated attributes";
  // dynalite, whose suite runs against live DynamoDB, returns it; moto does not, see
  // test/session-table-moto.test.ts), the path is the same key: every write that lets a request
  // through has matched the link's fingerprint, which covers its path, to the one recorded at mint.
  const key = objectKeyOf(attributes) ?? link.path;
  request.uri = key === link.path ? link.canonicalUri : keyToPath(key);
  // An N-use link's session too: the origin-response trigger finds what the request took in it.
  request.querystring = buildQuery([[LINK_ID_PARAM, link.id], ...(session === undefined ? [] : [[LINK_SESSION_PARAM, session] as [string, string]])]);
  // With upload links on, the origin request policy forwards If-None-Match for their PUTs: a
  // viewer's own must not turn a download into S3's 304.
  delete request.headers['if-none-match'];
  return request;
}

/**
 * A landing page's button: opens a use for this browser and redirects (303, so the browser
 * GETs) to the link itself with the session cookie. Every later request of this browser for
 * the link (the download, a media player's ranges, a resume, the download list's retry)
 * carries the cookie, whatever its address. A browser that already holds an open session
 * (a double press) is redirected again without spending anything.
 */
async function pressButton(
  request: CloudFrontRequest, link: PresentedLink, who: Redemption, ledger: LedgerCaller, say: Responder, now: number,
): Promise<CloudFrontResultResponse> {
  const { tableName } = stagedConfig().config;
  // A protected link's button needs its passphrase: a press without one (a mail scanner
  // submitting the form) is refused here, before any I/O, and is not a wrong try.
  const typed = link.passphrase ? passphraseOfRequest(request) : undefined;
  if (typed && 'missing' in typed) return say.refuse(MISSING_PASSPHRASE_MESSAGES[typed.missing], 'passphrase');
  const held = sessionSecretOf(request.headers, link.id);
  if (held !== undefined) {
    const heldKey = sessionKey({ kind: 'browser', secret: held });
    const [item, session] = await Promise.all([
      ledger.read(tableName, link.id, true),
      link.maxUses > 1 ? ledger.get(getSessionInput(stagedConfig().config.sessionsTableName, link.id, sessionSortKey(heldKey, 1))) : undefined,
    ]);
    if (item === 'failed' || session === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    const until = link.maxUses > 1 ? openUntil(session, now) ?? 0 : Number(item?.[Attr.sessionUntil]?.M?.[heldKey]?.N ?? 0);
    const state = linkState(item, link, now);
    // A session of its own counts as a use: "used" still lets this browser continue it.
    const live = !('refusal' in state) || state.refusal === 'used';
    if (until > now && live) return seeOther(link, held, until - now);
  }
  const secret = newSessionSecret();
  // The passphrase is checked by the same write that spends the use (passphrase.ts).
  const key = typed ? await passphraseKey(typed.passphrase, link) : undefined;
  const also = key === undefined ? NO_PASSPHRASE : rightPassphrase(key);
  const c = sessionKey({ kind: 'browser', secret });
  // An N-use link takes a use on its item and opens the session as an item of its own (session-table.ts).
  const result = link.maxUses > 1 ? await openUse(ledger, tables(), link, sessionSortKey(c, 1), who, now, undefined, also)
    : await ledger.update(openInput(tableName, link, c, who, now, also));
  if (result === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
  const refused = 'refusedTake' in result ? { item: result.refusedTake } : 'refusedItem' in result && result.refusedItem ? { item: oldItem(result.refusedItem) } : undefined;
  if (refused) {
    const item = refused.item;
    const state = linkState(item, link, now);
    if (key !== undefined && !('refusal' in state)) return refusedPassphrase(link, key, item!, state.usesLeft, ledger, say);
    return say.refuse(REFUSALS['refusal' in state ? state.refusal : 'used']);
  }
  return withOutcome(seeOther(link, secret, sessionEnd(link, now) - now), REDEEMED);
}

/**
 * A live protected link refused a press: locked, or the passphrase was wrong (then one more
 * conditional write counts the wrong try; see wrongTryInput), or a race took the last use.
 * A wrong passphrase gets the page again with how many tries are left.
 */
async function refusedPassphrase(
  link: PresentedLink, key: string, item: Record<string, AttributeValue>, usesLeft: number, ledger: LedgerCaller, say: Responder,
): Promise<CloudFrontResultResponse> {
  const outcome = passphraseOutcome(item, key);
  if (outcome === 'locked') return say.refuse(LOCKED_MESSAGE, 'locked');
  if (outcome === 'right') return say.refuse(REFUSALS.used);
  const counted = await ledger.update(wrongTryInput(stagedConfig().config.tableName, link, key));
  if (counted === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
  // Refused: parallel wrong tries took the last ones meanwhile.
  const left = counted.refusedItem ? 0 : triesLeftOf(counted.attributes);
  // The decision and the link id, never what was typed.
  if (!counted.refusedItem) log('info', { event: left > 0 ? 'passphrase-wrong' : 'passphrase-locked', id: link.id, triesLeft: left });
  if (left <= 0) return say.refuse(LOCKED_MESSAGE, 'locked');
  const message = wrongPassphraseMessage(left);
  return say.html
    ? withOutcome(landingPageFor(item, usesLeft, { notice: message, status: '403' }), { kind: 'refused', reason: 'passphrase' })
    : say.refuse(message, 'passphrase');
}

/** The redirect after the button: to the link itself, with the session cookie. */
function seeOther(link: PresentedLink, secret: string, maxAgeSeconds: number): CloudFrontResultResponse {
  return {
    status: '303',
    statusDescription: 'See Other',
    headers: {
      'location': [{ key: 'Location', value: `${link.canonicalUri}?${link.canonicalQuery}` }],
      'set-cookie': [{ key: 'Set-Cookie', value: sessionCookie(link.id, secret, link.canonicalUri, maxAgeSeconds) }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
    },
  };
}

/**
 * Opening a landing-page link: one eventually consistent read, never a write. A link that
 * was never issued, or was tampered with, gets the refusal page; a used, expired or revoked
 * one says so; a live one shows its page with what the ledger recorded, nothing from the URL.
 */
async function pageView(link: PresentedLink, ledger: LedgerCaller, say: Responder, now: number): Promise<CloudFrontResultResponse> {
  const item = await ledger.read(stagedConfig().config.tableName, link.id, false);
  if (item === 'failed') return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
  const state = linkState(item, link, now);
  if ('refusal' in state) return say.refuse(REFUSALS[state.refusal]);
  if (isLocked(item!)) return say.refuse(LOCKED_MESSAGE, 'locked');
  return landingPageFor(item!, state.usesLeft);
}

/** What a link preview of a landing-page link shows: the neutral title, and where to open it. */
function previewPage(): CloudFrontResultResponse {
  const page = renderMessagePage({ title: stagedConfig().config.landingPageTitle, message: 'Open this link in a browser to download the file.' });
  return { status: '200', statusDescription: 'OK', headers: cfHeaders(page.headers), body: page.html };
}

function landingPageFor(
  item: Record<string, AttributeValue>, usesLeft: number, { notice, status = '200' }: { notice?: string; status?: '200' | '403' } = {},
): CloudFrontResultResponse {
  const { landingPageTitle, landingPageShowsFileName } = stagedConfig().config;
  // A locked link has no form to show (pageView says so to every client before this).
  if (isLocked(item)) {
    const locked = renderMessagePage({ title: 'This link cannot be used', message: LOCKED_MESSAGE });
    return { status: '403', statusDescription: 'Forbidden', headers: cfHeaders(locked.headers), body: locked.html };
  }
  const key = item[Attr.key]?.S ?? '';
  const page = renderLandingPage({
    title: landingPageTitle,
    ...(landingPageShowsFileName ? { fileName: key.slice(key.lastIndexOf('/') + 1), fileSize: Number(item[Attr.objectSize]?.N ?? 0) } : {}),
    expiresAt: new Date(Number(item[Attr.expiresAt]?.N) * 1000),
    usesLeft,
    // Whether the form asks for a passphrase is the ledger's word, like everything the page shows.
    ...(item[Attr.passphraseHash] !== undefined ? { passphrase: true } : {}),
    ...(notice !== undefined ? { notice } : {}),
  });
  return { status, statusDescription: status === '200' ? 'OK' : 'Forbidden', headers: cfHeaders(page.headers), body: page.html };
}

/** A write's answer: the attributes it read back, or the old item of a refused write. */
type LedgerResult = { attributes?: Record<string, AttributeValue>; refusedItem?: Record<string, AttributeValue> } | 'failed';

interface LedgerCaller extends SessionCalls {
  update(input: UpdateItemCommandInput): Promise<LedgerResult>;
  read(tableName: string, id: string, consistent: boolean): Promise<Record<string, AttributeValue> | undefined | 'failed'>;
}

function tables(): Tables {
  const { tableName, sessionsTableName } = stagedConfig().config;
  return { links: tableName, sessions: sessionsTableName };
}

function ledgerCaller(region: string, deadline: number): LedgerCaller {
  /** A call within the deadline: its answer, a refused condition's old item, or 'failed' (logged). */
  const call = async <T>(send: () => Promise<T>): Promise<T | { refusedItem: Record<string, AttributeValue> } | 'failed'> => {
    try {
      return await send();
    } catch (err) {
      const e = err as Error & { Item?: Record<string, AttributeValue> };
      if (e.name === 'ConditionalCheckFailedException') return { refusedItem: e.Item ?? {} };
      logFailure('ledger', err);
      return 'failed';
    }
  };
  const get: LedgerCaller['get'] = async (input) => {
    const out = await call(() => ledgerClient(region).send(new GetItemCommand(byDeadline(input, deadline))));
    return out === 'failed' || 'refusedItem' in out ? 'failed' : out.Item;
  };
  return {
    update: (input) => call(async () => {
      const out = await ledgerClient(region).send(new UpdateItemCommand(byDeadline(input, deadline)));
      return { attributes: out.Attributes };
    }),
    put: (input) => call(async () => {
      await ledgerClient(region).send(new PutItemCommand(byDeadline(input, deadline)));
      return {};
    }),
    async query(input) {
      const out = await call(() => ledgerClient(region).send(new QueryCommand(byDeadline(input, deadline))));
      return out === 'failed' || 'refusedItem' in out ? 'failed' : out.Items ?? [];
    },
    get,
    async returnUse(input) {
      try {
        await ledgerClient(region, { once: true }).send(new UpdateItemCommand(byDeadline(input, deadline)));
      } catch (err) {
        if ((err as Error).name !== 'ConditionalCheckFailedException') logFailure('return-use', err);
      }
    },
    read: (tableName, id, consistent) => get({ ...getLinkInput(tableName, id), ConsistentRead: consistent }),
  };
}

/**
 * A direct link: a single conditional write decides between a new use, a continuation of
 * this client's download session and a refusal; only a client starting another use of a
 * link while holding a session needs a second write (see download-session.ts).
 */
async function redeemDirect(
  tableName: string, ledger: LedgerCaller, link: PresentedLink, c: string, who: ViewerRequest, now: number,
): Promise<{ pass: Record<string, AttributeValue> | undefined } | 'failed' | Refusal> {
  const first = await ledger.update(redeemInput(tableName, link, c, who, now));
  if (first === 'failed') return 'failed';
  if (!first.refusedItem) return { pass: first.attributes };
  const next = afterRefusal(tableName, oldItem(first.refusedItem), link, c, who, now);
  if (next.action === 'refuse') return next.refusal;
  if (next.action === 'pass') {
    // This request's own earlier attempt committed; its answer was lost and the SDK retried.
    log('info', { event: 'redeem-retry-recognized', id: link.id });
    return { pass: first.refusedItem };
  }
  const second = await ledger.update(next.input);
  if (second === 'failed') return 'failed';
  if (!second.refusedItem) return { pass: second.attributes };
  if (reopenedBy(oldItem(second.refusedItem), c, who)) return { pass: second.refusedItem };
  return 'used';
}

/** Browsers mark speculative loads (Fetch Metadata's Sec-Purpose; older Purpose and X-Moz headers). */
function isPrefetch(headers: CloudFrontRequest['headers']): boolean {
  const value = (name: string) => (headers[name] ?? []).map((h) => h.value.toLowerCase()).join(',');
  return /prefetch|prerender/.test(value('sec-purpose')) || /prefetch|preview/.test(value('purpose'))
    || value('x-moz').includes('prefetch') || /prefetch|preview/.test(value('x-purpose'));
}

/**
 * Origin-response. A success reaches the viewer without S3's internals: every `x-amz-*`
 * header (request ids, the KMS key ARN with the account id, lifecycle rule ids, user
 * metadata) is removed; what clients need (type, length, range, validators, disposition)
 * stays. A failure the viewer did not cause gives back what its request took (see
 * origin-failure.ts), and every error answer is replaced (scrubOriginError).
 */
async function originResponse(request: CloudFrontRequest, response: CloudFrontResponse, requestId: string): Promise<CloudFrontResultResponse> {
  const status = Number(response.status);
  if (request.method === 'PUT') return uploadResponse(request, status, requestId);
  if ((status >= 200 && status < 300) || status === 304) {
    for (const name of Object.keys(response.headers)) {
      if (name.startsWith('x-amz-')) delete response.headers[name];
    }
    return response;
  }
  if (isOriginFailure(status)) {
    publish(stagedConfig().config.metricsId, { kind: 'origin-failure' });
    await giveBack(request, requestId);
  }
  return scrubOriginError(response);
}

/**
 * S3's answer to an upload: a 200 marks the link uploaded; a 412 or 409 (the key holds an
 * object this link did not write) closes it as a conflict; anything else gives it back, so the
 * recipient may try again. The viewer gets a short plain answer, never S3's.
 */
async function uploadResponse(request: CloudFrontRequest, status: number, requestId: string): Promise<CloudFrontResultResponse> {
  const id = forwardedLinkId(request.querystring);
  const { tableName, tableRegion, metricsId } = stagedConfig().config;
  let bytes: number | undefined;
  if (id !== undefined) {
    const sent = request.headers['content-length']?.[0]?.value;
    const [input, done, stage] = status === 200
      ? [uploadedInput(tableName, id, sent === undefined ? undefined : Number(sent), Math.floor(Date.now() / 1000)), 'upload-stored', 'upload-mark']
      : isConflict(status)
        ? [endTakeInput(tableName, id, requestId, 'conflict'), 'upload-conflict', 'upload-conflict']
        : [endTakeInput(tableName, id, requestId, 'open'), 'upload-given-back', 'upload-give-back'];
    try {
      const out = await ledgerClient(tableRegion).send(new UpdateItemCommand(byDeadline(input, Date.now() + EDGE_BUDGET_MS)));
      bytes = out.Attributes?.[Attr.uploadedSize]?.N === undefined ? undefined : Number(out.Attributes[Attr.uploadedSize].N);
      log('info', { event: done, id, status });
    } catch (err) {
      // The file is stored (or not) whatever the ledger says. A stored file this write failed to
      // record leaves the link uploading until its deadline; a later PUT then meets S3's 412 and
      // closes it as a conflict. The log line (stage upload-mark) is what to alarm on.
      if ((err as Error).name !== 'ConditionalCheckFailedException') logFailure(stage, err);
    }
  }
  if (status >= 500) publish(metricsId, { kind: 'origin-failure' });
  const answer = uploadAnswer(status, bytes);
  return { status: answer.status, statusDescription: answer.description, headers: plainHeaders(), body: answer.message };
}

/** Gives back what a failed request took; best effort within its own budget (a failure here only logs). */
async function giveBack(request: CloudFrontRequest, requestId: string): Promise<void> {
  const id = forwardedLinkId(request.querystring);
  if (id === undefined) return;
  const { tableName, tableRegion } = stagedConfig().config;
  const deadline = Date.now() + EDGE_BUDGET_MS;
  const session = forwardedSession(request.querystring);
  try {
    if (session !== undefined) {
      // An N-use link's session item (session-table.ts): the use, or the request's bytes.
      const input = getSessionInput(tables().sessions, id, session);
      const { Item: held } = await ledgerClient(tableRegion).send(new GetItemCommand(byDeadline(input, deadline)));
      const steps = giveBackSessionInputs(tables(), held, requestId);
      if (steps.length === 0) return;
      for (const step of steps) {
        if ('delete' in step) await ledgerClient(tableRegion).send(new DeleteItemCommand(byDeadline(step.delete, deadline)));
        else if ('update' in step) await ledgerClient(tableRegion).send(new UpdateItemCommand(byDeadline(step.update, deadline)));
        // Sent once: a decrement whose answer was lost must not run twice (SessionCalls.returnUse).
        else await ledgerClient(tableRegion, { once: true }).send(new UpdateItemCommand(byDeadline(step.returnUse, deadline)));
      }
      log('info', { event: 'origin-failure-given-back', id });
      return;
    }
    const { Item: item } = await ledgerClient(tableRegion).send(new GetItemCommand(byDeadline(getLinkInput(tableName, id), deadline)));
    const input = item && giveBackInput(tableName, item, requestId);
    if (!input) return;
    await ledgerClient(tableRegion).send(new UpdateItemCommand(byDeadline(input, deadline)));
    log('info', { event: 'origin-failure-given-back', id });
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') logFailure('give-back', err);
  }
}

/**
 * S3's error bodies are for the signer, not for viewers (they name the bucket, the key and
 * the request ids). Replace every answer but a success, a partial success or a not-modified
 * with a fixed one.
 */
function scrubOriginError(response: CloudFrontResponse): CloudFrontResultResponse {
  const status = Number(response.status);
  const [code, description, body] = ORIGIN_ERRORS[status] ?? (status >= 500 ? ORIGIN_ERRORS[503] : REFUSED_BY_ORIGIN);
  const headers = plainHeaders();
  // CloudFront forbids removing these read-only headers in origin-response triggers.
  for (const name of ['transfer-encoding', 'via']) {
    if (response.headers[name]) headers[name] = response.headers[name];
  }
  // S3's 416 says how long the object is (bytes */SIZE): a client needs it, and it is no secret.
  if (code === 416 && response.headers['content-range']) headers['content-range'] = response.headers['content-range'];
  if (status !== code) log('info', { event: 'origin-error', status });
  return { status: String(code), statusDescription: description, headers, body };
}

/** Any other answer of the origin (a 4xx the viewer's request caused). */
const REFUSED_BY_ORIGIN: [number, string, string] = [403, 'Forbidden', 'The file could not be delivered. Ask the sender for a new link.'];

const ORIGIN_ERRORS: Record<number, [number, string, string]> = {
  // Given back (isOriginFailure): with scanUploads, S3 refuses an upload until GuardDuty tags it clean.
  403: [403, 'Forbidden', 'The file cannot be delivered right now (it may still be being checked). Your link was not used up: try again later, or ask the sender.'],
  404: [404, 'Not Found', 'The file is no longer available.'],
  416: [416, 'Range Not Satisfiable', 'The requested range is not available.'],
  503: [503, 'Service Unavailable', 'The file service is temporarily unavailable. Try again shortly.'],
};

function stagedConfig(): { config: EdgeStagedConfig; preview: RegExp | undefined } {
  if (!staged) {
    const config = JSON.parse(readFileSync(join(__dirname, EDGE_STAGED_CONFIG_FILE), 'utf8')) as EdgeStagedConfig;
    staged = { config, preview: config.previewProtection ? previewMatcher(config.previewAgents) : undefined };
  }
  return staged;
}

/** Reads of the operator parameter that failed in a row: the next one waits longer (nextOperatorRead). */
let operatorFailures = 0;

/**
 * Starts a background read of the operator switches when they are due. Never awaited:
 * a throttled or unreachable SSM delays a switch, it never delays or refuses a download.
 * The read progresses while this container serves requests (Lambda freezes it between them).
 * Reads are jittered and back off (nextOperatorRead): the whole fleet shares one quota.
 */
function refreshOperatorConfig(): void {
  if (operatorRead || Date.now() < operator.nextReadAt) return;
  const { parameterName, parameterRegion, previewProtection, operatorRefreshSeconds } = stagedConfig().config;
  ssm ??= new SSMClient({
    region: parameterRegion,
    maxAttempts: 2,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }),
  });
  operatorRead = ssm.send(new GetParameterCommand({ Name: parameterName }), { abortSignal: AbortSignal.timeout(3000) })
    .then((out) => {
      const config = parseOperatorConfig(out.Parameter?.Value);
      const extra = config.previewAgents ?? [];
      operatorFailures = 0;
      operator = {
        config,
        preview: previewProtection && extra.length > 0 ? previewMatcher(extra, { builtIn: false }) : undefined,
        nextReadAt: nextOperatorRead(Date.now(), 0, Math.random(), operatorRefreshSeconds),
      };
    })
    .catch((err: unknown) => {
      // Keep the last good value.
      logFailure('operator-config', err);
      operatorFailures += 1;
      operator = { ...operator, nextReadAt: nextOperatorRead(Date.now(), operatorFailures, Math.random(), operatorRefreshSeconds) };
    })
    .finally(() => { operatorRead = undefined; });
}

/** Reads the operator parameter strictly: a malformed value throws and the last good one stays. */
function parseOperatorConfig(value: string | undefined): EdgeOperatorConfig {
  const parsed = JSON.parse(value ?? '') as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('operator config must be a JSON object');
  const { paused, previewAgents } = parsed as Record<string, unknown>;
  if (paused !== undefined && typeof paused !== 'boolean') throw new Error('operator config: paused must be a boolean');
  if (previewAgents !== undefined && !(Array.isArray(previewAgents) && previewAgents.every((p) => typeof p === 'string'))) {
    throw new Error('operator config: previewAgents must be an array of strings');
  }
  // Throws for invalid or empty-matching patterns, like the construct's synth-time check.
  if (previewAgents) previewMatcher(previewAgents as string[], { builtIn: false });
  return { paused: paused === true, previewAgents: previewAgents as string[] | undefined };
}

/**
 * The ledger's client: one retry of a failed call, within bounded timeouts. `once`: a client
 * that never retries, for the one write that is not idempotent (giving a use back).
 */
function ledgerClient(region: string, { once = false }: { once?: boolean } = {}): DynamoDBClient {
  const make = (maxAttempts: number) => {
    const client = new DynamoDBClient({
      region,
      maxAttempts,
      // Resolved once per command, not on every call: every call passes its deadline on its
      // input (byDeadline), never as per-call options, which would turn this off.
      cacheMiddleware: true,
      // One transport for both clients: the one that never retries reuses the warm connections.
      requestHandler: (ledgerTransport ??= boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 })),
    });
    client.middlewareStack.use(deadlines);
    return client;
  };
  if (once) return (dynamoOnce ??= make(1));
  return (dynamo ??= make(2));
}

function log(level: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, ...fields }));
}

function logFailure(stage: string, err: unknown): void {
  const e = err as Error;
  console.error(JSON.stringify({ level: 'error', stage, error: e.name, message: e.message }));
}

function plainHeaders(): NonNullable<CloudFrontResultResponse['headers']> {
  return {
    'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
    'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
  };
}

function cfHeaders(headers: Record<string, string>): NonNullable<CloudFrontResultResponse['headers']> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [{ key: name, value }]]));
}

/**
 * Refusals in the form the viewer reads: a small page with the same status for a browser
 * (it asks for HTML), plain text for everything else (scripts, curl, download managers).
 */
interface Responder {
  /** Whether the viewer is a browser navigating (it asks for HTML). */
  readonly html: boolean;
  /** A refusal; `why` names it for the metrics when `reason` is not one of REFUSALS. */
  refuse(reason: string, why?: RefusalReason): CloudFrontResultResponse;
  /** 503: the ledger failed, or (`paused`) the operator paused downloads. */
  unavailable(reason: string, why?: 'paused'): CloudFrontResultResponse;
  /** A refusal with its own status (an upload's 405, 411, 413, 415), and extra headers. */
  reject(status: string, description: string, reason: string, why: RefusalReason, headers?: Record<string, string>): CloudFrontResultResponse;
}

function responder(request: CloudFrontRequest): Responder {
  const html = wantsHtml(request.headers.accept?.map((h) => h.value).join(','));
  const respond = (status: string, statusDescription: string, title: string, message: string): CloudFrontResultResponse => {
    if (!html) return { status, statusDescription, headers: plainHeaders(), body: message };
    const page = renderMessagePage({ title, message });
    return { status, statusDescription, headers: cfHeaders(page.headers), body: page.html };
  };
  return {
    html,
    refuse: (reason, why) => withOutcome(respond('403', 'Forbidden', 'This link cannot be used', reason), { kind: 'refused', reason: REFUSAL_OF.get(reason) ?? why ?? 'other' }),
    unavailable: (reason, why) => withOutcome(respond('503', 'Service Unavailable', 'Try again shortly', reason),
      why ? { kind: 'refused', reason: why } : { kind: 'ledger-unavailable' }),
    reject: (status, description, reason, why, headers = {}) => {
      const answer = respond(status, description, 'This link cannot be used', reason);
      answer.headers = { ...answer.headers, ...cfHeaders(headers) };
      return withOutcome(answer, { kind: 'refused', reason: why });
    },
  };
}
