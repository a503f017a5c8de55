// Download sessions: redeeming a use opens a session for whoever redeemed it. Within its
// window, that holder's requests (a media player's probe and seeks, a download manager's
// parallel parts, a resume, a retry after an origin failure) continue the download without
// spending another use, up to a byte allowance per use. This module holds the redemption
// rule; the edge handler calls it, and origin-failure.ts gives back what a failed request took.
import { createHash } from 'crypto';
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { bytesPerUse } from './byte-range';
import { hasSessionItems } from './ledger';
import { clientAddress } from './viewer';
import { Attr, MAX_AUDIT_USER_AGENT, MAX_SESSION_REQUESTS, Redemption } from '../shared/ledger';
import type { PresentedLink } from '../shared/link';

/** Whom a session belongs to. */
export type SessionHolder =
  /** A landing-page download: the browser that holds the cookie the button's redirect set. */
  | { readonly kind: 'browser'; readonly secret: string }
  /** A direct link with a download window: the viewer's address (IPv6 by /64) and User-Agent. */
  | { readonly kind: 'client'; readonly ip: string; readonly userAgent: string }
  /** A direct link without a window: the request itself (only an SDK retry of it continues). */
  | { readonly kind: 'request'; readonly requestId: string };

/** The ledger's key for a holder's session: a hash, so the ledger never holds a cookie. */
export function sessionKey(holder: SessionHolder): string {
  const identity = holder.kind === 'browser' ? `browser\n${holder.secret}`
    : holder.kind === 'client' ? `client\n${clientAddress(holder.ip)}\n${holder.userAgent}`
      : `request\n${holder.requestId}`;
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

/** Who holds a direct link's session. */
export function directHolder(link: PresentedLink, who: Redemption): SessionHolder {
  return link.windowSeconds > 0 ? { kind: 'client', ip: who.ip, userAgent: who.userAgent } : { kind: 'request', requestId: who.requestId };
}

/** The viewer request being redeemed. */
export interface ViewerRequest extends Redemption {
  /** Bytes the request asks for (see byte-range.ts): what the session is charged. */
  readonly bytes: number;
}

/**
 * How long a landing page's session lasts at least, even with no download window: the
 * browser follows the button's redirect at once.
 */
const REDIRECT_SECONDS = 60;

/** When a session opened now ends: its window, never past the link's own expiry. */
export function sessionEnd(link: PresentedLink, nowSeconds: number): number {
  const window = link.landingPage ? Math.max(link.windowSeconds, REDIRECT_SECONDS) : link.windowSeconds;
  return Math.min(nowSeconds + window, link.expiresAt);
}

/**
 * Most requests a session serves. A landing page without a download window serves exactly
 * the one download its button asked for.
 */
export function maxRequests(link: PresentedLink): number {
  return link.landingPage && link.windowSeconds === 0 ? 1 : MAX_SESSION_REQUESTS;
}

/** One use's audit record: who, when, and the request that opened it (upload links record their PUT alike). */
export function auditRecord(who: Redemption): AttributeValue {
  return {
    M: {
      at: { S: who.at },
      ip: { S: who.ip.slice(0, 64) },
      userAgent: { S: who.userAgent.slice(0, MAX_AUDIT_USER_AGENT) },
      requestId: { S: who.requestId },
    },
  };
}

/** What a request took from its session, so an origin failure can give exactly that back. */
export function last(who: ViewerRequest): AttributeValue {
  return { M: { r: { S: who.requestId }, b: { N: String(who.bytes) } } };
}

/** Conditions every redemption shares (an upload link's take too), with why each is there. */
export const LINK_IS_LIVE = [
  // An unknown id writes nothing (UpdateItem would otherwise create the item).
  'attribute_exists(#id)',
  // The key and query match what was issued: a tampered URL cannot burn or continue the real link.
  '#fp = :fp',
  // TTL deletes items days late, so expiry is enforced here.
  '#exp > :now',
  // Revoked links stay dead, sessions included.
  '#rev = :false',
].join(' AND ');

/**
 * A continuation: the holder's session is open, and has requests and bytes left for this
 * request. A session's bytes start at bytesPerUse(size) and each request takes what it asks for.
 */
const CONTINUATION = '#until.#c > :now AND #n.#c < :maxRequests AND #b.#c >= :bytes';

/**
 * Attribute names of the session maps. DynamoDB refuses names an expression does not use,
 * so each write spreads exactly the ones it needs.
 */
/** The attribute names LINK_IS_LIVE uses. */
export const LIVE_NAMES = { '#id': Attr.id, '#fp': Attr.fingerprint, '#exp': Attr.expiresAt, '#rev': Attr.revoked };
/** LINK_IS_LIVE's names and the session maps'; each write adds the holder's key (`#c`). */
const SESSION_MAPS = { ...LIVE_NAMES, '#until': Attr.sessionUntil, '#n': Attr.sessionRequests, '#b': Attr.sessionBytes };
const SESSIONS = { '#s': Attr.sessions, '#cap': Attr.cap };
/** Every write but the button's records its request as the session's latest. */
const LAST = { '#last': Attr.sessionLast };
/**
 * A write that lets a request through reads back the object key the ledger recorded at
 * mint: the edge forwards that key, never one a viewer wrote. `SET #key = #key` changes
 * nothing but makes UPDATED_NEW return the key with the few attributes the write set
 * (ALL_NEW would return the whole item, audit trail included).
 */
export const READ_BACK_KEY = '#key = #key';
export const KEY = { '#key': Attr.key };
export const RETURN_KEY = { ReturnValues: 'UPDATED_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } as const;
/**
 * The values LINK_IS_LIVE uses. Writes spread them last: V8 builds a literal that starts with a
 * spread and goes on with more properties some 30 times slower (about 4 us a write, measured).
 */
export const liveValues = (link: PresentedLink, nowSeconds: number): Record<string, AttributeValue> => ({
  ':fp': { S: link.fingerprint },
  ':now': { N: String(nowSeconds) },
  ':false': { BOOL: false },
});
export const num = (n: number): AttributeValue => ({ N: String(n) });

/** What a direct link's redemption writes (redeemInput); built once, as every warm request sends them. */
const REDEEM_UPDATE = 'SET #s.#c = if_not_exists(#s.#c, :record), #until.#c = if_not_exists(#until.#c, :until), '
  + `#n.#c = if_not_exists(#n.#c, :zero) + :one, #b.#c = if_not_exists(#b.#c, :allowance) - :bytes, #last.#c = :last, ${READ_BACK_KEY}`;
// AND binds tighter than OR; DynamoDB refuses redundant parentheses.
const REDEEM_CONDITION = `${LINK_IS_LIVE} AND (${CONTINUATION} OR attribute_not_exists(#s.#c) AND size(#s) < #cap)`;
const REDEEM_NAMES = { ...SESSION_MAPS, ...SESSIONS, ...LAST, ...KEY };
const CONTINUE_NAMES = { ...SESSION_MAPS, ...LAST, ...KEY };

/**
 * The redemption rule for direct links: one conditional UpdateItem decides atomically between
 * - a continuation of the holder's open session (CONTINUATION): it counts the request and
 *   charges its bytes;
 * - a new use: a holder without a session (`attribute_not_exists(#s.#c)`) while uses are
 *   left (`size(#s) < #cap`): it opens the session (the if_not_exists values) and charges;
 * - refused: anything else (the old item comes back, see {@link afterRefusal}).
 * The same update expression serves both outcomes: for a continuation every if_not_exists
 * keeps what the session's first request wrote.
 */
export function redeemInput(tableName: string, link: PresentedLink, c: string, who: ViewerRequest, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: REDEEM_UPDATE,
    ConditionExpression: REDEEM_CONDITION,
    ExpressionAttributeNames: { ...REDEEM_NAMES, '#c': c },
    ExpressionAttributeValues: {
      ':record': auditRecord(who),
      ':until': num(sessionEnd(link, nowSeconds)),
      ':zero': num(0),
      ':one': num(1),
      ':allowance': num(bytesPerUse(link.objectSize)),
      ':bytes': num(who.bytes),
      ':last': last(who),
      ':maxRequests': num(maxRequests(link)),
      ...liveValues(link, nowSeconds),
    },
    ...RETURN_KEY,
  };
}

/**
 * A clause another module adds to the button's condition, with the names and values it uses
 * (passphrase.ts: the link's passphrase matches and it is not locked).
 */
export interface OpenCondition {
  readonly condition: string;
  readonly names: Record<string, string>;
  readonly values?: Record<string, AttributeValue>;
}

/**
 * A landing page's button: opens a use for the browser whose new cookie hashes to `c` (a
 * fresh secret, so the session cannot exist yet). It serves nothing itself: the redirect
 * that follows is the session's first request. `also` joins the same condition, so what it
 * checks is decided by the write that spends the use.
 */
export function openInput(
  tableName: string, link: PresentedLink, c: string, who: Redemption, nowSeconds: number, also?: OpenCondition,
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #s.#c = :record, #until.#c = :until, #n.#c = :zero, #b.#c = :allowance',
    ConditionExpression: `${LINK_IS_LIVE} AND attribute_not_exists(#s.#c) AND size(#s) < #cap${also ? ` AND ${also.condition}` : ''}`,
    ExpressionAttributeNames: { ...SESSION_MAPS, ...SESSIONS, '#c': c, ...also?.names },
    ExpressionAttributeValues: {
      ':record': auditRecord(who),
      ':until': num(sessionEnd(link, nowSeconds)),
      ':zero': num(0),
      ':allowance': num(bytesPerUse(link.objectSize)),
      ...also?.values,
      ...liveValues(link, nowSeconds),
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** A landing-page download: a request of the browser holding the session cookie. It never opens a use. */
export function continueInput(tableName: string, link: PresentedLink, c: string, who: ViewerRequest, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: `SET #n.#c = #n.#c + :one, #b.#c = #b.#c - :bytes, #last.#c = :last, ${READ_BACK_KEY}`,
    ConditionExpression: `${LINK_IS_LIVE} AND ${CONTINUATION}`,
    ExpressionAttributeNames: { ...CONTINUE_NAMES, '#c': c },
    ExpressionAttributeValues: {
      ':one': num(1),
      ':bytes': num(who.bytes),
      ':last': last(who),
      ':maxRequests': num(maxRequests(link)),
      ...liveValues(link, nowSeconds),
    },
    ...RETURN_KEY,
  };
}

/** Why a link or a session cannot serve a request; each has its own message for the viewer. */
export type Refusal = 'unknown' | 'revoked' | 'expired' | 'used' | 'allowance' | 'ended';

/** Which part of LINK_IS_LIVE an item (or none) fails, as the viewer is told; undefined when it is live. */
export function liveRefusal(item: Record<string, AttributeValue> | undefined, link: PresentedLink, nowSeconds: number):
'unknown' | 'revoked' | 'expired' | undefined {
  if (!item || item[Attr.fingerprint]?.S !== link.fingerprint) return 'unknown';
  if (item[Attr.revoked]?.BOOL !== false) return 'revoked';
  if (Number(item[Attr.expiresAt]?.N) <= nowSeconds) return 'expired';
  return undefined;
}

/** What the ledger says of a link as a whole: a refusal, or the uses it has left. */
export function linkState(item: Record<string, AttributeValue> | undefined, link: PresentedLink, nowSeconds: number):
{ readonly refusal: Refusal } | { readonly usesLeft: number } {
  const dead = liveRefusal(item, link, nowSeconds);
  if (dead || !item) return { refusal: dead ?? 'unknown' };
  // An N-use link counts its uses (its sessions live in the sessions table, session-table.ts).
  const usesLeft = hasSessionItems(item) ? Number(item[Attr.maxUses]?.N) - Number(item[Attr.uses].N)
    : Number(item[Attr.cap]?.N) - Object.keys(item[Attr.sessions]?.M ?? {}).length;
  return usesLeft > 0 ? { usesLeft } : { refusal: 'used' };
}

/** Why the holder's session (`c`) in a refused item could not serve the request. */
export function sessionRefusal(item: Record<string, AttributeValue>, c: string, bytes: number, nowSeconds: number): Refusal {
  const until = Number(item[Attr.sessionUntil]?.M?.[c]?.N ?? 0);
  const left = Number(item[Attr.sessionBytes]?.M?.[c]?.N ?? 0);
  return until > nowSeconds && left < bytes ? 'allowance' : 'ended';
}

/** What to do after {@link redeemInput} was refused, read from the item as it was. */
export type AfterRefusal =
  | { readonly action: 'pass' }
  | { readonly action: 'refuse'; readonly refusal: Refusal }
  | { readonly action: 'reopen'; readonly input: UpdateItemCommandInput };

/**
 * Reads the item a refused redemption returned:
 * - the request's own earlier attempt opened the session (its write committed, its answer
 *   was lost, the SDK retried): pass;
 * - the holder's session is over (window, requests or bytes) and uses are left: reopen, a
 *   second conditional write that closes the old session into the audit trail and opens a
 *   new one, spending one use;
 * - anything else: refuse, saying why.
 */
export function afterRefusal(
  tableName: string,
  item: Record<string, AttributeValue> | undefined,
  link: PresentedLink,
  c: string,
  who: ViewerRequest,
  nowSeconds: number,
): AfterRefusal {
  const state = linkState(item, link, nowSeconds);
  const session = item?.[Attr.sessions]?.M?.[c]?.M;
  if (session?.requestId?.S === who.requestId) return { action: 'pass' };
  if ('refusal' in state) {
    // Out of uses while holding a session whose bytes ran out: say that, not just "used".
    const spent = state.refusal === 'used' && session !== undefined && sessionRefusal(item!, c, who.bytes, nowSeconds) === 'allowance';
    return { action: 'refuse', refusal: spent ? 'allowance' : state.refusal };
  }
  if (!session) return { action: 'refuse', refusal: 'used' };
  const until = item![Attr.sessionUntil]?.M?.[c]?.N ?? '0';
  const served = item![Attr.sessionRequests]?.M?.[c]?.N ?? '0';
  return {
    action: 'reopen',
    input: {
      TableName: tableName,
      Key: { [Attr.id]: { S: link.id } },
      UpdateExpression: 'SET #hist = list_append(if_not_exists(#hist, :none), :closed), #s.#c = :record, #until.#c = :until, '
        + `#n.#c = :one, #b.#c = :allowanceLeft, #last.#c = :last, #cap = #cap - :one, ${READ_BACK_KEY}`,
      // The session is still the one read (no other request of this holder reopened it
      // meanwhile), and a use is left: size(#s) does not grow, the budget shrinks by one.
      ConditionExpression: `${LINK_IS_LIVE} AND #until.#c = :oldUntil AND size(#s) < #cap`,
      ExpressionAttributeNames: { ...REDEEM_NAMES, '#c': c, '#hist': Attr.redemptions },
      ExpressionAttributeValues: {
        ':none': { L: [] },
        ':closed': { L: [{ M: { ...session, sessionUntil: { N: until }, requests: { N: served } } }] },
        ':record': auditRecord(who),
        ':until': num(sessionEnd(link, nowSeconds)),
        ':oldUntil': { N: until },
        ':one': num(1),
        ':allowanceLeft': num(bytesPerUse(link.objectSize) - who.bytes),
        ':last': last(who),
        ...liveValues(link, nowSeconds),
      },
      ...RETURN_KEY,
    },
  };
}

/** The object key a write that let a request through read back, or a refused write's old item holds. */
export function objectKeyOf(attributes: Record<string, AttributeValue> | undefined): string | undefined {
  return attributes?.[Attr.key]?.S;
}

/** Whether the item returned with a refused reopen shows that this request's own earlier attempt reopened it. */
export function reopenedBy(item: Record<string, AttributeValue> | undefined, c: string, who: Redemption): boolean {
  return item?.[Attr.sessions]?.M?.[c]?.M?.requestId?.S === who.requestId;
}
