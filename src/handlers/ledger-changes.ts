// Which link events one change of a ledger item means. Pure: the events handler feeds it
// the old and new images of a DynamoDB stream record.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { hasSessionItems, linkStatus } from './ledger';
import { Attr, SessionAttr } from '../shared/ledger';
import { LINK_EVENT_DETAIL_VERSION, LinkEvent, LinkEventDetail, LinkEventType } from '../shared/link-events';

type Image = Record<string, AttributeValue>;

/**
 * The events of one change, in this order: Link Issued (a new item); Link Redeemed for
 * each use the change added; Link Used Up when it spent the last use; Link Revoked when
 * it revoked the link; Link Locked when a wrong passphrase took a protected link's last try;
 * Upload Received when S3 stored an upload link's file.
 * A continuation of a download session changes only counters and
 * means no event; neither does TTL removing an item, nor a refused request (which writes
 * nothing, so the stream has no record of it).
 */
export function eventsForChange(oldImage: Image | undefined, newImage: Image | undefined, sequenceNumber: string): LinkEvent[] {
  if (!newImage) return [];
  if (newImage[SessionAttr.session] !== undefined) return oldImage ? [] : redeemedIn(newImage, sequenceNumber);
  const after = linkStatus(newImage);
  const before = oldImage ? linkStatus(oldImage) : undefined;
  const base = (index: number): LinkEventDetail => detailOf(sequenceNumber, index, after);
  const out: LinkEvent[] = [];
  const push = (detailType: string, extra: Partial<LinkEventDetail> = {}) => {
    out.push({ detailType, detail: { ...base(out.length), ...extra } });
  };
  if (!before) {
    push(LinkEventType.issued);
    return out;
  }
  if (after.kind === 'upload') {
    // An upload link: taking it for a PUT (and giving it back) means nothing to its sender;
    // S3 storing the file does. What was stored, never who sent it.
    if (!before.uploaded && after.uploaded) {
      const type = newImage[Attr.uploader]?.M?.contentType?.S;
      push(LinkEventType.uploadReceived, { kind: 'upload', size: after.receivedBytes ?? 0, ...(type === undefined ? {} : { contentType: type }) });
    }
    if (!before.revoked && after.revoked) push(LinkEventType.revoked, { kind: 'upload' });
    return out;
  }
  const seen = new Set(before.redemptions.map((r) => r.requestId));
  for (const r of after.redemptions) {
    if (!seen.has(r.requestId)) push(LinkEventType.redeemed, { at: r.at, ip: r.ip, userAgent: r.userAgent, requestId: r.requestId });
  }
  // An N-use link's last use is announced by its session's item (redeemedIn).
  if (before.uses < before.maxUses && after.uses >= after.maxUses && !hasSessionItems(newImage)) push(LinkEventType.usedUp);
  if (!before.revoked && after.revoked) push(LinkEventType.revoked);
  // The wrong try that took a protected link's last one (the detail never holds the hash).
  if (before.locked === false && after.locked === true) push(LinkEventType.locked);
  return out;
}

/**
 * An N-use link's new session (an item of the sessions table, session-table.ts): one use
 * redeemed, and, when it was the last, Link Used Up after it. The item copies what the events
 * tell of the link. The link's own item, which holds no sessions, says when it is revoked or
 * locked. Sessions are written after their take, so two parallel uses may be announced out of
 * their `uses` order.
 */
function redeemedIn(session: Image, sequenceNumber: string): LinkEvent[] {
  const record = session[SessionAttr.record]?.M ?? {};
  const owner = session[SessionAttr.owner]?.S;
  const uses = Number(session[SessionAttr.use]?.N ?? 0);
  const maxUses = Number(session[SessionAttr.maxUses]?.N ?? 0);
  const link: LinkFields = {
    id: session[SessionAttr.link].S!,
    key: session[SessionAttr.key]?.S ?? '',
    uses,
    maxUses,
    expiresAt: new Date(Number(session[SessionAttr.expiresAt]?.N ?? 0) * 1000).toISOString(),
    revoked: false,
    owner,
  };
  const detail = (index: number): LinkEventDetail => detailOf(sequenceNumber, index, link);
  const redeemed: LinkEvent = {
    detailType: LinkEventType.redeemed,
    detail: { ...detail(0), at: record.at?.S ?? '', ip: record.ip?.S ?? '', userAgent: record.userAgent?.S ?? '', requestId: record.requestId?.S ?? '' },
  };
  return uses >= maxUses ? [redeemed, { detailType: LinkEventType.usedUp, detail: detail(1) }] : [redeemed];
}

/** What every event tells of its link. */
type LinkFields = Pick<LinkEventDetail, 'id' | 'key' | 'uses' | 'maxUses' | 'expiresAt' | 'revoked' | 'owner'>;

/** An event's detail: its id (the stream record's sequence number and its index among the record's events) and the link's fields. */
function detailOf(sequenceNumber: string, index: number, link: LinkFields): LinkEventDetail {
  return {
    version: LINK_EVENT_DETAIL_VERSION,
    eventId: `${sequenceNumber}#${index}`,
    id: link.id,
    key: link.key,
    uses: link.uses,
    maxUses: link.maxUses,
    expiresAt: link.expiresAt,
    revoked: link.revoked,
    ...(link.owner === undefined ? {} : { owner: link.owner }),
  };
}
