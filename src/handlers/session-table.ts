// Download sessions of N-use links, one item each in the sessions table (shared/ledger.ts
// SessionAttr). A one-use link keeps its one session on its own ledger item (download-session.ts);
// an N-use link's item would grow with every session and its audit record (about 76 KB after
// 100 uses with long user agents, so 76 write units per request, and one busy link could
// throttle its partition). Here every request writes small items whatever the link's history:
// - a continuation: one conditional UpdateItem of its session's item (1 write unit);
// - a new use: one conditional UpdateItem of the link's item, which holds only counters
//   (the take), then one conditional PutItem of the session's item (1 + 1 write units);
// - a client's session (a direct link with a download window): first a consistent Query for
//   the holder's latest session (a read), so the writes above are the only ones.
// DynamoDB charges a write one unit per KB of the larger of the item's sizes before and after,
// refused conditional writes included (DynamoDB Developer Guide, "Capacity unit consumption for
// write operations" and "Condition expressions"), so small items and no speculative writes are
// what bound the cost.
import type {
  AttributeValue, DeleteItemCommandInput, GetItemCommandInput, PutItemCommandInput, QueryCommandInput, UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { bytesPerUse } from './byte-range';
import {
  auditRecord, KEY, last, LINK_IS_LIVE, linkState, LIVE_NAMES, liveValues, maxRequests, num, READ_BACK_KEY, RETURN_KEY, sessionEnd,
  type OpenCondition, type Refusal, type ViewerRequest,
} from './download-session';
import { getLinkInput, hasSessionItems } from './ledger';
import { EDGE_BUDGET_MS } from '../shared/config';
import { Attr, LEDGER_RETENTION_SECONDS, type Redemption, SessionAttr } from '../shared/ledger';
import type { PresentedLink } from '../shared/link';

type Item = Record<string, AttributeValue>;

/** A refused write's old item, or undefined when there was none (DynamoDB answers `{}`). */
export const oldItem = (item: Item | undefined): Item | undefined => (item && Object.keys(item).length > 0 ? item : undefined);

/** The two tables a request of an N-use link writes. */
export interface Tables {
  /** The ledger: the link's item, with its use count. */
  readonly links: string;
  /** The sessions table. */
  readonly sessions: string;
}

/** The calls the flows below make; the edge handler implements them with its one client and deadline. */
export interface SessionCalls {
  /** A conditional UpdateItem: what it read back, or the old item of a refused write. */
  update(input: UpdateItemCommandInput): Promise<{ attributes?: Item; refusedItem?: Item } | 'failed'>;
  /** A conditional PutItem: nothing, or the old item of a refused write. */
  put(input: PutItemCommandInput): Promise<{ refusedItem?: Item } | 'failed'>;
  /** A Query's items. */
  query(input: QueryCommandInput): Promise<Item[] | 'failed'>;
  /** A GetItem's item. */
  get(input: GetItemCommandInput): Promise<Item | undefined | 'failed'>;
  /**
   * Gives a use back (returnUseInput): sent once, never retried. A decrement whose answer was
   * lost must not run twice (the link would serve one use more); a lost one only leaves the use spent.
   */
  returnUse(input: UpdateItemCommandInput): Promise<void>;
}

/** The sort key of a holder's `generation`th session: `<holder>.001`, `<holder>.002`, ... */
export function sessionSortKey(c: string, generation: number): string {
  return `${c}.${String(generation).padStart(3, '0')}`;
}

function generationOf(item: Item): number {
  const sk = item[SessionAttr.session]?.S ?? '';
  return Number(sk.slice(sk.lastIndexOf('.') + 1)) || 0;
}

const sessionKeyOf = (linkId: string, sk: string): Item => ({ [SessionAttr.link]: { S: linkId }, [SessionAttr.session]: { S: sk } });

/** The holder's latest session: one consistent Query, newest first, one item. */
export function latestSessionInput(tableName: string, linkId: string, c: string): QueryCommandInput {
  return {
    TableName: tableName,
    KeyConditionExpression: '#l = :l AND begins_with(#s, :c)',
    ExpressionAttributeNames: { '#l': SessionAttr.link, '#s': SessionAttr.session },
    ExpressionAttributeValues: { ':l': { S: linkId }, ':c': { S: `${c}.` } },
    ScanIndexForward: false,
    Limit: 1,
    ConsistentRead: true,
  };
}

/**
 * Takes one use of an N-use link for session `sk`: its item is live (LINK_IS_LIVE) and has uses
 * left. What it records of the take: the request id lets the SDK's retry of this write (its
 * answer lost) see its own take in the refused item instead of taking another use; the time lets
 * a revocation wait out a take whose session is not written yet (ledger.ts sweepAgainAt); the
 * session lets a parallel request of the same holder find the session the take is opening
 * (TakeOptions.sibling). `also` joins the
 * condition (a landing page's button: the passphrase, see passphrase.ts). Reads back the whole
 * item, which holds no sessions: the object key and what the session's item copies.
 */
export function takeUseInput(
  tableName: string, link: PresentedLink, sk: string, who: Redemption, nowSeconds: number, { also, sibling = true }: TakeOptions = {},
): UpdateItemCommandInput {
  const guard = sibling ? ' AND #take.#s <> :sk' : '';
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #uses = #uses + :one, #take = :take',
    ConditionExpression: `${LINK_IS_LIVE} AND #uses < #max AND #take.#r <> :rid${guard}${also ? ` AND ${also.condition}` : ''}`,
    ExpressionAttributeNames: {
      ...LIVE_NAMES, '#uses': Attr.uses, '#max': Attr.maxUses, '#take': Attr.lastTake, '#r': 'r', ...(sibling ? { '#s': 's' } : {}), ...also?.names,
    },
    ExpressionAttributeValues: {
      ':one': num(1),
      ':rid': { S: who.requestId },
      ...(sibling ? { ':sk': { S: sk } } : {}),
      ':take': { M: { r: { S: who.requestId }, at: num(nowSeconds), s: { S: sk } } },
      ...also?.values,
      ...liveValues(link, nowSeconds),
    },
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

export interface TakeOptions {
  /** A clause the take's condition adds (a landing page's button: the passphrase, see passphrase.ts). */
  readonly also?: OpenCondition;
  /**
   * Refuse the take when the link's latest take was for the same session: a parallel request
   * of the same holder is opening it (a download manager's first parts), so this one joins it
   * instead of taking a second use that would have to go back. Default true.
   */
  readonly sibling?: boolean;
}

/** Whether a refused take's item shows this request's own earlier attempt took the use. */
function tookIt(item: Item | undefined, who: Redemption): boolean {
  return item?.[Attr.lastTake]?.M?.r?.S === who.requestId;
}

/** Gives back a use this request took but did not open a session with. */
export function returnUseInput(tableName: string, linkId: string): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: linkId } },
    UpdateExpression: 'SET #uses = #uses - :one',
    ConditionExpression: '#uses > :zero',
    ExpressionAttributeNames: { '#uses': Attr.uses },
    ExpressionAttributeValues: { ':one': num(1), ':zero': num(0) },
  };
}

/**
 * Opens a session after its take: a new item (a same-holder request that opened it first makes
 * this write refuse). `request` counts the opening request and charges its bytes (a direct
 * link's first request); a landing page's button opens it without serving anything.
 */
export function openSessionInput(
  tableName: string, link: PresentedLink, sk: string, who: Redemption, linkItem: Item, nowSeconds: number, request?: ViewerRequest,
): PutItemCommandInput {
  const expiresAt = Number(linkItem[Attr.expiresAt]?.N ?? link.expiresAt);
  const owner = linkItem[Attr.owner];
  return {
    TableName: tableName,
    Item: {
      ...sessionKeyOf(link.id, sk),
      [SessionAttr.fingerprint]: { S: link.fingerprint },
      [SessionAttr.key]: linkItem[Attr.key],
      [SessionAttr.until]: num(sessionEnd(link, nowSeconds)),
      [SessionAttr.requests]: num(request ? 1 : 0),
      [SessionAttr.bytes]: num(bytesPerUse(link.objectSize) - (request?.bytes ?? 0)),
      ...(request ? { [SessionAttr.last]: last(request) } : {}),
      [SessionAttr.record]: auditRecord(who),
      [SessionAttr.use]: linkItem[Attr.uses],
      [SessionAttr.maxUses]: linkItem[Attr.maxUses],
      [SessionAttr.expiresAt]: num(expiresAt),
      ...(owner === undefined ? {} : { [SessionAttr.owner]: owner }),
      [SessionAttr.revoked]: { BOOL: false },
      [SessionAttr.ttl]: num(expiresAt + LEDGER_RETENTION_SECONDS),
    },
    ConditionExpression: 'attribute_not_exists(#s)',
    ExpressionAttributeNames: { '#s': SessionAttr.session },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Continues a session: its item is the link's (fingerprint), not revoked, open, with requests
 * and bytes left for this request. Counts the request, charges its bytes, and reads back the
 * object key the session copied from the link's item.
 */
export function continueSessionInput(
  tableName: string, link: PresentedLink, sk: string, who: ViewerRequest, nowSeconds: number,
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: sessionKeyOf(link.id, sk),
    UpdateExpression: `SET #n = #n + :one, #b = #b - :bytes, #last = :last, ${READ_BACK_KEY}`,
    ConditionExpression: '#fp = :fp AND #rev = :false AND #until > :now AND #n < :maxRequests AND #b >= :bytes',
    ExpressionAttributeNames: {
      '#fp': SessionAttr.fingerprint,
      '#rev': SessionAttr.revoked,
      '#until': SessionAttr.until,
      '#n': SessionAttr.requests,
      '#b': SessionAttr.bytes,
      '#last': SessionAttr.last,
      ...KEY,
    },
    ExpressionAttributeValues: {
      ':fp': { S: link.fingerprint },
      ':false': { BOOL: false },
      ':now': num(nowSeconds),
      ':maxRequests': num(maxRequests(link)),
      ':one': num(1),
      ':bytes': num(who.bytes),
      ':last': last(who),
    },
    ...RETURN_KEY,
  };
}

/** Whether a session's item would let this request continue it (what continueSessionInput checks). */
export function continues(item: Item | undefined, link: PresentedLink, bytes: number, nowSeconds: number): boolean {
  return item !== undefined
    && item[SessionAttr.fingerprint]?.S === link.fingerprint
    && item[SessionAttr.revoked]?.BOOL === false
    && Number(item[SessionAttr.until]?.N ?? 0) > nowSeconds
    && Number(item[SessionAttr.requests]?.N ?? 0) < maxRequests(link)
    && Number(item[SessionAttr.bytes]?.N ?? 0) >= bytes;
}

/** Why a session's item could not serve a request (see download-session.ts sessionRefusal). */
export function sessionItemRefusal(item: Item | undefined, bytes: number, nowSeconds: number): 'allowance' | 'ended' {
  return openUntil(item, nowSeconds) !== undefined && Number(item?.[SessionAttr.bytes]?.N ?? 0) < bytes ? 'allowance' : 'ended';
}

/** The until of a session's item, if it is open now. */
export function openUntil(item: Item | undefined, nowSeconds: number): number | undefined {
  const until = Number(item?.[SessionAttr.until]?.N ?? 0);
  return item?.[SessionAttr.revoked]?.BOOL === false && until > nowSeconds ? until : undefined;
}

export function getSessionInput(tableName: string, linkId: string, sk: string): GetItemCommandInput {
  return { TableName: tableName, Key: sessionKeyOf(linkId, sk), ConsistentRead: true };
}

/** Let a request through: `pass` holds the object key, `session` the session's sort key. */
export interface Passed {
  readonly pass: Item;
  readonly session: string;
  /** Whether the request opened the session (took a use) rather than continued it. */
  readonly opened: boolean;
}

/** What opening a use comes to: through, or the take was refused (the link's item as it was; undefined: no such link). */
export type TableOutcome = Passed | { readonly refusedTake: Item | undefined } | 'failed';

/**
 * A direct request. A client holder (the link has a download window) continues its latest
 * session when that is open; otherwise, and for a request holder (no window: each request is
 * a use), the request takes a use and opens the holder's next session.
 */
export async function redeemFromTable(
  calls: SessionCalls, tables: Tables, link: PresentedLink, c: string, who: ViewerRequest, nowSeconds: number,
): Promise<Passed | Refusal | 'failed'> {
  let latest: Item | undefined;
  if (link.windowSeconds > 0) {
    const found = await calls.query(latestSessionInput(tables.sessions, link.id, c));
    if (found === 'failed') return 'failed';
    latest = found[0];
    if (continues(latest, link, who.bytes, nowSeconds)) {
      const sk = latest![SessionAttr.session].S!;
      const continued = await calls.update(continueSessionInput(tables.sessions, link, sk, who, nowSeconds));
      if (continued === 'failed') return 'failed';
      if (!continued.refusedItem) return { pass: continued.attributes ?? {}, session: sk, opened: false };
      // Spent meanwhile by the holder's other requests: it starts another use. Gone (an origin
      // failure gave its use back): the next use opens it again.
      latest = oldItem(continued.refusedItem);
      if (!latest) return tookOrJoined(await openUse(calls, tables, link, sk, who, nowSeconds, who), link, undefined, who, nowSeconds);
    }
  }
  const sk = sessionSortKey(c, latest ? generationOf(latest) + 1 : 1);
  return tookOrJoined(await openUse(calls, tables, link, sk, who, nowSeconds, who), link, latest, who, nowSeconds);
}

/** A direct request's outcome: through, or why not. */
function tookOrJoined(opened: TableOutcome, link: PresentedLink, latest: Item | undefined, who: ViewerRequest, nowSeconds: number): Passed | Refusal | 'failed' {
  if (opened === 'failed' || !('refusedTake' in opened)) return opened;
  const state = linkState(opened.refusedTake, link, nowSeconds);
  if (!('refusal' in state)) return 'used';
  // Out of uses while holding a session whose bytes ran out: say that, not just "used".
  return state.refusal === 'used' && sessionItemRefusal(latest, who.bytes, nowSeconds) === 'allowance' ? 'allowance' : state.refusal;
}

/** Whether a refused take's item is used up by a take within the edge's budget. */
function usedUpByRecentTake(item: Item | undefined, nowSeconds: number): boolean {
  return item !== undefined && hasSessionItems(item) && Number(item[Attr.uses].N) >= Number(item[Attr.maxUses]?.N)
    && takeMayBeWriting(Number(item[Attr.lastTake]?.M?.at?.N ?? 0), nowSeconds);
}

/** Whether a take at `takenAt` (epoch seconds) may still be writing its session: it is within the edge's budget. */
function takeMayBeWriting(takenAt: number, nowSeconds: number): boolean {
  return takenAt >= nowSeconds - Math.ceil(EDGE_BUDGET_MS / 1000);
}

/** Waits between the looks of useFreed. */
const FREED_WAITS_MS = [30, 90, 200];

/** Whether the link's item shows a use left within FREED_WAITS_MS (consistent reads, no write). */
async function useFreed(calls: SessionCalls, tableName: string, linkId: string): Promise<boolean | 'failed'> {
  for (const wait of FREED_WAITS_MS) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    const item = await calls.get(getLinkInput(tableName, linkId));
    if (item === 'failed') return 'failed';
    if (Number(item?.[Attr.uses]?.N) < Number(item?.[Attr.maxUses]?.N)) return true;
  }
  return false;
}

/** Waits between the looks of joinSession: the other request writes the session one round trip after its take. */
const JOIN_WAITS_MS = [0, 20, 60, 150];

/**
 * Continues session `sk` once the request of the same holder that took its use has written it;
 * undefined if it does not show (that take is older than the edge's budget, or its session
 * was given back) or cannot serve this request.
 */
async function joinSession(
  calls: SessionCalls, tables: Tables, link: PresentedLink, sk: string, who: ViewerRequest, nowSeconds: number, takenAt: number,
): Promise<Passed | 'failed' | undefined> {
  // A take older than the edge's budget has written its session, or never will.
  const waits = takeMayBeWriting(takenAt, nowSeconds) ? JOIN_WAITS_MS : [0];
  for (const wait of waits) {
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const found = await calls.get(getSessionInput(tables.sessions, link.id, sk));
    if (found === 'failed') return 'failed';
    if (found === undefined) continue;
    if (!continues(found, link, who.bytes, nowSeconds)) return undefined;
    const continued = await calls.update(continueSessionInput(tables.sessions, link, sk, who, nowSeconds));
    if (continued === 'failed') return 'failed';
    return continued.refusedItem ? undefined : { pass: continued.attributes ?? {}, session: sk, opened: false };
  }
  return undefined;
}

/**
 * Takes a use and opens session `sk` with it. When a request of the same holder opened that
 * session first (two first requests of one client in parallel), the use goes back and this
 * request continues that session instead.
 */
export async function openUse(
  calls: SessionCalls, tables: Tables, link: PresentedLink, sk: string, who: Redemption, nowSeconds: number,
  request: ViewerRequest | undefined, also?: OpenCondition,
): Promise<TableOutcome> {
  let take = await calls.update(takeUseInput(tables.links, link, sk, who, nowSeconds, { also }));
  if (take === 'failed') return 'failed';
  let refused = oldItem(take.refusedItem);
  const sibling = refused?.[Attr.lastTake]?.M;
  if (take.refusedItem && request && !tookIt(refused, who) && sibling?.s?.S === sk) {
    // The same holder's parallel request took the use for this session: join it.
    const joined = await joinSession(calls, tables, link, sk, request, nowSeconds, Number(sibling.at?.N ?? 0));
    if (joined !== undefined) return joined;
    // Its session never came (given back, or its write failed): take a use after all.
    take = await calls.update(takeUseInput(tables.links, link, sk, who, nowSeconds, { also, sibling: false }));
    if (take === 'failed') return 'failed';
    refused = oldItem(take.refusedItem);
  }
  if (take.refusedItem && !tookIt(refused, who) && usedUpByRecentTake(refused, nowSeconds)) {
    // Used up just now: maybe by a race loser (a client's parallel first part whose sibling guard
    // another holder's take got past), which gives its use back a round trip later. Look again.
    const freed = await useFreed(calls, tables.links, link.id);
    if (freed === 'failed') return 'failed';
    if (freed) {
      take = await calls.update(takeUseInput(tables.links, link, sk, who, nowSeconds, { also }));
      if (take === 'failed') return 'failed';
      refused = oldItem(take.refusedItem);
    }
  }
  if (take.refusedItem && !tookIt(refused, who)) return { refusedTake: refused };
  const linkItem = take.attributes ?? refused!;
  const put = await calls.put(openSessionInput(tables.sessions, link, sk, who, linkItem, nowSeconds, request));
  // Unknown whether the session was written: the use stays spent, as when a redemption's answer
  // is lost (README "Limitations"), never given back for a session that may exist.
  if (put === 'failed') return 'failed';
  const pass = { [Attr.key]: linkItem[Attr.key] };
  if (!put.refusedItem || put.refusedItem[SessionAttr.record]?.M?.requestId?.S === who.requestId) return { pass, session: sk, opened: true };
  await calls.returnUse(returnUseInput(tables.links, link.id));
  if (!request) return { refusedTake: linkItem };
  const continued = await calls.update(continueSessionInput(tables.sessions, link, sk, request, nowSeconds));
  if (continued === 'failed') return 'failed';
  // The winner's session cannot serve this request too (its bytes or requests are spent).
  return continued.refusedItem ? { refusedTake: linkItem } : { pass: continued.attributes ?? {}, session: sk, opened: false };
}

/**
 * What gives back what request `requestId` took from session `sk` when the origin failed it
 * (origin-failure.ts): the whole use when it opened the session (the session's item goes, and
 * the link counts one use fewer), or its bytes and request count. Conditional on the request
 * still being the session's latest, so a second run changes nothing. Empty when it is not.
 */
export function giveBackSessionInputs(
  tables: Tables, item: Item | undefined, requestId: string,
): Array<{ delete: DeleteItemCommandInput } | { update: UpdateItemCommandInput } | { returnUse: UpdateItemCommandInput }> {
  if (!item || item[SessionAttr.last]?.M?.r?.S !== requestId) return [];
  const key = sessionKeyOf(item[SessionAttr.link].S!, item[SessionAttr.session].S!);
  const latest = { ConditionExpression: '#last.#r = :rid', ExpressionAttributeValues: { ':rid': { S: requestId } } };
  if (item[SessionAttr.record]?.M?.requestId?.S === requestId) {
    return [
      { delete: { TableName: tables.sessions, Key: key, ...latest, ExpressionAttributeNames: { '#last': SessionAttr.last, '#r': 'r' } } },
      // Only after the delete succeeded (a second run stops there), and sent once (SessionCalls.returnUse).
      { returnUse: returnUseInput(tables.links, item[SessionAttr.link].S!) },
    ];
  }
  return [{
    update: {
      TableName: tables.sessions,
      Key: key,
      UpdateExpression: 'SET #n = #n - :one, #b = #b + :bytes REMOVE #last',
      ...latest,
      ExpressionAttributeNames: { '#last': SessionAttr.last, '#r': 'r', '#n': SessionAttr.requests, '#b': SessionAttr.bytes },
      ExpressionAttributeValues: { ...latest.ExpressionAttributeValues, ':one': num(1), ':bytes': { N: item[SessionAttr.last].M!.b?.N ?? '0' } },
    },
  }];
}
