// The ledger writes and reads: issuing a link, revoking and reading it (mint). The
// redemption rule lives in download-session.ts (edge).
import type { AttributeValue, GetItemCommandInput, PutItemCommandInput, QueryCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { EDGE_BUDGET_MS } from '../shared/config';
import { Attr, LEDGER_RETENTION_SECONDS, LinkStatus, SessionAttr, UploadState, UseRecord } from '../shared/ledger';

export interface IssuedLink {
  readonly id: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly maxUses: number;
  /** The object's size in bytes. */
  readonly size: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Epoch seconds. */
  readonly now: number;
  /** Who minted it, when the API knows (see LinkStatus.owner). */
  readonly owner?: string;
  /** A protected link: its passphrase's derived key, and the wrong tries it takes before it locks. */
  readonly passphrase?: { readonly hash: string; readonly attempts: number };
  /** An upload link (its `size` is the most bytes it takes), with the media type it requires, if any. */
  readonly upload?: { readonly contentType?: string };
}

/** Records a freshly minted link; refuses to overwrite an existing id. */
export function issueLinkInput(tableName: string, link: IssuedLink): PutItemCommandInput {
  return {
    TableName: tableName,
    Item: {
      [Attr.id]: { S: link.id },
      [Attr.key]: { S: link.key },
      [Attr.fingerprint]: { S: link.fingerprint },
      [Attr.maxUses]: { N: String(link.maxUses) },
      ...(link.maxUses > 1 ? {
        // An N-use link counts its uses; its sessions live in the sessions table (session-table.ts).
        [Attr.uses]: { N: '0' },
        [Attr.lastTake]: { M: { r: { S: '' }, at: { N: '0' }, s: { S: '' } } },
      } : {
        [Attr.cap]: { N: String(link.maxUses) },
        // Empty maps, so redemptions can address per-client entries inside them.
        [Attr.sessions]: { M: {} },
        [Attr.sessionUntil]: { M: {} },
        [Attr.sessionRequests]: { M: {} },
        [Attr.sessionBytes]: { M: {} },
        [Attr.sessionLast]: { M: {} },
      }),
      [Attr.objectSize]: { N: String(link.size) },
      [Attr.expiresAt]: { N: String(link.expiresAt) },
      [Attr.ttl]: { N: String(link.expiresAt + LEDGER_RETENTION_SECONDS) },
      [Attr.revoked]: { BOOL: false },
      [Attr.createdAt]: { S: new Date(link.now * 1000).toISOString() },
      ...(link.owner === undefined ? {} : { [Attr.owner]: { S: link.owner } }),
      ...(link.passphrase === undefined ? {} : {
        [Attr.passphraseHash]: { S: link.passphrase.hash },
        [Attr.passphraseTriesLeft]: { N: String(link.passphrase.attempts) },
      }),
      ...(link.upload === undefined ? {} : {
        [Attr.kind]: { S: 'upload' },
        [Attr.uploadState]: { S: UploadState.open },
        ...(link.upload.contentType === undefined ? {} : { [Attr.contentType]: { S: link.upload.contentType } }),
      }),
    },
    ConditionExpression: 'attribute_not_exists(#id)',
    ExpressionAttributeNames: { '#id': Attr.id },
  };
}

/**
 * Revokes a link at once. DynamoDB serializes writes to one item, so a racing
 * redemption is either fully before this (and counted) or refused by `#rev = :false`.
 * With `owner`, only that owner's link is revoked; a refusal returns the old item, so
 * the caller can tell "not yours" from "no such link".
 */
export function revokeLinkInput(tableName: string, id: string, nowSeconds: number, owner?: string): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: id } },
    UpdateExpression: 'SET #rev = :true, #revAt = if_not_exists(#revAt, :now)',
    ConditionExpression: owner === undefined ? 'attribute_exists(#id)' : 'attribute_exists(#id) AND #owner = :owner',
    ExpressionAttributeNames: { '#id': Attr.id, '#rev': Attr.revoked, '#revAt': Attr.revokedAt, ...(owner === undefined ? {} : { '#owner': Attr.owner }) },
    ExpressionAttributeValues: {
      ':true': { BOOL: true },
      ':now': { S: new Date(nowSeconds * 1000).toISOString() },
      ...(owner === undefined ? {} : { ':owner': { S: owner } }),
    },
    // An N-use link's item is small (its sessions live in the sessions table); the revocation reads it to stop them.
    ReturnValues: 'ALL_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** Whether a ledger item is an N-use link's, whose sessions are items of the sessions table. */
export function hasSessionItems(item: Record<string, AttributeValue>): boolean {
  return item[Attr.uses]?.N !== undefined;
}

/** A page of an N-use link's sessions, oldest holder first (pass the last page's LastEvaluatedKey on). */
export function sessionsOfLinkInput(tableName: string, id: string, startKey?: Record<string, AttributeValue>): QueryCommandInput {
  return {
    TableName: tableName,
    KeyConditionExpression: '#l = :l',
    ExpressionAttributeNames: { '#l': SessionAttr.link },
    ExpressionAttributeValues: { ':l': { S: id } },
    ConsistentRead: true,
    ...(startKey ? { ExclusiveStartKey: startKey } : {}),
  };
}

/**
 * Stops one session of a revoked N-use link: a continuation checks its own item only, so
 * revoking marks each. Conditional on the item existing (a given-back session stays gone).
 */
export function revokeSessionInput(tableName: string, session: Record<string, AttributeValue>): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [SessionAttr.link]: session[SessionAttr.link], [SessionAttr.session]: session[SessionAttr.session] },
    UpdateExpression: 'SET #rev = :true',
    ConditionExpression: 'attribute_exists(#s)',
    ExpressionAttributeNames: { '#rev': SessionAttr.revoked, '#s': SessionAttr.session },
    ExpressionAttributeValues: { ':true': { BOOL: true } },
  };
}

/**
 * When a revocation must look for sessions again: a take that the link's item records within
 * the edge's whole-invocation budget may still be writing its session (session-table.ts
 * takeUseInput), so the revocation sweeps once more after that. Undefined: once is enough.
 */
export function sweepAgainAt(item: Record<string, AttributeValue>): number | undefined {
  const at = Number(item[Attr.lastTake]?.M?.at?.N ?? 0);
  // The take's time is in whole seconds (up to 1 s early); a write the edge sent just before its
  // deadline commits within its network delay: SWEEP_MARGIN_SECONDS covers both.
  return at > 0 ? at + EDGE_BUDGET_MS / 1000 + SWEEP_MARGIN_SECONDS : undefined;
}

/** How long after an edge invocation's budget a revocation still looks for its session. */
const SWEEP_MARGIN_SECONDS = 3;

export function getLinkInput(tableName: string, id: string): GetItemCommandInput {
  return { TableName: tableName, Key: { [Attr.id]: { S: id } }, ConsistentRead: true };
}

/**
 * The public view of a link. An N-use link's uses are counted on its item and its sessions are
 * items of the sessions table: pass them (sessionsOfLinkInput) for its redemptions; without
 * them (a stream record of the link's item) it shows none.
 */
export function linkStatus(item: Record<string, AttributeValue>, sessionItems: Array<Record<string, AttributeValue>> = []): LinkStatus {
  if (item[Attr.kind]?.S === 'upload') return uploadStatus(item);
  const owner = item[Attr.owner]?.S;
  const maxUses = Number(item[Attr.maxUses].N);
  const sessions = item[Attr.sessions]?.M ?? {};
  const useRecord = (r: Record<string, AttributeValue>, until: string | undefined, requests: string | undefined): UseRecord => ({
    at: r.at.S!,
    ip: r.ip.S!,
    userAgent: r.userAgent.S!,
    requestId: r.requestId?.S ?? '',
    sessionUntil: new Date(Number(until ?? 0) * 1000).toISOString(),
    requests: Number(requests ?? 0),
  });
  const closed = (item[Attr.redemptions]?.L ?? []).map((r) => useRecord(r.M!, r.M!.sessionUntil?.N, r.M!.requests?.N));
  const current = Object.entries(sessions).map(([client, r]) =>
    useRecord(r.M!, item[Attr.sessionUntil]?.M?.[client]?.N, item[Attr.sessionRequests]?.M?.[client]?.N));
  const tabled = sessionItems.filter((s) => s[SessionAttr.record]?.M !== undefined)
    .map((s) => useRecord(s[SessionAttr.record].M!, s[SessionAttr.until]?.N, s[SessionAttr.requests]?.N));
  return {
    id: item[Attr.id].S!,
    key: item[Attr.key].S!,
    maxUses,
    uses: hasSessionItems(item) ? Number(item[Attr.uses].N) : Object.keys(sessions).length + maxUses - Number(item[Attr.cap]?.N ?? maxUses),
    expiresAt: new Date(Number(item[Attr.expiresAt].N) * 1000).toISOString(),
    revoked: item[Attr.revoked]?.BOOL === true,
    ...(item[Attr.objectSize]?.N === undefined ? {} : { size: Number(item[Attr.objectSize].N) }),
    ...(owner === undefined ? {} : { owner }),
    redemptions: [...closed, ...current, ...tabled].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)),
    // Whether it is protected, and locked: never the hash.
    ...(item[Attr.passphraseHash] === undefined ? {} : {
      passphraseProtected: true,
      locked: Number(item[Attr.passphraseTriesLeft]?.N ?? 0) <= 0,
      passphraseTriesLeft: Number(item[Attr.passphraseTriesLeft]?.N ?? 0),
    }),
  };
}

/**
 * The public view of an upload link: one use, taken by the PUT S3 stored. The PUT that took it
 * is its one redemption record while it uploads and once it is stored.
 */
function uploadStatus(item: Record<string, AttributeValue>): LinkStatus {
  const owner = item[Attr.owner]?.S;
  const state = item[Attr.uploadState]?.S;
  const uploaded = state === UploadState.uploaded;
  const who = item[Attr.uploader]?.M;
  const contentType = item[Attr.contentType]?.S;
  return {
    id: item[Attr.id].S!,
    key: item[Attr.key].S!,
    kind: 'upload',
    maxUses: 1,
    uses: uploaded ? 1 : 0,
    expiresAt: new Date(Number(item[Attr.expiresAt].N) * 1000).toISOString(),
    revoked: item[Attr.revoked]?.BOOL === true,
    ...(owner === undefined ? {} : { owner }),
    uploaded,
    uploadState: (state ?? UploadState.open) as LinkStatus['uploadState'],
    maxBytes: Number(item[Attr.objectSize]?.N ?? 0),
    ...(contentType === undefined ? {} : { contentType }),
    ...(uploaded ? { receivedBytes: Number(item[Attr.uploadedSize]?.N ?? 0), uploadedAt: item[Attr.uploadedAt]?.S ?? '' } : {}),
    redemptions: who === undefined ? [] : [{
      at: who.at?.S ?? '',
      ip: who.ip?.S ?? '',
      userAgent: who.userAgent?.S ?? '',
      requestId: who.requestId?.S ?? '',
      sessionUntil: new Date(Number(item[Attr.uploadUntil]?.N ?? 0) * 1000).toISOString(),
      requests: 1,
    }],
  };
}
