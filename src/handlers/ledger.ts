// The ledger writes and reads: issuing a link (mint), redeeming it (edge), revoking
// and reading it (mint). Both handlers import this module, so the redemption rule
// exists exactly once.
import type { AttributeValue, GetItemCommandInput, PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { Attr, LEDGER_RETENTION_SECONDS, LinkStatus, MAX_AUDIT_USER_AGENT, Redemption } from '../shared/ledger';
import type { PresentedLink } from '../shared/link';

export interface IssuedLink {
  readonly id: string;
  readonly key: string;
  readonly fingerprint: string;
  readonly maxUses: number;
  /** Epoch seconds. */
  readonly expiresAt: number;
  /** Epoch seconds. */
  readonly now: number;
  /** Who minted it, when the API knows (see LinkStatus.owner). */
  readonly owner?: string;
}

/** Records a freshly minted link; refuses to overwrite an existing id. */
export function issueLinkInput(tableName: string, link: IssuedLink): PutItemCommandInput {
  return {
    TableName: tableName,
    Item: {
      [Attr.id]: { S: link.id },
      [Attr.key]: { S: link.key },
      [Attr.fingerprint]: { S: link.fingerprint },
      [Attr.uses]: { N: '0' },
      [Attr.maxUses]: { N: String(link.maxUses) },
      [Attr.expiresAt]: { N: String(link.expiresAt) },
      [Attr.ttl]: { N: String(link.expiresAt + LEDGER_RETENTION_SECONDS) },
      [Attr.revoked]: { BOOL: false },
      [Attr.createdAt]: { S: new Date(link.now * 1000).toISOString() },
      ...(link.owner === undefined ? {} : { [Attr.owner]: { S: link.owner } }),
    },
    ConditionExpression: 'attribute_not_exists(#id)',
    ExpressionAttributeNames: { '#id': Attr.id },
  };
}

/**
 * The redemption rule: one conditional UpdateItem, so two concurrent requests can
 * never both win. Every clause is checked by DynamoDB atomically with the increment:
 * - `attribute_exists(#id)`: an unknown id writes nothing (UpdateItem would otherwise create it);
 * - `#fp = :fp`: the key and query match what was issued, so a tampered URL cannot burn the real link;
 * - `#uses < #max`: one-time (or N-time);
 * - `#exp > :now`: TTL deletes items days late, so expiry is enforced here;
 * - `#rev = :false`: revoked links stay dead;
 * - `NOT contains(#reqs, :req)`: a viewer request spends at most one use, however often
 *   the SDK retries it. When a retry is refused, the old item returned with the refusal
 *   ({@link redeemedBy}) tells whether this very request already won.
 */
export function redeemLinkInput(tableName: string, link: PresentedLink, nowSeconds: number, who: Redemption): UpdateItemCommandInput {
  const record: AttributeValue = {
    M: {
      at: { S: who.at },
      ip: { S: who.ip.slice(0, 64) },
      userAgent: { S: who.userAgent.slice(0, MAX_AUDIT_USER_AGENT) },
      requestId: { S: who.requestId },
    },
  };
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    // The audit record is written in the same atomic update as the use it records.
    UpdateExpression: 'SET #uses = #uses + :one, #red = list_append(if_not_exists(#red, :none), :record) ADD #reqs :reqs',
    ConditionExpression: 'attribute_exists(#id) AND #fp = :fp AND #uses < #max AND #exp > :now AND #rev = :false AND NOT contains(#reqs, :req)',
    ExpressionAttributeNames: {
      '#id': Attr.id,
      '#fp': Attr.fingerprint,
      '#uses': Attr.uses,
      '#max': Attr.maxUses,
      '#exp': Attr.expiresAt,
      '#rev': Attr.revoked,
      '#red': Attr.redemptions,
      '#reqs': Attr.requestIds,
    },
    ExpressionAttributeValues: {
      ':one': { N: '1' },
      ':none': { L: [] },
      ':record': { L: [record] },
      ':fp': { S: link.fingerprint },
      ':now': { N: String(nowSeconds) },
      ':false': { BOOL: false },
      ':req': { S: who.requestId },
      ':reqs': { SS: [who.requestId] },
    },
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/**
 * Whether the item returned with a refused redemption shows that `requestId` already
 * spent a use: the write committed, its answer was lost, and the SDK retried.
 */
export function redeemedBy(item: Record<string, AttributeValue> | undefined, link: PresentedLink, requestId: string): boolean {
  return item !== undefined
    && item[Attr.fingerprint]?.S === link.fingerprint
    && (item[Attr.requestIds]?.SS ?? []).includes(requestId);
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
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

export function getLinkInput(tableName: string, id: string): GetItemCommandInput {
  return { TableName: tableName, Key: { [Attr.id]: { S: id } }, ConsistentRead: true };
}

export function linkStatus(item: Record<string, AttributeValue>): LinkStatus {
  const owner = item[Attr.owner]?.S;
  return {
    id: item[Attr.id].S!,
    key: item[Attr.key].S!,
    maxUses: Number(item[Attr.maxUses].N),
    uses: Number(item[Attr.uses].N),
    expiresAt: new Date(Number(item[Attr.expiresAt].N) * 1000).toISOString(),
    revoked: item[Attr.revoked]?.BOOL === true,
    ...(owner === undefined ? {} : { owner }),
    redemptions: (item[Attr.redemptions]?.L ?? []).map((r) => ({
      at: r.M!.at.S!,
      ip: r.M!.ip.S!,
      userAgent: r.M!.userAgent.S!,
      requestId: r.M!.requestId?.S ?? '',
    })),
  };
}
