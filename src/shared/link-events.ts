// Link events: what the construct publishes to EventBridge when a link changes, shared
// by the events handler (which builds them), the construct (rules) and the local deployment.

/** `source` of every link event. */
export const LINK_EVENT_SOURCE = 'cdk-one-time-presigned-url';

/** `detail-type` of each link event. */
export const LinkEventType = {
  issued: 'Link Issued',
  redeemed: 'Link Redeemed',
  usedUp: 'Link Used Up',
  revoked: 'Link Revoked',
  /** Too many wrong passphrases locked a protected link. */
  locked: 'Link Locked',
  /** An upload link received its file (S3 stored it). */
  uploadReceived: 'Upload Received',
} as const;

/** Version of the `detail` shape; a breaking change to it gets a new version. */
export const LINK_EVENT_DETAIL_VERSION = '1';

/**
 * `detail` of a link event (version 1). Every event carries the link's state after the
 * change; `Link Redeemed` also says who redeemed the use.
 */
export interface LinkEventDetail {
  readonly version: typeof LINK_EVENT_DETAIL_VERSION;
  /**
   * Stable across redeliveries of the same change (the stream record's sequence number
   * and the event's index within it): delivery is at least once, so dedupe on it.
   */
  readonly eventId: string;
  readonly id: string;
  readonly key: string;
  readonly uses: number;
  readonly maxUses: number;
  /** ISO-8601. */
  readonly expiresAt: string;
  readonly revoked: boolean;
  /** Who minted the link, when the API knew. */
  readonly owner?: string;
  /** `Link Redeemed`: ISO-8601 time of the redeeming request. */
  readonly at?: string;
  /** `Link Redeemed`: the viewer's address. */
  readonly ip?: string;
  /** `Link Redeemed`: the viewer's User-Agent (at most 512 characters). */
  readonly userAgent?: string;
  /** `Link Redeemed`: CloudFront's id of the redeeming request. */
  readonly requestId?: string;
  /** `upload` for an upload link (absent for a download link). */
  readonly kind?: 'upload';
  /** `Upload Received`: bytes stored. */
  readonly size?: number;
  /** `Upload Received`: the Content-Type the file was stored with. */
  readonly contentType?: string;
}

/** One event ready for PutEvents (without the bus, which the publisher adds). */
export interface LinkEvent {
  readonly detailType: string;
  readonly detail: LinkEventDetail;
}
