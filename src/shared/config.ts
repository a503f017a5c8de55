// How the construct configures each handler. Lambda@Edge has no environment
// variables, so the edge function gets a staged config.json holding everything it
// needs to redeem; the regional mint function gets plain environment variables.

/** File staged beside the edge handler at synth; holds only concrete values. */
export const EDGE_STAGED_CONFIG_FILE = 'config.json';

/**
 * Contents of the staged config.json: everything a redemption needs, known at synth,
 * so no request ever waits for SSM (Parameter Store's shared 40 TPS default would
 * otherwise turn a burst of cold starts into refusals).
 */
export interface EdgeStagedConfig {
  readonly tableName: string;
  readonly tableRegion: string;
  /** Refuse known link-preview agents without consuming a use. */
  readonly previewProtection: boolean;
  /** Extra user-agent patterns (case-insensitive regular expressions) to treat as previews. */
  readonly previewAgents: string[];
  /**
   * Generation of the origin secrets CloudFront sends. Links carry the generation they
   * were signed under; any other generation cannot pass S3's signature check, so the
   * edge refuses it without spending a use.
   */
  readonly secretGeneration: number;
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
  /** The origin host CloudFront sends to S3: every URL is signed for exactly this host. */
  originDomain: 'OTP_ORIGIN_DOMAIN',
  /** Scheme and host minted URLs point at: `https://` + the distribution domain. */
  publicBaseUrl: 'OTP_PUBLIC_BASE_URL',
  tableName: 'OTP_TABLE_NAME',
  originSecretArn: 'OTP_ORIGIN_SECRET_ARN',
  /** Generation of that secret, signed into every link. */
  secretGeneration: 'OTP_SECRET_GENERATION',
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
  /** How links are signed: a {@link SigningMode}. Unset: the function's own credentials. */
  signingMode: 'OTP_SIGNING_MODE',
  /** key-secret mode: the secret holding the access key pair. */
  signingSecretArn: 'OTP_SIGNING_SECRET_ARN',
  /** signer-role mode: the role the mint assumes to sign. */
  signerRoleArn: 'OTP_SIGNER_ROLE_ARN',
  /** signer-role mode: session length asked of STS, in seconds. @default 3600 */
  signerSessionSeconds: 'OTP_SIGNER_SESSION_SECONDS',
  /** How long signing credentials must outlive a link, in seconds. @default 60; the local deployment compresses it. */
  signingMarginSeconds: 'OTP_SIGNING_MARGIN_SECONDS',
} as const;

/** How the mint signs links (MintEnv.signingMode). */
export const SigningMode = {
  /** An access key pair read from Secrets Manager. */
  KEY_SECRET: 'key-secret',
  /** Credentials of a role assumed through STS, with a known expiration. */
  SIGNER_ROLE: 'signer-role',
  /** The function's own credentials (no mode configured). */
  FUNCTION_ROLE: 'function-role',
} as const;
export type SigningMode = typeof SigningMode[keyof typeof SigningMode];

/** Signing credentials must outlive a link by at least this margin (clock skew between Lambda, STS and S3). */
export const SIGNING_MARGIN_SECONDS = 60;

/**
 * Longest session a role assumed by a Lambda function can have: its credentials come from
 * a role, so assuming another is role chaining, which STS limits to one hour (IAM User
 * Guide, "Role chaining": https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles.html#iam-term-role-chaining).
 */
export const ROLE_CHAINING_MAX_SECONDS = 3600;

/**
 * Longest link a signer role guarantees (LinkSigning.signerRole()). A fresh session lasts an
 * hour (role chaining) and must outlive the link by the signing margin; the rest is slack, so
 * that a session signs the longest links for ten minutes rather than one each (an STS call per
 * link), and a Lambda clock a little ahead of STS's never leaves a fresh session too short.
 */
export const SIGNER_ROLE_MAX_LINK_SECONDS = ROLE_CHAINING_MAX_SECONDS - SIGNING_MARGIN_SECONDS - 9 * 60;

/** Routes of the mint API, as API Gateway route keys. */
export const MINT_ROUTE_KEYS = ['GET /get-url', 'POST /urls'];
/** Routes that read and revoke issued links. */
export const MANAGE_ROUTE_KEYS = ['GET /urls/{id}', 'DELETE /urls/{id}'];

/** Environment variables of the link events publisher. */
export const EventsEnv = {
  /** Name or ARN of the bus link events go to. */
  eventBusName: 'OTP_EVENT_BUS_NAME',
} as const;
