// Download sessions: redeeming a use opens a window bound to the client that redeemed
// it, in which that client's Range requests (a media player's probe and fetches, a
// download manager's parallel parts, a resume) continue the download without spending
// another use. This module holds the redemption rule; the edge handler calls it.
import { createHash } from 'crypto';
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { Attr, MAX_AUDIT_USER_AGENT, MAX_SESSION_REQUESTS, Redemption } from '../shared/ledger';
import type { PresentedLink } from '../shared/link';

/** The viewer request being redeemed. */
export interface ViewerRequest extends Redemption {
  /** Whether it asks for a byte range: only those can continue a session. */
  readonly ranged: boolean;
  /**
   * A landing page's button press: the single-use download ticket the new session gets,
   * which the redirect that follows presents.
   */
  readonly newTicket?: string;
}

/**
 * Who a session belongs to: the viewer's address (from the TCP connection, which a
 * viewer cannot forge) and its User-Agent. With no window, the CloudFront request id,
 * so that only a retry of the same request can continue.
 */
export function sessionClientKey(link: PresentedLink, who: ViewerRequest): string {
  // A landing page's button and the download it redirects to are two requests of one client.
  const byClient = link.windowSeconds > 0 || link.landingPage;
  const identity = byClient ? `client\n${who.ip}\n${who.userAgent}` : `request\n${who.requestId}`;
  return createHash('sha256').update(identity).digest('base64url').slice(0, 22);
}

/**
 * How long a landing page's download ticket stays valid after the button is pressed, even
 * with no download window: the browser follows the redirect at once.
 */
const TICKET_SECONDS = 60;

/**
 * When a session opened now ends: the window (at least the ticket's life for a landing
 * page), never past the link's own expiry. (An SDK retry of the request that opened it is
 * recognised by its request id, whatever the window.)
 */
export function sessionEnd(link: PresentedLink, nowSeconds: number): number {
  const window = link.landingPage ? Math.max(link.windowSeconds, TICKET_SECONDS) : link.windowSeconds;
  return Math.min(nowSeconds + window, link.signatureExpiresAt);
}

function record(who: ViewerRequest): AttributeValue {
  return {
    M: {
      at: { S: who.at },
      ip: { S: who.ip.slice(0, 64) },
      userAgent: { S: who.userAgent.slice(0, MAX_AUDIT_USER_AGENT) },
      requestId: { S: who.requestId },
      ...(who.newTicket === undefined ? {} : { ticket: { S: who.newTicket } }),
    },
  };
}

/** Conditions every redemption shares, with why each is there. */
const LINK_IS_LIVE = [
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
 * The redemption rule: one conditional UpdateItem decides atomically between
 * - a continuation: a Range request of a client whose session is open (`#until.#c > :now`)
 *   and has served fewer than MAX_SESSION_REQUESTS requests: it only counts the request;
 * - a new use: a client without a session (`attribute_not_exists(#s.#c)`) while uses are
 *   left (`size(#s) < #cap`): it opens the session (the if_not_exists values);
 * - refused: anything else (the old item comes back, see {@link afterRefusal}).
 * The same update expression serves both outcomes: for a continuation every
 * if_not_exists keeps what the session's first request wrote.
 */
export function redeemInput(tableName: string, link: PresentedLink, who: ViewerRequest, nowSeconds: number): UpdateItemCommandInput {
  // AND binds tighter than OR; DynamoDB refuses redundant parentheses.
  const continuation = '#until.#c > :now AND #n.#c < :maxRequests';
  const newUse = 'attribute_not_exists(#s.#c) AND size(#s) < #cap';
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #s.#c = if_not_exists(#s.#c, :record), #until.#c = if_not_exists(#until.#c, :until), #n.#c = if_not_exists(#n.#c, :zero) + :one',
    ConditionExpression: who.ranged ? `${LINK_IS_LIVE} AND (${continuation} OR ${newUse})` : `${LINK_IS_LIVE} AND ${newUse}`,
    ExpressionAttributeNames: { ...liveNames, '#s': Attr.sessions, '#until': Attr.sessionUntil, '#n': Attr.sessionRequests, '#cap': Attr.cap, '#c': sessionClientKey(link, who) },
    ExpressionAttributeValues: {
      ...liveValues(link, nowSeconds),
      ':record': record(who),
      ':until': { N: String(sessionEnd(link, nowSeconds)) },
      ':zero': { N: '0' },
      ':one': { N: '1' },
      ...(who.ranged ? { ':maxRequests': { N: String(MAX_SESSION_REQUESTS) } } : {}),
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Landing-page links: a GET that presents the download ticket the button's redirect
 * carries. It spends the ticket (single use: REMOVE, conditional on it being there) and
 * counts the request in the session the button opened; it never opens a use itself.
 */
export function ticketInput(tableName: string, link: PresentedLink, who: ViewerRequest, ticket: string, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'REMOVE #s.#c.#t SET #n.#c = #n.#c + :one',
    ConditionExpression: `${LINK_IS_LIVE} AND #s.#c.#t = :ticket AND #until.#c > :now`,
    ExpressionAttributeNames: { ...liveNames, '#s': Attr.sessions, '#until': Attr.sessionUntil, '#n': Attr.sessionRequests, '#c': sessionClientKey(link, who), '#t': 'ticket' },
    ExpressionAttributeValues: { ...liveValues(link, nowSeconds), ':ticket': { S: ticket }, ':one': { N: '1' } },
  };
}

/** Landing-page links: a Range GET continues the session the button opened, and never opens a use. */
export function continueOnlyInput(tableName: string, link: PresentedLink, who: ViewerRequest, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #n.#c = #n.#c + :one',
    ConditionExpression: `${LINK_IS_LIVE} AND #until.#c > :now AND #n.#c < :maxRequests`,
    ExpressionAttributeNames: { ...liveNames, '#until': Attr.sessionUntil, '#n': Attr.sessionRequests, '#c': sessionClientKey(link, who) },
    ExpressionAttributeValues: { ...liveValues(link, nowSeconds), ':one': { N: '1' }, ':maxRequests': { N: String(MAX_SESSION_REQUESTS) } },
  };
}

const liveNames = { '#id': Attr.id, '#fp': Attr.fingerprint, '#exp': Attr.expiresAt, '#rev': Attr.revoked };
const liveValues = (link: PresentedLink, nowSeconds: number): Record<string, AttributeValue> => ({
  ':fp': { S: link.fingerprint },
  ':now': { N: String(nowSeconds) },
  ':false': { BOOL: false },
});

/** What to do after {@link redeemInput} was refused, read from the item as it was. */
export type AfterRefusal =
  | { readonly action: 'pass' }
  | { readonly action: 'refuse' }
  /** A landing page's button pressed again while its ticket is unspent: redirect with that ticket. */
  | { readonly action: 'ticket'; readonly ticket: string }
  | { readonly action: 'reopen'; readonly input: UpdateItemCommandInput };

/**
 * Reads the item a refused redemption returned:
 * - the request's own earlier attempt opened the session (its write committed, its answer
 *   was lost, the SDK retried): pass;
 * - the client holds a session already and uses are left (another download by the same
 *   client: a request without Range, or a Range request after its window): reopen, a
 *   second conditional write that closes the old session into the audit trail and opens a
 *   new one, spending one use;
 * - anything else: refuse.
 */
export function afterRefusal(
  tableName: string,
  item: Record<string, AttributeValue> | undefined,
  link: PresentedLink,
  who: ViewerRequest,
  nowSeconds: number,
): AfterRefusal {
  if (!item || item[Attr.fingerprint]?.S !== link.fingerprint || item[Attr.revoked]?.BOOL !== false) return { action: 'refuse' };
  if (Number(item[Attr.expiresAt]?.N) <= nowSeconds) return { action: 'refuse' };
  const c = sessionClientKey(link, who);
  const session = item[Attr.sessions]?.M?.[c]?.M;
  if (!session) return { action: 'refuse' };
  if (session.requestId?.S === who.requestId) return { action: 'pass' };
  const until = item[Attr.sessionUntil]?.M?.[c]?.N ?? '0';
  if (who.newTicket !== undefined && session.ticket?.S && Number(until) > nowSeconds) return { action: 'ticket', ticket: session.ticket.S };
  const open = Object.keys(item[Attr.sessions]?.M ?? {}).length;
  if (open >= Number(item[Attr.cap]?.N)) return { action: 'refuse' };
  const served = item[Attr.sessionRequests]?.M?.[c]?.N ?? '0';
  return {
    action: 'reopen',
    input: {
      TableName: tableName,
      Key: { [Attr.id]: { S: link.id } },
      UpdateExpression: 'SET #hist = list_append(if_not_exists(#hist, :none), :closed), #s.#c = :record, #until.#c = :until, #n.#c = :one, #cap = #cap - :one',
      // The session is still the one read (no other request of this client reopened it
      // meanwhile), and a use is left: size(#s) does not grow, the budget shrinks by one.
      ConditionExpression: `${LINK_IS_LIVE} AND #until.#c = :oldUntil AND size(#s) < #cap`,
      ExpressionAttributeNames: { ...liveNames, '#hist': Attr.redemptions, '#s': Attr.sessions, '#until': Attr.sessionUntil, '#n': Attr.sessionRequests, '#cap': Attr.cap, '#c': c },
      ExpressionAttributeValues: {
        ...liveValues(link, nowSeconds),
        ':none': { L: [] },
        ':closed': { L: [{ M: { ...session, sessionUntil: { N: until }, requests: { N: served } } }] },
        ':record': record(who),
        ':until': { N: String(sessionEnd(link, nowSeconds)) },
        ':oldUntil': { N: until },
        ':one': { N: '1' },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** Whether the item returned with a refused reopen shows that this request's own earlier attempt reopened it. */
export function reopenedBy(item: Record<string, AttributeValue> | undefined, link: PresentedLink, who: ViewerRequest): boolean {
  return item?.[Attr.sessions]?.M?.[sessionClientKey(link, who)]?.M?.requestId?.S === who.requestId;
}
