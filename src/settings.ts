// The construct's props validated and defaulted before anything is created: each error
// names the prop and the value.
import { Arn, ArnFormat, Duration, RemovalPolicy, Size, SizeRoundingBehavior, Token, aws_apigatewayv2 as apigwv2, aws_lambda as lambda } from 'aws-cdk-lib';
import type { OneTimePresignedDistributionProps } from './one-time-presigned-distribution';
import {
  DEFAULT_LANDING_PAGE_TITLE, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PASSPHRASE_ATTEMPTS, EDGE_OPERATOR_REFRESH_SECONDS, MAX_LINK_LIFETIME_SECONDS,
  MAX_PASSPHRASE_ATTEMPTS, MAX_UPLOAD_BYTES_LIMIT,
} from './shared/config';
import { corsOriginProblem } from './shared/cors';
import { MAX_USES_LIMIT, sessionsTableNameFor } from './shared/ledger';
import { MAX_DOWNLOAD_WINDOW_SECONDS, MAX_KEY_BYTES } from './shared/link';
import { previewPatternProblem } from './shared/preview';

/** Props validated and defaulted, in the form the construct uses them. */
export interface Settings {
  readonly runtime: lambda.Runtime;
  readonly removalPolicy: RemovalPolicy;
  readonly ledgerRemovalPolicy: RemovalPolicy;
  readonly ledgerTableName: string | undefined;
  readonly downloadWindowSeconds: number;
  readonly landingPage: boolean;
  readonly landingPageTitle: string;
  readonly defaultSeconds: number;
  readonly maxSeconds: number;
  readonly defaultMaxUses: number;
  readonly maxUsesLimit: number;
  readonly allowedKeyPrefixes: string[];
  readonly previewAgents: string[];
  readonly publicDomain: string | undefined;
  readonly throttle: apigwv2.ThrottleSettings;
  /** Origins of browser callers of the links API; undefined: no CORS. */
  readonly corsAllowedOrigins: string[] | undefined;
  /** Mean seconds between two reads of the operator parameter by one edge container. */
  readonly operatorRefreshSeconds: number;
  /** Wrong passphrases a protected link takes before it locks. */
  readonly passphraseAttempts: number;
  /** Key prefixes upload links may be minted for; `[]`: no upload links. */
  readonly uploadKeyPrefixes: string[];
  /** Largest file an upload link takes, in bytes. */
  readonly maxUploadBytes: number;
  /** GuardDuty Malware Protection for S3 scans what arrives under `uploadKeyPrefixes`. */
  readonly scanUploads: boolean;
}

/** Most object prefixes one Malware Protection plan takes ("Capabilities of Malware Protection for S3", GuardDuty User Guide). */
export const MAX_SCANNED_PREFIXES = 5;

/** Bounds of operatorRefreshInterval: reads no more often than every 10 s, switches applied within the hour. */
const OPERATOR_REFRESH_BOUNDS = { min: 10, max: 3600 };

/** Validates every prop before anything is created; each error names the prop and the value. */
export function resolveSettings(props: OneTimePresignedDistributionProps): Settings {
  const runtime = props.runtime ?? lambda.Runtime.NODEJS_24_X;
  validateRuntime(runtime);
  const throttle = props.mintThrottle ?? { rateLimit: 50, burstLimit: 100 };
  validateThrottle(throttle);
  return {
    runtime,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    ledgerRemovalPolicy: validateLedgerRemovalPolicy(props.ledgerRemovalPolicy ?? RemovalPolicy.DESTROY),
    ledgerTableName: validateTableName(props.ledgerTableName),
    downloadWindowSeconds: validateDownloadWindow(props.downloadWindow ?? Duration.minutes(30)),
    landingPage: props.landingPage ?? false,
    landingPageTitle: validateLandingPageTitle(props.landingPageTitle ?? DEFAULT_LANDING_PAGE_TITLE),
    ...validateLifetimes(props),
    ...validateUses(props),
    allowedKeyPrefixes: validateAllowedPrefixes(props.allowedKeyPrefixes ?? ['']),
    previewAgents: validatePreviewAgents(props.additionalPreviewAgents ?? []),
    publicDomain: validateDomain(props),
    throttle,
    corsAllowedOrigins: validateCorsOrigins(props.corsAllowedOrigins),
    operatorRefreshSeconds: validateOperatorRefresh(props.operatorRefreshInterval ?? Duration.seconds(EDGE_OPERATOR_REFRESH_SECONDS)),
    passphraseAttempts: validatePassphraseAttempts(props.passphraseAttempts ?? DEFAULT_PASSPHRASE_ATTEMPTS),
    ...validateUploads(props),
  };
}

function validateUploads(props: OneTimePresignedDistributionProps): { uploadKeyPrefixes: string[]; maxUploadBytes: number; scanUploads: boolean } {
  const uploadKeyPrefixes = validateKeyPrefixes('uploadKeyPrefixes', props.uploadKeyPrefixes ?? []);
  const maxUploadBytes = validateMaxUploadBytes(props.maxUploadBytes ?? Size.bytes(DEFAULT_MAX_UPLOAD_BYTES));
  const scanUploads = props.scanUploads ?? false;
  if (scanUploads && uploadKeyPrefixes.length === 0) {
    throw new Error('scanUploads needs uploadKeyPrefixes: GuardDuty scans what upload links receive, and without uploadKeyPrefixes there are none; '
      + `got scanUploads true and uploadKeyPrefixes ${JSON.stringify(props.uploadKeyPrefixes ?? [])}`);
  }
  if (scanUploads && uploadKeyPrefixes.length > MAX_SCANNED_PREFIXES) {
    throw new Error(`scanUploads scans at most ${MAX_SCANNED_PREFIXES} prefixes (a GuardDuty Malware Protection plan's limit), so uploadKeyPrefixes `
      + `may name at most ${MAX_SCANNED_PREFIXES} with it; got ${JSON.stringify(uploadKeyPrefixes)}`);
  }
  return { uploadKeyPrefixes, maxUploadBytes, scanUploads };
}

function validateMaxUploadBytes(size: Size): number {
  // Written into the mint function's environment: a concrete whole number of bytes. The
  // upper bound is S3's largest single PUT, 5 GiB ("Uploading objects", Amazon S3 User
  // Guide): an upload link takes one PUT, never a multipart upload.
  const bytes = size.isUnresolved() ? NaN : size.toBytes({ rounding: SizeRoundingBehavior.NONE });
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_UPLOAD_BYTES_LIMIT) {
    throw new Error(`maxUploadBytes must be a whole number of bytes between 1 and ${MAX_UPLOAD_BYTES_LIMIT} (5 GiB, S3's largest single PUT); `
      + `got ${size.isUnresolved() ? 'a token' : `${bytes} bytes`}`);
  }
  return bytes;
}

function validatePassphraseAttempts(attempts: number): number {
  // Written into the mint function's environment and recorded on each link: a concrete number.
  if (Token.isUnresolved(attempts) || !Number.isInteger(attempts) || attempts < 1 || attempts > MAX_PASSPHRASE_ATTEMPTS) {
    throw new Error(`passphraseAttempts must be an integer between 1 and ${MAX_PASSPHRASE_ATTEMPTS}; got ${Token.isUnresolved(attempts) ? 'a token' : attempts}`);
  }
  return attempts;
}

function validateOperatorRefresh(interval: Duration): number {
  // Staged into the edge function's config.json, which holds only concrete values.
  const seconds = interval.isUnresolved() ? NaN : interval.toSeconds({ integral: false });
  const { min, max } = OPERATOR_REFRESH_BOUNDS;
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new Error(`operatorRefreshInterval must be a concrete whole number of seconds between ${min} and ${max} (an hour); got ${interval.isUnresolved() ? 'a token' : interval.toHumanString()}`);
  }
  return seconds;
}

function validateCorsOrigins(origins: string[] | undefined): string[] | undefined {
  if (origins === undefined) return undefined;
  if (origins.length === 0) {
    throw new Error('corsAllowedOrigins must name at least one origin (leave it out for no CORS); got []');
  }
  for (const origin of origins) {
    if (Token.isUnresolved(origin)) continue;
    const problem = corsOriginProblem(origin);
    if (problem) {
      throw new Error(`corsAllowedOrigins entries must be origins, scheme://host[:port] with no path; got ${JSON.stringify(origin)} (${problem})`);
    }
  }
  return origins;
}

function validateAllowedPrefixes(prefixes: string[]): string[] {
  if (prefixes.length === 0) {
    throw new Error('allowedKeyPrefixes must name at least one prefix ([\'\'] allows the whole bucket); got []');
  }
  return validateKeyPrefixes('allowedKeyPrefixes', prefixes);
}

/** Prefixes become IAM resources (`prefix*`) and are written into the mint's environment: concrete and literal. */
function validateKeyPrefixes(name: string, prefixes: string[]): string[] {
  for (const prefix of prefixes) {
    if (Token.isUnresolved(prefix)) throw new Error(`${name} must be concrete strings; got ${prefix}`);
    if (/[*?]/.test(prefix) || Buffer.byteLength(prefix, 'utf8') > MAX_KEY_BYTES) {
      throw new Error(`${name} entries must be literal key prefixes of at most ${MAX_KEY_BYTES} bytes, without * or ?; got ${JSON.stringify(prefix)}`);
    }
  }
  return prefixes;
}

function validateUses(props: OneTimePresignedDistributionProps): { defaultMaxUses: number; maxUsesLimit: number } {
  const maxUsesLimit = props.maxUsesLimit ?? 10;
  if (!Number.isInteger(maxUsesLimit) || maxUsesLimit < 1 || maxUsesLimit > MAX_USES_LIMIT) {
    throw new Error(`maxUsesLimit must be an integer between 1 and ${MAX_USES_LIMIT}; got ${maxUsesLimit}`);
  }
  const defaultMaxUses = props.defaultMaxUses ?? 1;
  if (!Number.isInteger(defaultMaxUses) || defaultMaxUses < 1 || defaultMaxUses > maxUsesLimit) {
    throw new Error(`defaultMaxUses must be an integer between 1 and maxUsesLimit (${maxUsesLimit}); got ${defaultMaxUses}`);
  }
  return { defaultMaxUses, maxUsesLimit };
}

function validatePreviewAgents(patterns: string[]): string[] {
  for (const pattern of patterns) {
    if (Token.isUnresolved(pattern)) throw new Error(`additionalPreviewAgents must be concrete strings; got ${pattern}`);
    const problem = previewPatternProblem(pattern);
    if (problem) {
      throw new Error(`additionalPreviewAgents entries must be regular expressions that match some user agent and not the empty string; got ${JSON.stringify(pattern)} (${problem})`);
    }
  }
  return patterns;
}

function validateLedgerRemovalPolicy(policy: RemovalPolicy): RemovalPolicy {
  if (policy !== RemovalPolicy.DESTROY && policy !== RemovalPolicy.RETAIN && policy !== RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE) {
    throw new Error(`ledgerRemovalPolicy must be RemovalPolicy.DESTROY, RETAIN or RETAIN_ON_UPDATE_OR_DELETE (DynamoDB tables have no snapshots); got ${policy}`);
  }
  return policy;
}

/** DynamoDB's longest table name ("Supported data types and naming rules", DynamoDB Developer Guide). */
const MAX_TABLE_NAME_LENGTH = 255;
/** Longest ledgerTableName: the sessions table beside it is named with a suffix. */
const MAX_LEDGER_TABLE_NAME_LENGTH = MAX_TABLE_NAME_LENGTH - sessionsTableNameFor('').length;

function validateTableName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  // The edge function's staged configuration needs the name itself, not a token; and the
  // sessions table's name, `<name>-sessions`, must be a table name too.
  if (Token.isUnresolved(name) || !new RegExp(`^[A-Za-z0-9_.-]{3,${MAX_LEDGER_TABLE_NAME_LENGTH}}$`).test(name)) {
    throw new Error(`ledgerTableName must be a concrete DynamoDB table name of 3 to ${MAX_LEDGER_TABLE_NAME_LENGTH} letters, digits, '_', '-' or '.' `
      + `(the sessions table beside it is named ${JSON.stringify(sessionsTableNameFor('<ledgerTableName>'))}, and table names have at most `
      + `${MAX_TABLE_NAME_LENGTH} characters); got ${JSON.stringify(name)}`);
  }
  return name;
}

function validateDownloadWindow(window: Duration): number {
  if (window.isUnresolved()) throw new Error('downloadWindow must be a concrete duration; got a token');
  const seconds = window.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_DOWNLOAD_WINDOW_SECONDS) {
    throw new Error(`downloadWindow must be a whole number of seconds between 0 and ${MAX_DOWNLOAD_WINDOW_SECONDS} (a day); got ${window.toHumanString()}`);
  }
  return seconds;
}

function validateLandingPageTitle(title: string): string {
  if (Token.isUnresolved(title) || title.trim() === '' || title.length > 120 || /[\u0000-\u001f]/.test(title)) {
    throw new Error(`landingPageTitle must be a concrete, non-empty line of at most 120 characters; got ${JSON.stringify(title)}`);
  }
  return title;
}

function validateDomain(props: OneTimePresignedDistributionProps): string | undefined {
  const names = props.domainNames ?? [];
  if (names.length > 0 && !props.certificate) {
    throw new Error(`domainNames needs a certificate (in us-east-1) covering them; got domainNames ${JSON.stringify(names)} and no certificate`);
  }
  if (props.certificate && names.length === 0) {
    throw new Error('certificate is only used with domainNames; got a certificate and no domainNames');
  }
  const arn = props.certificate?.certificateArn;
  if (arn && !Token.isUnresolved(arn)) {
    const region = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).region;
    if (region && region !== 'us-east-1') {
      throw new Error(`certificate must be in us-east-1 for CloudFront; got ${arn}`);
    }
  }
  return names[0];
}

function validateThrottle(throttle: apigwv2.ThrottleSettings): void {
  for (const [name, value] of Object.entries(throttle)) {
    if (value !== undefined && !Token.isUnresolved(value) && !(Number.isFinite(value) && value >= 0)) {
      throw new Error(`mintThrottle.${name} must be a non-negative number; got ${value}`);
    }
  }
}

function validateRuntime(runtime: lambda.Runtime): void {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (runtime.family !== lambda.RuntimeFamily.NODEJS || major === undefined || Number(major) < 20) {
    throw new Error(`runtime must be a Node.js runtime, version 20 or later (for example lambda.Runtime.NODEJS_24_X); got ${runtime.name}`);
  }
}

function validateLifetimes(props: OneTimePresignedDistributionProps): { defaultSeconds: number; maxSeconds: number } {
  const seconds = (name: string, d: Duration, max: number, limit: string): number => {
    if (d.isUnresolved()) {
      throw new Error(`${name} must be a concrete duration (it is written into the mint function's configuration); got a token`);
    }
    const s = d.toSeconds({ integral: false });
    if (!Number.isInteger(s) || s < 1 || s > max) {
      throw new Error(`${name} must be a whole number of seconds between 1 and ${max} (${limit}); got ${d.toHumanString()}`);
    }
    return s;
  };
  // The ledger ends a link at its expiresAt, and the edge signs each origin request
  // afresh with its own role: no credential limits how long a link lives.
  const maxSeconds = seconds('maxLinkLifetime', props.maxLinkLifetime ?? Duration.hours(1), MAX_LINK_LIFETIME_SECONDS, '365 days');
  const defaultSeconds = seconds('defaultLinkLifetime', props.defaultLinkLifetime ?? Duration.seconds(Math.min(900, maxSeconds)),
    maxSeconds, `maxLinkLifetime${props.maxLinkLifetime === undefined ? ', 1 hour by default' : ''}`);
  return { defaultSeconds, maxSeconds };
}
