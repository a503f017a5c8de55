// Origin failures never cost a use. When S3 answers a request the edge let through with an
// error the viewer did not cause (5xx: S3 asks callers to retry InternalError and SlowDown;
// 404: the object was deleted after the link was minted; 403: S3 refused the edge's own
// request, e.g. an upload not yet scanned clean), the origin-response trigger gives
// back what that request took from its session: the whole use if the request opened it, or
// its bytes and request count if it continued one. Successful downloads never come here,
// so they cost no extra call.
//
// The request is found by CloudFront's request id, which is the same in every trigger of one
// viewer request ("requestId: An encrypted string that uniquely identifies a viewer-to-CloudFront
// request", CloudFront Developer Guide, "Lambda@Edge event structure"); the edge recorded it
// as the session's latest request (sessionLast) in the write that let the request through.
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { Attr } from '../shared/ledger';
import { LINK_ID_PARAM, isLinkId, parseQuery } from '../shared/link';

/**
 * Whether the origin's answer means the viewer got nothing, through no fault of its own: 5xx,
 * 404, and 403 (S3 refused the edge's own signed request: with `scanUploads`, an upload GuardDuty
 * has not tagged clean yet; otherwise a policy or key the operator changed).
 */
export function isOriginFailure(status: number): boolean {
  return status >= 500 || status === 404 || status === 403;
}

/** A parameter of a forwarded request's query (the edge wrote it), when it has the expected shape. */
function forwardedParam(querystring: string, name: string, shape: (value: string) => boolean): string | undefined {
  const query = parseQuery(querystring);
  const value = query.ok ? query.value.get(name) : undefined;
  return value !== undefined && shape(value) ? value : undefined;
}

/** The link id of a forwarded request (its query string carries it), if any. */
export function forwardedLinkId(querystring: string): string | undefined {
  return forwardedParam(querystring, LINK_ID_PARAM, isLinkId);
}

/**
 * The parameter the edge adds to a request it forwards for an N-use link: the sort key of the
 * session the request opened or continued (session-table.ts). Never one a viewer wrote: the
 * edge rebuilds the forwarded query, and a link carrying any unknown `x-link-` parameter is refused.
 */
export const LINK_SESSION_PARAM = 'x-link-session';

/** The session of a forwarded request of an N-use link, if any. */
export function forwardedSession(querystring: string): string | undefined {
  return forwardedParam(querystring, LINK_SESSION_PARAM, (value) => /^[A-Za-z0-9_-]{22}\.\d{3}$/.test(value));
}

/**
 * The write that gives back what request `requestId` took, or undefined when the item shows
 * no session whose latest request it was (a later request of the same session overwrote it,
 * or it was given back already). Conditional on that still being so: a second run of the
 * trigger, or a request that raced it, changes nothing.
 */
export function giveBackInput(tableName: string, item: Record<string, AttributeValue>, requestId: string): UpdateItemCommandInput | undefined {
  const latest = item[Attr.sessionLast]?.M ?? {};
  const c = Object.keys(latest).find((key) => latest[key].M?.r?.S === requestId);
  if (c === undefined) return undefined;
  const common = { TableName: tableName, Key: { [Attr.id]: item[Attr.id] }, ConditionExpression: '#last.#c.#r = :rid' };
  const sessionNames = { '#n': Attr.sessionRequests, '#b': Attr.sessionBytes, '#last': Attr.sessionLast, '#c': c, '#r': 'r' };
  const opened = item[Attr.sessions]?.M?.[c]?.M?.requestId?.S === requestId;
  if (opened) {
    // Without its session the holder has a use again (uses = size(sessions) + maxUses - cap),
    // also when this request had reopened a session: the old one stays in the audit trail.
    return {
      ...common,
      UpdateExpression: 'REMOVE #s.#c, #until.#c, #n.#c, #b.#c, #last.#c',
      ExpressionAttributeNames: { ...sessionNames, '#s': Attr.sessions, '#until': Attr.sessionUntil },
      ExpressionAttributeValues: { ':rid': { S: requestId } },
    };
  }
  return {
    ...common,
    UpdateExpression: 'SET #n.#c = #n.#c - :one, #b.#c = #b.#c + :bytes REMOVE #last.#c',
    ExpressionAttributeNames: sessionNames,
    ExpressionAttributeValues: { ':rid': { S: requestId }, ':one': { N: '1' }, ':bytes': { N: latest[c].M?.b?.N ?? '0' } },
  };
}
