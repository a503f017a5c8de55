// A local OpenID-style token issuer (an RSA key pair, its JWKS, RS256 compact JWTs) and
// the JWT checks an API Gateway HTTP API JWT authorizer makes. node:crypto only.
//
// Validation follows "Control access to HTTP APIs with JWT authorizers in API Gateway",
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
// (token from the identity source, optionally prefixed "Bearer "; RSA algorithms only; kid
// must name a key of the issuer's JWKS; iss = the configured issuer; aud, or client_id
// only when aud is absent, must match an audience entry; exp after now; nbf and iat
// before now; scope or scp must hold one of the route's authorization scopes).
import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** A public RSA signing key as a JWKS lists it (RFC 7517). */
export interface Jwk {
  readonly kty: 'RSA';
  readonly n: string;
  readonly e: string;
  readonly kid: string;
  readonly alg?: string;
  readonly use?: string;
}

export interface Jwks {
  readonly keys: readonly Jwk[];
}

export interface LocalJwtIssuerOptions {
  /** @default 'https://issuer.local.test' */
  readonly issuer?: string;
  /** @default 'otp-local-api' */
  readonly audience?: string;
}

export interface SignOptions {
  /** exp = now + this; negative values make tokens that have already expired. @default 3600 */
  readonly expiresInSeconds?: number;
  /** The header's kid. @default this issuer's key id */
  readonly kid?: string;
}

export interface LocalJwtIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** The id of the signing key (its RFC 7638 thumbprint). */
  readonly kid: string;
  /** The issuer's public keys, as served at its jwks_uri. */
  readonly jwks: Jwks;
  /**
   * An RS256 compact JWT. Defaults iss, aud, iat and exp; claims given here override
   * them, and a claim set to `undefined` is left out (e.g. `{ aud: undefined }`).
   */
  sign(claims?: Readonly<Record<string, unknown>>, opts?: SignOptions): string;
}

export function createLocalJwtIssuer(opts: LocalJwtIssuerOptions = {}): LocalJwtIssuer {
  const issuer = opts.issuer ?? 'https://issuer.local.test';
  const audience = opts.audience ?? 'otp-local-api';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  // RFC 7638 thumbprint: sha256 over the required members in lexicographic order.
  const kid = createHash('sha256').update(JSON.stringify({ e, kty: 'RSA', n })).digest('base64url');
  const jwks: Jwks = { keys: [{ kty: 'RSA', n, e, kid, alg: 'RS256', use: 'sig' }] };
  return {
    issuer,
    audience,
    kid,
    jwks,
    sign: (claims = {}, signOpts = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: issuer, aud: audience, iat: now, exp: now + (signOpts.expiresInSeconds ?? 3600), ...claims };
      return signJwt({ alg: 'RS256', typ: 'JWT', kid: signOpts.kid ?? kid }, payload, privateKey);
    },
  };
}

/** Encodes a header and payload and signs them RS256 with `key`. */
function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${cryptoSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export interface JwtAuthorizerConfig {
  /** Must equal the token's iss. */
  readonly issuer: string;
  /** The token's aud (or client_id when it has no aud) must match one of these. */
  readonly audience: string | readonly string[];
  /** The issuer's keys; read on every request, so replacing its keys rotates them. */
  readonly jwks: Jwks;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The outcome of checkJwt. `insufficient_scope`: a valid token without any of the
 * route's scopes; `invalid_token`: everything else.
 */
export type JwtCheck =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>>; readonly scopes: readonly string[] }
  | { readonly ok: false; readonly error: 'invalid_token' | 'insufficient_scope'; readonly description: string };

/** The RSA algorithms the checks accept (API Gateway: "only RSA-based algorithms are supported"). */
const RSA_HASHES: Readonly<Record<string, string>> = { RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' };

/**
 * Validates a compact JWT (without any "Bearer " prefix) as an HTTP API JWT authorizer
 * does, then checks the route's authorization scopes when it has any.
 */
export function checkJwt(token: string, config: JwtAuthorizerConfig, routeScopes: readonly string[] = []): JwtCheck {
  const invalid = (description: string): JwtCheck => ({ ok: false, error: 'invalid_token', description });
  const parts = token.split('.');
  if (parts.length !== 3) return invalid('the token is not a JWS compact serialization');
  const header = decodeJson(parts[0]);
  const claims = decodeJson(parts[1]);
  if (!header || !claims) return invalid('the token could not be decoded');

  const alg = header.alg;
  const hash = typeof alg === 'string' ? RSA_HASHES[alg] : undefined;
  if (!hash) {
    // The description goes into a www-authenticate header: echo only a plain alg name.
    const shown = typeof alg === 'string' && /^[\w-]{1,16}$/.test(alg) ? ` ${alg}` : '';
    return invalid(`the token's algorithm${shown} is not supported`);
  }
  const jwk = typeof header.kid === 'string' ? config.jwks.keys.find((k) => k.kid === header.kid && k.kty === 'RSA') : undefined;
  if (!jwk) return invalid('the token\'s kid does not match a key of the issuer');
  if (jwk.alg !== undefined && jwk.alg !== alg) return invalid('the token\'s algorithm does not match its key');
  if (jwk.use !== undefined && jwk.use !== 'sig') return invalid('the token\'s key is not a signing key');
  let signatureOk = false;
  try {
    const key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' });
    signatureOk = cryptoVerify(hash, Buffer.from(`${parts[0]}.${parts[1]}`), key, Buffer.from(parts[2], 'base64url'));
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) return invalid('the token\'s signature is invalid');

  const nowSeconds = (config.now ?? Date.now)() / 1000;
  if (claims.iss !== config.issuer) return invalid('the token does not have a valid issuer');
  const audiences = typeof config.audience === 'string' ? [config.audience] : config.audience;
  // "API Gateway validates client_id only if aud is not present."
  const presented = claims.aud !== undefined ? claims.aud : claims.client_id;
  const presentedList = Array.isArray(presented) ? presented : [presented];
  if (!presentedList.some((a) => typeof a === 'string' && audiences.includes(a))) {
    return invalid('the token does not have a valid audience');
  }
  if (typeof claims.exp !== 'number') return invalid('the token has no expiry');
  if (!(claims.exp > nowSeconds)) return invalid('the token has expired');
  if (claims.nbf !== undefined && !(typeof claims.nbf === 'number' && claims.nbf <= nowSeconds)) {
    return invalid('the token is not valid yet');
  }
  if (claims.iat !== undefined && !(typeof claims.iat === 'number' && claims.iat <= nowSeconds)) {
    return invalid('the token was issued in the future');
  }

  const scopes = tokenScopes(claims);
  if (routeScopes.length > 0 && !routeScopes.some((s) => scopes.includes(s))) {
    return { ok: false, error: 'insufficient_scope', description: `expected scopes: [${routeScopes.join(' ')}]` };
  }
  return { ok: true, claims, scopes };
}

/** The token's scopes: `scope` (space-delimited, RFC 6749 §3.3) or `scp` (a list or a string). */
export function tokenScopes(claims: Readonly<Record<string, unknown>>): string[] {
  for (const value of [claims.scope, claims.scp]) {
    if (typeof value === 'string') return value.split(' ').filter(Boolean);
    if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  }
  return [];
}

/**
 * A claim value as API Gateway hands it to the integration: always a string. AWS does not
 * document the conversion; this follows what callers observe on real HTTP APIs: numbers as
 * their decimal text ("exp": "1612061676", awsdocs/amazon-api-gateway-developer-guide#113),
 * lists as "[a b c]" (aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock#803),
 * objects as "map[key:value]" (aws/aws-lambda-go#570), i.e. Go's fmt rendering.
 */
export function claimToString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(claimToString).join(' ')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `map[${entries.map(([k, v]) => `${k}:${claimToString(v)}`).join(' ')}]`;
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
