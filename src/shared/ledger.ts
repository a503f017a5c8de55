// The ledger item and the two writes made to it: issuing a link (mint) and
// redeeming it (edge). Both handlers import this module, so the item shape and
// the redemption rule exist exactly once.
import type { PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
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
  createdAt: 'createdAt',
} as const;

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
export function redeemLinkInput(tableName: string, link: PresentedLink, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #uses = #uses + :one',
    ConditionExpression: 'attribute_exists(#id) AND #fp = :fp AND #uses < #max AND #exp > :now AND #rev = :false',
    ExpressionAttributeNames: {
      '#id': Attr.id,
      '#fp': Attr.fingerprint,
      '#uses': Attr.uses,
      '#max': Attr.maxUses,
      '#exp': Attr.expiresAt,
      '#rev': Attr.revoked,
    },
    ExpressionAttributeValues: {
      ':one': { N: '1' },
      ':fp': { S: link.fingerprint },
      ':now': { N: String(nowSeconds) },
      ':false': { BOOL: false },
    },
  };
}
