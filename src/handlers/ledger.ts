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
 * - `#rev = :false`: revoked links stay dead.
 */
export function redeemLinkInput(tableName: string, link: PresentedLink, nowSeconds: number, who: Redemption): UpdateItemCommandInput {
  const record: AttributeValue = {
    M: {
      at: { S: who.at },
      ip: { S: who.ip.slice(0, 64) },
      userAgent: { S: who.userAgent.slice(0, MAX_AUDIT_USER_AGENT) },
    },
  };
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    // The audit record is written in the same atomic update as the use it records.
    UpdateExpression: 'SET #uses = #uses + :one, #red = list_append(if_not_exists(#red, :none), :record)',
    ConditionExpression: 'attribute_exists(#id) AND #fp = :fp AND #uses < #max AND #exp > :now AND #rev = :false',
    ExpressionAttributeNames: {
      '#id': Attr.id,
      '#fp': Attr.fingerprint,
      '#uses': Attr.uses,
      '#max': Attr.maxUses,
      '#exp': Attr.expiresAt,
      '#rev': Attr.revoked,
      '#red': Attr.redemptions,
    },
    ExpressionAttributeValues: {
      ':one': { N: '1' },
      ':none': { L: [] },
      ':record': { L: [record] },
      ':fp': { S: link.fingerprint },
      ':now': { N: String(nowSeconds) },
      ':false': { BOOL: false },
    },
  };
}

/**
 * Revokes a link at once. DynamoDB serializes writes to one item, so a racing
 * redemption is either fully before this (and counted) or refused by `#rev = :false`.
 */
export function revokeLinkInput(tableName: string, id: string, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: id } },
    UpdateExpression: 'SET #rev = :true, #revAt = if_not_exists(#revAt, :now)',
    ConditionExpression: 'attribute_exists(#id)',
    ExpressionAttributeNames: { '#id': Attr.id, '#rev': Attr.revoked, '#revAt': Attr.revokedAt },
    ExpressionAttributeValues: { ':true': { BOOL: true }, ':now': { S: new Date(nowSeconds * 1000).toISOString() } },
  };
}

export function getLinkInput(tableName: string, id: string): GetItemCommandInput {
  return { TableName: tableName, Key: { [Attr.id]: { S: id } }, ConsistentRead: true };
}

export function linkStatus(item: Record<string, AttributeValue>): LinkStatus {
  return {
    id: item[Attr.id].S!,
    key: item[Attr.key].S!,
    maxUses: Number(item[Attr.maxUses].N),
    uses: Number(item[Attr.uses].N),
    expiresAt: new Date(Number(item[Attr.expiresAt].N) * 1000).toISOString(),
    revoked: item[Attr.revoked]?.BOOL === true,
    redemptions: (item[Attr.redemptions]?.L ?? []).map((r) => ({
      at: r.M!.at.S!,
      ip: r.M!.ip.S!,
      userAgent: r.M!.userAgent.S!,
    })),
  };
}
