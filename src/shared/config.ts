// How the construct configures each handler. Lambda@Edge has no environment
// variables, so the edge function gets a staged config.json pointing at an SSM
// parameter; the regional mint function gets plain environment variables.

/** File staged beside the edge handler at synth; holds only concrete values. */
export const EDGE_STAGED_CONFIG_FILE = 'config.json';

/** Contents of the staged config.json. */
export interface EdgeStagedConfig {
  /** Name of the SSM parameter holding {@link EdgeRuntimeConfig}. */
  readonly parameterName: string;
  /** Region of that parameter (the construct's stack region). */
  readonly parameterRegion: string;
}

/** Value of the SSM parameter (may contain deploy-time values such as the table name). */
export interface EdgeRuntimeConfig {
  readonly tableName: string;
  readonly tableRegion: string;
  /** Refuse known link-preview agents without consuming a use. */
  readonly previewProtection: boolean;
  /** Extra user-agent patterns (case-insensitive regular expressions) to treat as previews. */
  readonly previewAgents: string[];
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
  defaultExpiresSeconds: 'OTP_DEFAULT_EXPIRES_SECONDS',
  maxExpiresSeconds: 'OTP_MAX_EXPIRES_SECONDS',
  defaultMaxUses: 'OTP_DEFAULT_MAX_USES',
  maxUsesLimit: 'OTP_MAX_USES_LIMIT',
  /** JSON array of key prefixes links may be minted for ("" allows the whole bucket). */
  allowedKeyPrefixes: 'OTP_ALLOWED_KEY_PREFIXES',
} as const;

/** Routes of the mint API, as API Gateway route keys. */
export const MINT_ROUTE_KEYS = ['GET /get-url', 'POST /urls'];
/** Routes that read and revoke issued links. */
export const MANAGE_ROUTE_KEYS = ['GET /urls/{id}', 'DELETE /urls/{id}'];
