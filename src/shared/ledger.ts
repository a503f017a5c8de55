// The ledger item's shape, shared by the construct (table schema) and both handlers.
// No AWS SDK here: the construct ships this module. The writes themselves live in
// handlers/ledger.ts.

/** Attribute names of a ledger item. The table's partition key is `id`. */
export const Attr = {
  id: 'id',
  key: 'objectKey',
  fingerprint: 'fingerprint',
  maxUses: 'maxUses',
  /**
   * Budget for sessions in `sessions`: starts at maxUses, and each reopened session (a
   * client starting another use) takes one from it. Uses so far = size(sessions) + maxUses - cap.
   */
  cap: 'cap',
  expiresAt: 'expiresAt',
  ttl: 'ttl',
  revoked: 'revoked',
  revokedAt: 'revokedAt',
  createdAt: 'createdAt',
  /**
   * An N-use link's uses so far (its sessions live in the sessions table, see SessionAttr);
   * absent on a one-use link, whose uses are counted by `sessions` and `cap`.
   */
  uses: 'uses',
  /**
   * An N-use link: the request whose write took its latest use, so that the SDK's retry of a
   * write whose answer was lost recognizes its own take instead of taking a second use.
   */
  lastTake: 'lastTake',
  /** Map client key -> the open or last session of that client: who, when, which request opened it. */
  sessions: 'sessions',
  /** Map client key -> epoch seconds until which that client's session continues. */
  sessionUntil: 'sessionUntil',
  /** Map client key -> requests that session has served. */
  sessionRequests: 'sessionRequests',
  /** Map client key -> bytes the session may still be sent (see bytesPerUse). */
  sessionBytes: 'sessionBytes',
  /**
   * Map client key -> the session's latest request `{ r: request id, b: bytes charged }`, so
   * that an origin failure can give back exactly what that request took.
   */
  sessionLast: 'sessionLast',
  /** The object's size in bytes when the link was minted. */
  objectSize: 'objectSize',
  /** Sessions that a later use of the same client closed, oldest first (the audit trail's history). */
  redemptions: 'redemptions',
  /** Who minted the link (see {@link Redemption} for who used it). */
  owner: 'owner',
  /**
   * A protected link's passphrase as the KDF derived it (shared/passphrase.ts): the only
   * place it lives. Only the button's conditional write compares it; nothing reads it out.
   */
  passphraseHash: 'passphraseHash',
  /** Wrong passphrases a protected link still takes; at 0 it is locked (every try refused). */
  passphraseTriesLeft: 'passphraseTriesLeft',
  /** `upload` for an upload link; absent for a download link. */
  kind: 'kind',
  /**
   * An upload link's state: `open` (waiting), `uploading` (one PUT took it), `uploaded`, or
   * `conflict` (S3 refused its PUT because the key holds an object it did not write).
   */
  uploadState: 'uploadState',
  /** Epoch seconds after which an `uploading` link that never heard back may be taken again. */
  uploadUntil: 'uploadUntil',
  /** The PUT that took an upload link: `{ at, ip, userAgent, requestId, bytes }`. */
  uploader: 'uploader',
  /** An upload link's required media type (absent: any). */
  contentType: 'contentType',
  /** ISO-8601 time S3 stored the upload. */
  uploadedAt: 'uploadedAt',
  /** Bytes S3 stored. */
  uploadedSize: 'uploadedSize',
} as const;

/** States of an upload link (Attr.uploadState). */
export const UploadState = { open: 'open', uploading: 'uploading', uploaded: 'uploaded', conflict: 'conflict' } as const;

/**
 * The most uses one link may have. Every successful redemption appends one audit
 * record, so this also bounds the audit trail: 100 records of at most ~600 bytes
 * keep an item far below DynamoDB's 400 KB limit.
 */
export const MAX_USES_LIMIT = 100;
/** User agents are cut to this many characters in the audit trail. */
export const MAX_AUDIT_USER_AGENT = 512;

/** Who redeemed a link, recorded on its ledger item: one record per use. */
export interface Redemption {
  /** ISO-8601 time of the redemption. */
  readonly at: string;
  readonly ip: string;
  readonly userAgent: string;
  /** CloudFront's id of the viewer request that redeemed the use. */
  readonly requestId: string;
}

/** One use as `GET /urls/{id}` shows it: who redeemed it and the download session it opened. */
export interface UseRecord extends Redemption {
  /** ISO-8601 end of the session's window: until then, that client's Range requests continue it. */
  readonly sessionUntil: string;
  /** Requests the session served, the redeeming one included. */
  readonly requests: number;
}

/**
 * Most requests one download session serves (a media player or download manager fetching
 * in ranges makes many; a bound keeps a leaked session from serving forever).
 */
export const MAX_SESSION_REQUESTS = 1000;

/** The table's partition key and its TTL attribute, for the construct. */
export const LEDGER_PARTITION_KEY = Attr.id;
export const LEDGER_TTL_ATTRIBUTE = Attr.ttl;

/**
 * The sessions table: one item per download session of an N-use link (`x-link-uses` above 1),
 * so that each request writes one small item whatever the link's history: a continuation
 * rewrites its session's item, a new use counts itself on the link's item (which holds no
 * sessions) and adds its own. Items are small (about 1 KB with a 512-character user agent), so
 * each write costs one write unit. The session of a link's first use by a holder is
 * `<holder>.001`, its next one `<holder>.002`: earlier sessions stay, so the audit trail is
 * every item of the link.
 */
export const SessionAttr = {
  /** Partition key: the link id. */
  link: 'link',
  /** Sort key: `<holder key>.<generation, 3 digits>`. */
  session: 'session',
  /** The link's fingerprint: a tampered URL cannot continue the real link's session. */
  fingerprint: Attr.fingerprint,
  /** The object key the link's item recorded at mint: what a continuation reads back. */
  key: Attr.key,
  /** Epoch seconds until which the session continues (never past the link's expiry). */
  until: 'until',
  /** Requests the session has served. */
  requests: 'requests',
  /** Bytes the session may still be sent. */
  bytes: 'bytes',
  /** The session's latest request `{ r, b }` (see Attr.sessionLast). */
  last: 'last',
  /** Who opened the session: the use's audit record (a {@link Redemption}). */
  record: 'record',
  /** The link's uses counted when this one was taken (1 for its first). */
  use: 'use',
  /** The link's uses and expiry, for the Link Redeemed event this item's creation means. */
  maxUses: Attr.maxUses,
  expiresAt: Attr.expiresAt,
  owner: Attr.owner,
  /** Set when the link is revoked: its open sessions stop too. */
  revoked: Attr.revoked,
  ttl: Attr.ttl,
} as const;

/** The sessions table's keys and TTL attribute, for the construct. */
export const SESSIONS_PARTITION_KEY = SessionAttr.link;
export const SESSIONS_SORT_KEY = SessionAttr.session;
export const SESSIONS_TTL_ATTRIBUTE = SessionAttr.ttl;

/** The sessions table's name beside a ledger named `ledgerTableName`. */
export function sessionsTableNameFor(ledgerTableName: string): string {
  return `${ledgerTableName}-sessions`;
}

/**
 * How long an item outlives its link before DynamoDB TTL may delete it, so the
 * ledger can still answer "used" rather than "unknown" for a while.
 */
export const LEDGER_RETENTION_SECONDS = 7 * 24 * 3600;


/** The public view of a ledger item (what `GET /urls/{id}` returns). */
export interface LinkStatus {
  readonly id: string;
  readonly key: string;
  readonly maxUses: number;
  readonly uses: number;
  readonly expiresAt: string;
  readonly revoked: boolean;
  /** The object's size in bytes when the link was minted. */
  readonly size?: number;
  /** Who minted the link: `iam:<principal ARN>`, `jwt:<issuer>#<subject>`, or absent for an open API. */
  readonly owner?: string;
  /** One record per use, oldest first, with the download session each opened. */
  readonly redemptions: UseRecord[];
  /** `true` for a passphrase-protected link (absent otherwise). The passphrase and its hash are never shown. */
  readonly passphraseProtected?: boolean;
  /** A protected link: whether too many wrong passphrases locked it (every later try is refused). */
  readonly locked?: boolean;
  /** A protected link: wrong passphrases it still takes before it locks. */
  readonly passphraseTriesLeft?: number;
  /** `download` or `upload`. */
  readonly kind?: 'download' | 'upload';
  /** An upload link: whether S3 stored its file. */
  readonly uploaded?: boolean;
  /**
   * An upload link: `open`, `uploading` (a PUT is on its way to S3), `uploaded`, or `conflict`
   * (the key held an object this link did not write: nothing was replaced, the link is closed).
   */
  readonly uploadState?: 'open' | 'uploading' | 'uploaded' | 'conflict';
  /** An upload link: the most bytes it takes. */
  readonly maxBytes?: number;
  /** An upload link: the media type it requires, if any. */
  readonly contentType?: string;
  /** An upload link that received its file: bytes stored. */
  readonly receivedBytes?: number;
  /** An upload link that received its file: ISO-8601 time S3 stored it. */
  readonly uploadedAt?: string;
}
