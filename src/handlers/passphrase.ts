// Passphrase-protected links at the edge: reading the passphrase from the page's form, the
// clause the button's conditional write adds (download-session.ts openInput), and what to do
// when that write is refused. The passphrase is checked inside the one write that spends a
// use: the ledger compares the derived key, so no read-then-write race lets a wrong one
// through, and wrong tries are counted by a second conditional write that cannot overshoot.
//
// Nothing here logs, and nothing returned to a viewer holds the passphrase or its key.
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { CloudFrontRequest } from 'aws-lambda';
import type { OpenCondition } from './download-session';
import { Attr } from '../shared/ledger';
import type { PresentedLink } from '../shared/link';
import { hashPassphrase, passphraseProblem } from '../shared/passphrase';

/** The form field the landing page's passphrase input posts. */
export const PASSPHRASE_FIELD = 'passphrase';

/** Why a button press carried no usable passphrase; none of these touches the ledger or counts as a wrong try. */
export type MissingPassphrase = 'missing' | 'truncated' | 'unreadable' | 'impossible';

/**
 * The passphrase a button press (POST) carries in its body, as CloudFront hands it to a
 * viewer-request function associated with `includeBody` ("Lambda@Edge event structure":
 * `request.body` is `{ inputTruncated, action, encoding: 'base64', data }`; "Restrictions on
 * the request body with the include body option": a viewer request's body is cut at 40 KB and
 * flagged `inputTruncated`). Only `application/x-www-form-urlencoded` is read: what the page's
 * form and `curl -d` send. A passphrase in the query string is never looked at.
 *
 * Refusals here happen before any I/O and are not wrong tries: a mail scanner pressing the
 * button without a passphrase, or a garbled body, must not lock the recipient out. A value
 * that no passphrase can be (outside 8..128 characters) is refused the same way: it can never
 * be right, so it neither costs a KDF run nor counts.
 */
export function passphraseOfRequest(request: CloudFrontRequest): { passphrase: string } | { missing: MissingPassphrase } {
  const body = request.body;
  if (!body || typeof body.data !== 'string' || body.data === '') return { missing: 'missing' };
  if (body.inputTruncated) return { missing: 'truncated' };
  const type = (request.headers['content-type']?.[0]?.value ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return { missing: 'unreadable' };
  const text = body.encoding === 'base64' ? Buffer.from(body.data, 'base64').toString('utf8') : body.data;
  const values = new URLSearchParams(text).getAll(PASSPHRASE_FIELD);
  if (values.length > 1) return { missing: 'unreadable' };
  if (values.length === 0 || values[0] === '') return { missing: 'missing' };
  if (passphraseProblem(values[0])) return { missing: 'impossible' };
  return { passphrase: values[0] };
}

/** What the viewer is told for each; plain words, never the value sent. */
export const MISSING_PASSPHRASE_MESSAGES: Record<MissingPassphrase, string> = {
  missing: 'This link needs its passphrase. Open the link, enter the passphrase the sender gave you and press Download '
    + "(from a script: curl -L -b '' -d passphrase=... followed by the link).",
  truncated: 'The form sent was too large. Open the link and enter the passphrase again.',
  unreadable: 'The form could not be read. Open the link and enter the passphrase again.',
  impossible: 'That is not the passphrase: passphrases have 8 to 128 characters. Nothing was spent. Try again.',
};

/** The extra clause, names and values the button's conditional write takes (see openInput). */
export type ExtraCondition = OpenCondition;

/**
 * The button of a link without a passphrase: the link has no passphrase either. The URL's
 * flag already says so (and is fingerprinted); this keeps the rule in the ledger too.
 */
export const NO_PASSPHRASE: ExtraCondition = {
  condition: 'attribute_not_exists(#pwHash)',
  names: { '#pwHash': Attr.passphraseHash },
};

/** The derived key of what the viewer typed, salted with the link id (no I/O). */
export function passphraseKey(passphrase: string, link: PresentedLink): Promise<string> {
  return hashPassphrase(passphrase, link.id);
}

/**
 * The button of a protected link: the typed passphrase's key equals the stored one, and the
 * link is not locked. Both are checked by the same write that spends the use.
 */
export function rightPassphrase(key: string): ExtraCondition {
  return {
    condition: '#pwHash = :pwHash AND #pwLeft > :pwNone',
    names: { '#pwHash': Attr.passphraseHash, '#pwLeft': Attr.passphraseTriesLeft },
    values: { ':pwHash': { S: key }, ':pwNone': { N: '0' } },
  };
}

/** What a refused protected press means, read from the item as it was. */
export type PassphraseOutcome = 'locked' | 'wrong' | 'right';

export function passphraseOutcome(item: Record<string, AttributeValue>, key: string): PassphraseOutcome {
  if (triesLeftOf(item) <= 0) return 'locked';
  return item[Attr.passphraseHash]?.S === key ? 'right' : 'wrong';
}

export function triesLeftOf(item: Record<string, AttributeValue> | undefined): number {
  return Number(item?.[Attr.passphraseTriesLeft]?.N ?? 0);
}

/** Whether an item is a protected link that too many wrong passphrases locked. */
export function isLocked(item: Record<string, AttributeValue>): boolean {
  return item[Attr.passphraseHash] !== undefined && triesLeftOf(item) <= 0;
}

/**
 * Counts one wrong try: takes one from the tries left, only while some are left and only
 * for this link as issued (a tampered URL counts nothing) and a key that is not the stored
 * one. DynamoDB serializes writes to one item, so parallel wrong tries lock the link at
 * exactly the limit and never take it below zero; a refusal returns the old item (locked).
 * UPDATED_NEW returns only the counter.
 */
export function wrongTryInput(tableName: string, link: PresentedLink, key: string): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: 'SET #pwLeft = #pwLeft - :one',
    ConditionExpression: 'attribute_exists(#id) AND #fp = :fp AND #pwHash <> :pwHash AND #pwLeft > :pwNone',
    ExpressionAttributeNames: { '#id': Attr.id, '#fp': Attr.fingerprint, '#pwHash': Attr.passphraseHash, '#pwLeft': Attr.passphraseTriesLeft },
    ExpressionAttributeValues: { ':one': { N: '1' }, ':fp': { S: link.fingerprint }, ':pwHash': { S: key }, ':pwNone': { N: '0' } },
    ReturnValues: 'UPDATED_NEW',
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
  };
}

/** What the viewer is told after a wrong passphrase. */
export function wrongPassphraseMessage(triesLeft: number): string {
  if (triesLeft <= 0) return LOCKED_MESSAGE;
  return `Wrong passphrase. Nothing was spent. ${triesLeft === 1 ? '1 try' : `${triesLeft} tries`} left before the link locks.`;
}

export const LOCKED_MESSAGE = 'This link is locked: its passphrase was entered wrongly too many times. Ask the sender for a new link.';
