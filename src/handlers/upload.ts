// Upload links at the edge: one PUT of one file, once.
//
// - Before any I/O the viewer-request trigger refuses a PUT it could never take: no
//   Content-Length or a chunked body (411), more bytes than the link takes (413), another media
//   type than the link requires (415). Nothing is spent.
// - Then one conditional write takes the link (open -> uploading) and reads back the key the
//   mint recorded; the PUT goes on for that key only, with `If-None-Match: *`, so S3 itself
//   refuses to replace an object ("Conditional writes", Amazon S3 User Guide,
//   https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html: 412
//   Precondition Failed when the key exists or another conditional write of it finished first,
//   409 ConditionalRequestConflict when a delete overtook it). The origin-request trigger signs
//   the header (origin-signing.ts), so a
//   PUT that lost it on the way fails at S3 instead of overwriting.
// - The body is never touched: the function sees at most its first 40 KB, and CloudFront sends
//   the viewer's whole body to the origin unless the function replaces it (`body.action`
//   "read-only", "Lambda@Edge event structure", CloudFront Developer Guide,
//   https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/lambda-event-structure.html).
// - The origin-response trigger marks the link uploaded when S3 stored the file (200), closes it
//   (conflict) when the key holds an object it did not write (412/409), and otherwise gives it
//   back (uploading -> open), so the recipient can try again.
// - A PUT is never a CORS-simple request: another site's page cannot send one to a link without a
//   preflight, which the edge refuses (only GET, POST and PUT pass), so no page but the link's
//   own can upload through it.
// - A take whose PUT never came back (the viewer went away mid-body, and CloudFront ran no
//   origin-response trigger) holds the link only until `uploadUntil`; S3's If-None-Match keeps a
//   late completion from being overwritten by the next try.
import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { CloudFrontRequest } from 'aws-lambda';
import { auditRecord, KEY, LINK_IS_LIVE, LIVE_NAMES, liveRefusal, liveValues, READ_BACK_KEY, RETURN_KEY } from './download-session';
import { Attr, UploadState, type Redemption } from '../shared/ledger';
import { mediaTypeOf, type PresentedLink } from '../shared/link';

/** A PUT refused before any I/O: the status and what the viewer is told. */
export interface UploadProblem {
  readonly status: '400' | '405' | '411' | '413' | '415';
  readonly message: string;
}

/** Longest a take holds a link that never heard back from S3: 3 hours. */
export const MAX_UPLOAD_HOLD_SECONDS = 3 * 3600;

/**
 * How long a take waits for S3's answer before another PUT may take the link again: 15 minutes,
 * plus the time the declared bytes need at 64 KiB/s (a slow mobile upload), at most 3 hours.
 */
export function uploadDeadline(nowSeconds: number, bytes: number): number {
  return nowSeconds + Math.min(900 + Math.ceil(bytes / 65_536), MAX_UPLOAD_HOLD_SECONDS);
}

/**
 * Media types a browser runs rather than shows or saves: HTML, XML and its dialects (SVG,
 * XHTML, XSLT), scripts. Stored from a stranger's upload and later downloaded from the
 * distribution's own domain, they would run there (stored XSS), so a link that names no type
 * refuses them; a sender who wants such files names the type at mint.
 */
export function isActiveMediaType(type: string): boolean {
  return type === 'text/html' || type === 'text/xml' || type === 'application/xml' || type === 'text/xsl' || type.endsWith('+xml')
    || type.includes('javascript') || type.includes('ecmascript') || type === 'multipart/x-mixed-replace';
}

/** What keeps a PUT from being taken, judged from its headers alone; undefined when it may be. */
export function uploadProblem(request: CloudFrontRequest, link: PresentedLink): UploadProblem | undefined {
  const header = (name: string) => request.headers[name]?.[0]?.value;
  if (header('transfer-encoding') !== undefined) {
    return { status: '411', message: 'Send the file with a Content-Length: this link does not take chunked uploads (curl -T FILE URL sends one).' };
  }
  const length = header('content-length');
  if (length === undefined || !/^\d{1,16}$/.test(length)) return { status: '411', message: 'Send the file with a Content-Length (curl -T FILE URL sends one).' };
  const bytes = Number(length);
  if (bytes === 0) return { status: '400', message: 'The file is empty. Nothing was uploaded.' };
  if (bytes > link.objectSize) {
    return { status: '413', message: `The file is ${bytes} bytes; this link takes at most ${link.objectSize}. Nothing was uploaded.` };
  }
  const type = mediaTypeOf(header('content-type'));
  if (link.contentType !== undefined && type !== link.contentType) {
    return { status: '415', message: `This link takes only ${link.contentType} files (Content-Type: ${link.contentType}); the upload said ${type ?? 'nothing'}. Nothing was uploaded.` };
  }
  if (link.contentType === undefined && type !== undefined && isActiveMediaType(type)) {
    return { status: '415', message: `This link does not take web pages or scripts (${type}). Send it in an archive, or ask the sender for a link that names the type. Nothing was uploaded.` };
  }
  return undefined;
}

/** The declared size of a PUT that passed uploadProblem. */
export function declaredBytes(request: CloudFrontRequest): number {
  return Number(request.headers['content-length']?.[0]?.value ?? 0);
}

/**
 * The write that takes an upload link for one PUT: only a live link (LINK_IS_LIVE, as for a
 * download: issued, not expired, not revoked) that is an upload link and open (or whose earlier
 * take never heard back by its deadline). Reads back the key the PUT goes on for.
 */
export function takeUploadInput(
  tableName: string, link: PresentedLink, who: Redemption, bytes: number, type: string | undefined, nowSeconds: number,
): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: link.id } },
    UpdateExpression: `SET #state = :uploading, #until = :until, #who = :who, ${READ_BACK_KEY}`,
    // AND binds tighter than OR; DynamoDB refuses redundant parentheses.
    ConditionExpression: `${LINK_IS_LIVE} AND #kind = :upload AND (#state = :open OR #state = :uploading AND #until < :now)`,
    ExpressionAttributeNames: {
      ...LIVE_NAMES, ...KEY, '#kind': Attr.kind, '#state': Attr.uploadState, '#until': Attr.uploadUntil, '#who': Attr.uploader,
    },
    ExpressionAttributeValues: {
      ...liveValues(link, nowSeconds),
      ':upload': { S: 'upload' },
      ':open': { S: UploadState.open },
      ':uploading': { S: UploadState.uploading },
      ':until': { N: String(uploadDeadline(nowSeconds, bytes)) },
      // The audit record of a use, plus what the PUT declared.
      ':who': { M: { ...auditRecord(who).M, bytes: { N: String(bytes) }, ...(type === undefined ? {} : { contentType: { S: type } }) } },
    },
    ...RETURN_KEY,
  };
}

/** Why an upload link cannot take a file now: what the viewer is told, and the refusal's name for the metrics. */
export interface UploadRefusal {
  readonly reason: 'unknown' | 'revoked' | 'expired' | 'used';
  readonly message: string;
}

const DEAD_MESSAGES = {
  unknown: 'This link is not valid. Check that you copied all of it, or ask the sender for a new link.',
  revoked: 'This upload link has been revoked by the sender.',
  expired: 'This upload link has expired.',
};

/** Whether the ledger's item (or none) lets the link take a file now, or why not. */
export function uploadLinkState(item: Record<string, AttributeValue> | undefined, link: PresentedLink, nowSeconds: number): 'open' | UploadRefusal {
  const dead = liveRefusal(item, link, nowSeconds) ?? (item?.[Attr.kind]?.S === 'upload' ? undefined : 'unknown');
  if (dead || !item) return { reason: dead ?? 'unknown', message: DEAD_MESSAGES[dead ?? 'unknown'] };
  const state = item[Attr.uploadState]?.S;
  if (state === UploadState.uploaded) return { reason: 'used', message: 'This upload link has already received its file.' };
  if (state === UploadState.conflict) return { reason: 'used', message: CONFLICT_MESSAGE };
  if (state === UploadState.uploading && Number(item[Attr.uploadUntil]?.N ?? 0) >= nowSeconds) {
    return { reason: 'used', message: 'A file is being uploaded through this link right now. Try again later if it does not arrive.' };
  }
  return 'open';
}

/**
 * The write that records S3's 200: uploaded, with the bytes this PUT sent (`bytes`, its
 * Content-Length, or the bytes its take declared). Any 200 for the link is the link's file: S3
 * lets one conditional PUT of a key succeed (If-None-Match: *), and only takes of this link send
 * it there. So no request-id condition: a PUT that outlived its take's deadline, while another
 * took the link, still marks it, and that later take then meets S3's 412.
 */
export function uploadedInput(tableName: string, id: string, bytes: number | undefined, nowSeconds: number): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: id } },
    UpdateExpression: `SET #state = :uploaded, #at = :at, #size = ${bytes === undefined ? '#who.#bytes' : ':size'} REMOVE #until`,
    ConditionExpression: 'attribute_exists(#state) AND #state <> :uploaded',
    ExpressionAttributeNames: {
      '#state': Attr.uploadState,
      '#at': Attr.uploadedAt,
      '#size': Attr.uploadedSize,
      '#until': Attr.uploadUntil,
      ...(bytes === undefined ? { '#who': Attr.uploader, '#bytes': 'bytes' } : {}),
    },
    ExpressionAttributeValues: {
      ':uploaded': { S: UploadState.uploaded },
      ':at': { S: new Date(nowSeconds * 1000).toISOString() },
      ...(bytes === undefined ? {} : { ':size': { N: String(bytes) } }),
    },
    ReturnValues: 'UPDATED_NEW',
  };
}

/**
 * Whether S3 refused a PUT because of what the key holds: 412 when an object exists (If-None-Match:
 * *; of overlapping conditional writes the first to finish wins and the later get 412), 409
 * ConditionalRequestConflict when a delete of the key overtook the write ("How to prevent object
 * overwrites with conditional writes", Amazon S3 User Guide).
 */
export function isConflict(status: number): boolean {
  return status === 412 || status === 409;
}

/**
 * The write that ends the take of the PUT `requestId` when S3 did not store it: `open` gives the
 * link back, so the recipient can try again; `conflict` closes it when S3 refused because the key
 * holds an object this link did not write (isConflict), since another try would meet the same
 * refusal. Conditional on that PUT still holding the link.
 */
export function endTakeInput(tableName: string, id: string, requestId: string, to: 'open' | 'conflict'): UpdateItemCommandInput {
  return {
    TableName: tableName,
    Key: { [Attr.id]: { S: id } },
    UpdateExpression: to === 'open' ? 'SET #state = :to REMOVE #until, #who' : 'SET #state = :to REMOVE #until',
    ConditionExpression: '#who.#rid = :rid AND #state = :uploading',
    ExpressionAttributeNames: { '#state': Attr.uploadState, '#who': Attr.uploader, '#rid': 'requestId', '#until': Attr.uploadUntil },
    ExpressionAttributeValues: { ':to': { S: UploadState[to] }, ':uploading': { S: UploadState.uploading }, ':rid': { S: requestId } },
  };
}

const CONFLICT_MESSAGE = 'A file is already stored under this name; nothing was replaced. Ask the sender for a new link.';

/** What the uploader is told of S3's answer to its PUT (origin-response). */
export function uploadAnswer(status: number, bytes: number | undefined): { status: string; description: string; message: string } {
  if (status === 200) {
    return { status: '201', description: 'Created', message: `Upload received: ${bytes ?? 'all'} bytes. You can close this page.` };
  }
  if (isConflict(status)) return { status: '409', description: 'Conflict', message: CONFLICT_MESSAGE };
  if (status === 400) return { status: '400', description: 'Bad Request', message: 'The upload did not arrive whole. Nothing was stored; try again.' };
  return { status: '503', description: 'Service Unavailable', message: 'The file service is temporarily unavailable. Nothing was stored; try again shortly.' };
}
