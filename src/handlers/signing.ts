// Which credentials sign a link, and whether they will outlive it.
//
// A presigned URL stops working when the credentials that signed it expire, whatever
// X-Amz-Expires says (AWS knowledge center, "presigned URL expiring before the expiration
// time": temporary credentials end the URL with them). So the mint signs only with
// credentials it can vouch for until the link's expiresAt plus a margin, and refuses to
// issue a link otherwise: never a link that dies while `expiresAt` says it is alive.
//
// Modes (the construct's LinkSigning):
// - key-secret: an IAM user's access key pair held in Secrets Manager (the construct's
//   dedicated key, or one the user brings). Long-term keys do not expire; the secret is
//   read once per container and re-read after a bounded time.
// - signer-role: a role the mint assumes through STS, whose answer says when the session
//   ends. A session too short for the requested lifetime is renewed first.
// - function-role (only when no mode is configured, as in the local deployment's
//   --signing function-role): the function's own credentials. Lambda does not tell a
//   function when its role session ends, so links are issued only when the SDK reports
//   an expiration that outlives them.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { MintEnv, SIGNING_MARGIN_SECONDS, SigningMode } from '../shared/config';

/**
 * The key pair is read once per container and re-read after this long, so a key rotated
 * in place in a secret the user brings reaches every container within this bound.
 */
const SIGNING_SECRET_REFRESH_MS = 5 * 60_000;
/**
 * When a re-read fails (Secrets Manager unreachable, or access already withdrawn from a
 * container of the previous configuration during a deployment), the key pair read last
 * keeps signing for at most this long after it was due for a re-read.
 */
const SIGNING_SECRET_STALE_MS = 15 * 60_000;

/** The mint cannot sign a link it could vouch for: nothing is issued (HTTP 503). */
export class SigningUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningUnavailable';
  }
}

export interface SigningConfig {
  readonly mode: SigningMode;
  /** key-secret: the secret holding `{ "accessKeyId", "secretAccessKey" }`. */
  readonly secretArn?: string;
  /** signer-role: the role to assume. */
  readonly roleArn?: string;
  /** signer-role: DurationSeconds asked of STS. */
  readonly sessionSeconds: number;
  readonly marginSeconds: number;
}

/** Reads the mint's signing configuration from its environment. */
export function signingConfigFromEnv(env: NodeJS.ProcessEnv): SigningConfig {
  const mode = (env[MintEnv.signingMode] ?? SigningMode.FUNCTION_ROLE) as SigningMode;
  if (!Object.values(SigningMode).includes(mode)) throw new Error(`${MintEnv.signingMode} is ${mode}, not a signing mode`);
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set (signing mode ${mode})`);
    return value;
  };
  return {
    mode,
    secretArn: mode === SigningMode.KEY_SECRET ? required(MintEnv.signingSecretArn) : undefined,
    roleArn: mode === SigningMode.SIGNER_ROLE ? required(MintEnv.signerRoleArn) : undefined,
    sessionSeconds: Number(env[MintEnv.signerSessionSeconds] ?? 3600),
    marginSeconds: Number(env[MintEnv.signingMarginSeconds] ?? SIGNING_MARGIN_SECONDS),
  };
}

/** Credentials with the moment they stop working, when anyone knows it (the SDK's credential identity). */
export interface Signing {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

export class LinkSigner {
  private keyPair: { value: Signing; freshUntil: number } | undefined;
  private session: Signing | undefined;
  private renewing: Promise<Signing> | undefined;

  constructor(
    private readonly config: SigningConfig,
    private readonly clients: { readonly secrets: SecretsManagerClient; readonly sts: () => STSClient },
    /** The function's own credentials (the SDK's provider). */
    private readonly functionCredentials: () => Promise<Signing>,
    /** Milliseconds since the epoch (a clock tests can move). */
    private readonly now: () => number = Date.now,
  ) {}

  /** Credentials that stay valid for `lifetimeSeconds` from `nowSeconds`, plus the margin; else SigningUnavailable. */
  async credentialsFor(lifetimeSeconds: number, nowSeconds: number): Promise<Signing> {
    const needed = nowSeconds + lifetimeSeconds + this.config.marginSeconds;
    switch (this.config.mode) {
      case SigningMode.KEY_SECRET: {
        const cached = this.keyPair?.value;
        const pair = await this.loadKeyPair();
        // Temporary credentials in the secret that are too short now may have been replaced
        // there since they were read: read it once more before refusing.
        if (pair === cached && pair.expiration && pair.expiration.getTime() / 1000 < needed) {
          return this.vouch(await this.loadKeyPair(true), lifetimeSeconds, needed);
        }
        return this.vouch(pair, lifetimeSeconds, needed);
      }
      case SigningMode.SIGNER_ROLE: return this.vouch(await this.signerSession(needed), lifetimeSeconds, needed);
      default: return this.vouch(await this.functionCredentials(), lifetimeSeconds, needed);
    }
  }

  private vouch(credentials: Signing, lifetimeSeconds: number, neededUntil: number): Signing {
    const mode = this.config.mode;
    if (credentials.expiration) {
      const ends = Math.floor(credentials.expiration.getTime() / 1000);
      if (ends < neededUntil) {
        throw new SigningUnavailable(`the signing credentials (${mode}) end at ${credentials.expiration.toISOString()}, before a `
          + `${lifetimeSeconds}-second link would (with a ${this.config.marginSeconds}-second margin): no link was issued`);
      }
      return credentials;
    }
    if (credentials.sessionToken) {
      // Temporary credentials that do not say when they end: Lambda's role credentials.
      throw new SigningUnavailable(`the signing credentials (${mode}) are temporary and do not say when they end, so a link could `
        + 'stop working before its expiresAt: no link was issued. Sign with a dedicated key or a signer role (the construct\'s linkSigning)');
    }
    // A long-term access key: it works until someone deactivates or deletes it.
    return credentials;
  }

  private async loadKeyPair(force = false): Promise<Signing> {
    const cached = this.keyPair;
    if (cached && !force && this.now() < cached.freshUntil) return cached.value;
    let secretString: string | undefined;
    try {
      secretString = (await this.clients.secrets.send(new GetSecretValueCommand({ SecretId: this.config.secretArn }))).SecretString;
    } catch (err) {
      if (cached && this.now() < cached.freshUntil + SIGNING_SECRET_STALE_MS) {
        console.log(JSON.stringify({ event: 'signing-secret-stale', error: (err as Error).name }));
        return cached.value;
      }
      throw err;
    }
    const value = parseKeyPair(secretString);
    this.keyPair = { value, freshUntil: this.now() + SIGNING_SECRET_REFRESH_MS };
    return value;
  }

  private async signerSession(neededUntil: number): Promise<Signing> {
    const current = this.session;
    if (current?.expiration && current.expiration.getTime() / 1000 >= neededUntil) return current;
    // One AssumeRole for every request waiting on a renewal.
    this.renewing ??= this.assumeSignerRole().finally(() => { this.renewing = undefined; });
    return this.renewing;
  }

  private async assumeSignerRole(): Promise<Signing> {
    const out = await this.clients.sts().send(new AssumeRoleCommand({
      RoleArn: this.config.roleArn,
      RoleSessionName: 'otp-link-signer',
      DurationSeconds: this.config.sessionSeconds,
    }));
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error('STS AssumeRole returned no credentials');
    this.session = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    return this.session;
  }
}

/**
 * The secret's value: `{ "accessKeyId": "...", "secretAccessKey": "..." }`, optionally with
 * `sessionToken` and `expiration` (ISO 8601) for temporary credentials. Errors never
 * quote the value.
 */
export function parseKeyPair(secretString: string | undefined): Signing {
  const problem = 'the signing secret must be a JSON object with string fields accessKeyId and secretAccessKey';
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    throw new Error(problem);
  }
  const o = parsed as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o.accessKeyId !== 'string' || typeof o.secretAccessKey !== 'string'
    || o.accessKeyId === '' || o.secretAccessKey === '') {
    throw new Error(problem);
  }
  const expiration = typeof o.expiration === 'string' ? new Date(o.expiration) : undefined;
  if (expiration && Number.isNaN(expiration.getTime())) throw new Error('the signing secret\'s expiration must be an ISO 8601 time');
  return {
    accessKeyId: o.accessKeyId,
    secretAccessKey: o.secretAccessKey,
    ...(typeof o.sessionToken === 'string' && o.sessionToken !== '' ? { sessionToken: o.sessionToken } : {}),
    ...(expiration ? { expiration } : {}),
  };
}
