// How the construct configures each handler. Lambda@Edge has no environment
// variables, so the edge function gets a staged config.json holding everything it
// needs to redeem; the regional mint function gets plain environment variables.

/**
 * The edge function's whole-invocation budget: well inside the 5 s viewer-request limit, so it
 * answers 503 itself. A revocation waits it out for a take still writing its session.
 */
export const EDGE_BUDGET_MS = 3500;

/** File staged beside the edge handler at synth; holds only concrete values. */
export const EDGE_STAGED_CONFIG_FILE = 'config.json';

/**
 * Contents of the staged config.json: everything a redemption needs, known at synth,
 * so no request ever waits for SSM (Parameter Store's shared 40 TPS default would
 * otherwise turn a burst of cold starts into refusals).
 */
export interface EdgeStagedConfig {
  readonly tableName: string;
  /** The sessions table of N-use links (shared/ledger.ts SessionAttr), in the ledger's region. */
  readonly sessionsTableName: string;
  readonly tableRegion: string;
  /** Refuse known link-preview agents without consuming a use. */
  readonly previewProtection: boolean;
  /** Extra user-agent patterns (case-insensitive regular expressions) to treat as previews. */
  readonly previewAgents: string[];
  /**
   * Region of the bucket: the edge signs each origin request to S3 for this region
   * (the construct's stack region for a bucket it creates).
   */
  readonly bucketRegion: string;
  /** Heading of landing pages (and their OpenGraph title). */
  readonly landingPageTitle: string;
  /** Whether landing pages show the file name (the key's last segment). */
  readonly landingPageShowsFileName: boolean;
  /** SSM parameter holding {@link EdgeOperatorConfig}, read off the request path. */
  readonly parameterName: string;
  /** Region of that parameter (the construct's stack region). */
  readonly parameterRegion: string;
  /** Mean time between two reads of that parameter by one container, in seconds ({@link nextOperatorRead}). */
  readonly operatorRefreshSeconds: number;
  /**
   * Value of the download metrics' `Distribution` dimension (src/shared/download-metrics.ts):
   * the edge publishes one embedded-metric record per request it decides, under this id.
   */
  readonly metricsId: string;
}

/**
 * What operators may change at runtime without redeploying the edge function: the
 * value of the SSM parameter. Each container reads it in the background and applies a
 * change at its next read, due every `operatorRefreshSeconds` ± 20 % ({@link nextOperatorRead});
 * until the first read succeeds, and whenever a read fails, the last good value (or the
 * defaults: not paused, no extra agents) applies.
 */
export interface EdgeOperatorConfig {
  /** Refuse every download with 503 without spending uses (an incident switch). */
  readonly paused?: boolean;
  /** More preview agent patterns, on top of the staged ones. */
  readonly previewAgents?: string[];
}

/** The landing page's heading unless the construct sets another. */
export const DEFAULT_LANDING_PAGE_TITLE = 'A file was shared with you';

/** How often a warm edge container re-reads the operator parameter, unless the construct says otherwise. */
export const EDGE_OPERATOR_REFRESH_SECONDS = 60;

/** After failed reads the wait doubles up to this (or to the interval, if that is longer). */
export const EDGE_OPERATOR_BACKOFF_CAP_SECONDS = 300;

/**
 * When an edge container reads the operator parameter next, in ms since the epoch. Every
 * container of the fleet reads the one parameter in the stack's region, against the
 * account's GetParameter quota there, so reads are spread, never in step:
 * - after a read that succeeded (`failures` 0): `intervalSeconds` ± 20 %, uniformly, so the
 *   fleet averages one read per container per interval, and containers started together
 *   (a deployment, a burst of cold starts) drift apart;
 * - after `failures` reads in a row that failed (throttled, slow, unreachable): twice the
 *   interval, doubling with each failure up to 5 minutes (or the interval if longer), ± 20 %:
 *   a throttled fleet reads less, not more.
 *
 * `random` is a number in [0, 1) (`Math.random()`): pure, so the schedule can be tested.
 */
export function nextOperatorRead(now: number, failures: number, random: number, intervalSeconds = EDGE_OPERATOR_REFRESH_SECONDS): number {
  const cap = Math.max(intervalSeconds, EDGE_OPERATOR_BACKOFF_CAP_SECONDS);
  const nominal = failures <= 0 ? intervalSeconds : Math.min(intervalSeconds * 2 ** Math.min(failures, 30), cap);
  return now + Math.round(nominal * (0.8 + 0.4 * random) * 1000);
}

/** Environment variables of the mint function. */
export const MintEnv = {
  bucketName: 'OTP_BUCKET_NAME',
  bucketRegion: 'OTP_BUCKET_REGION',
  /** Scheme and host minted URLs point at: `https://` + the distribution domain. */
  publicBaseUrl: 'OTP_PUBLIC_BASE_URL',
  tableName: 'OTP_TABLE_NAME',
  /** The sessions table of N-use links: the status lists their sessions, revoking stops them. */
  sessionsTableName: 'OTP_SESSIONS_TABLE_NAME',
  defaultExpiresSeconds: 'OTP_DEFAULT_EXPIRES_SECONDS',
  maxExpiresSeconds: 'OTP_MAX_EXPIRES_SECONDS',
  defaultMaxUses: 'OTP_DEFAULT_MAX_USES',
  maxUsesLimit: 'OTP_MAX_USES_LIMIT',
  /** JSON array of key prefixes links may be minted for ("" allows the whole bucket). */
  allowedKeyPrefixes: 'OTP_ALLOWED_KEY_PREFIXES',
  /** Download window of a link when the caller does not ask for one, in seconds. */
  defaultWindowSeconds: 'OTP_DEFAULT_DOWNLOAD_WINDOW_SECONDS',
  /** `true` when links open a landing page unless the caller says otherwise. */
  defaultLandingPage: 'OTP_DEFAULT_LANDING_PAGE',
  /** Wrong passphrases a protected link takes before it locks (recorded on each link at mint). */
  passphraseAttempts: 'OTP_PASSPHRASE_ATTEMPTS',
  /** JSON array of key prefixes upload links may be minted for (`[]`: no upload links). */
  uploadKeyPrefixes: 'OTP_UPLOAD_KEY_PREFIXES',
  /** Largest body an upload link may take, in bytes (and its default `maxBytes`). */
  maxUploadBytes: 'OTP_MAX_UPLOAD_BYTES',
} as const;

/** Largest upload a link takes unless the construct says otherwise: 100 MiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** S3's largest single PUT: 5 GiB ("Uploading objects", Amazon S3 User Guide). */
export const MAX_UPLOAD_BYTES_LIMIT = 5 * 1024 * 1024 * 1024;

/** Wrong passphrases a protected link takes before it locks, unless the construct says otherwise. */
export const DEFAULT_PASSPHRASE_ATTEMPTS = 5;
/** Most wrong passphrases the construct lets a link take. */
export const MAX_PASSPHRASE_ATTEMPTS = 100;

/**
 * Longest lifetime a link may have (`maxLinkLifetime`, and `expiresInSeconds` of `POST /urls`
 * at most): 365 days. The ledger enforces expiry; the edge signs each origin request afresh,
 * so nothing about a link's credentials limits how long it lives.
 */
export const MAX_LINK_LIFETIME_SECONDS = 365 * 24 * 3600;

/** Routes of the mint API, as API Gateway route keys. */
export const MINT_ROUTE_KEYS = ['GET /get-url', 'POST /urls', 'POST /uploads'];
/** Routes that read and revoke issued links. */
export const MANAGE_ROUTE_KEYS = ['GET /urls/{id}', 'DELETE /urls/{id}'];

/** Environment variables of the link events publisher. */
export const EventsEnv = {
  /** Name or ARN of the bus link events go to. */
  eventBusName: 'OTP_EVENT_BUS_NAME',
} as const;
