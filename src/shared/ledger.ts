// The ledger item and the two writes made to it: issuing a link (mint) and
// redeeming it (edge). Both handlers import this module, so the item shape and
// the redemption rule exist exactly once.
import type { AttributeValue, GetItemCommandInput, PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { PresentedLink } from './link';

/** Attribute names of a ledger item. The table's partition key is `id`. */
export const Attr = {
  id: 'id',
  key: 'objectKey',
  fingerprint: 'fingerprint',
  uses: 'uses',
  maxUses: 'maxUses',
  expiresAt: 'expiresAt',
  ttl: 'ttl',
  revoked: 'revoked',
  revokedAt: 'revokedAt',
  createdAt: 'createdAt',
  redemptions: 'redemptions',
} as const;

/**
 * The most uses one link may have. Every successful redemption appends one audit
 * record, so this also bounds the audit trail: 100 records of at most ~600 bytes
 * keep an item far below DynamoDB's 400 KB limit.
 */
export const MAX_USES_LIMIT = 100;
/** User agents are cut to this many characters in the audit trail. */
export const MAX_AUDIT_USER_AGENT = 512;

/** Who redeemed a link, recorded on its ledger item. */
export interface Redemption {
  /** ISO-8601 time of the redemption. */
  readonly at: string;
  readonly ip: string;
  readonly userAgent: string;
}

/** The table's partition key and its TTL attribute, for the construct. */
export const LEDGER_PARTITION_KEY = Attr.id;
export const LEDGER_TTL_ATTRIBUTE = Attr.ttl;

/**
 * How long an item outlives its link before DynamoDB TTL may delete it, so the
 * ledger can still answer "used" rather than "unknown" for a while.
 */
export const LEDGER_RETENTION_SECONDS = 7 * 24 * 3600;

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

/** The public view of a ledger item (what `GET /urls/{id}` returns). */
export interface LinkStatus {
  readonly id: string;
  readonly key: string;
  readonly maxUses: number;
  readonly uses: number;
  readonly expiresAt: string;
  readonly revoked: boolean;
  readonly redemptions: Redemption[];
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
