// Authorizers of the local HTTP API, as API Gateway HTTP APIs run them per route:
// - IAM: SigV4 for service execute-api, with each local credential standing for an IAM
//   identity; https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control-iam.html
// - JWT: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
// What a passing request hands the integration (requestContext.authorizer.iam / .jwt):
// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
// (payload format 2.0; the iam member's fields as in the same 2.0 payload of
// https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ApiAuthorizer, AuthorizerRefusal, IamAuthorizerContext, JwtAuthorizerContext } from './http-api';
import { checkJwt, claimToString, type JwtAuthorizerConfig } from './jwt';
import { S3AuthError, verifySigV4, type SigV4Credentials } from './servers';

export type { ApiAuthorizer, AuthorizerDecision, AuthorizerRefusal } from './http-api';

/** A local credential and the IAM identity it stands for. */
export interface IamCaller extends SigV4Credentials {
  /**
   * The caller's ARN, e.g. `arn:aws:iam::123456789012:user/alice` or
   * `arn:aws:sts::123456789012:assumed-role/Admin/alice`.
   */
  readonly arn: string;
  /**
   * The caller's unique id (callerId and userId): `AIDA...` for a user,
   * `AROA...:session` for an assumed role. @default derived from the ARN
   */
  readonly userId?: string;
}

/** The identity of credentials given without an ARN. */
export const DEFAULT_CALLER_ARN = 'arn:aws:iam::123456789012:user/local';

// API Gateway's answers to requests it refuses. IAM: 403 {"message":"Forbidden"} for a
// missing, malformed or wrong signature alike (what HTTP APIs answer; the pages above do
// not spell the body out). JWT: 401 {"message":"Unauthorized"} with a www-authenticate
// header, https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html
const FORBIDDEN: AuthorizerRefusal = { status: 403, message: 'Forbidden' };

/**
 * An IAM authorizer: the request must carry a valid SigV4 signature (service execute-api,
 * `region`) by one of `callers`. Passing requests carry `requestContext.authorizer.iam`
 * for the signer. Accepts one credential or several; credentials without an ARN stand
 * for DEFAULT_CALLER_ARN.
 */
export function sigV4ApiAuthorizer(
  callers: SigV4Credentials | IamCaller | ReadonlyArray<SigV4Credentials | IamCaller>,
  region: string,
): ApiAuthorizer {
  const list: ReadonlyArray<SigV4Credentials | IamCaller> = isList(callers) ? callers : [callers];
  const identities = new Map<string, IamAuthorizerContext['iam']>();
  for (const caller of list) {
    if (identities.has(caller.accessKeyId)) throw new Error(`access key ${caller.accessKeyId} is given twice`);
    identities.set(caller.accessKeyId, iamIdentity(caller));
  }
  const credentials = list.map(({ accessKeyId, secretAccessKey, sessionToken }) => ({ accessKeyId, secretAccessKey, sessionToken }));
  return (req, body) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    try {
      const verified = verifySigV4(
        { method: req.method ?? 'GET', rawPath: q < 0 ? rawUrl : rawUrl.slice(0, q), rawQuery: q < 0 ? '' : rawUrl.slice(q + 1), rawHeaders: req.rawHeaders },
        // execute-api signs the hash of the body it received.
        { credentials, region, service: 'execute-api', now: Date.now(), bodySha256: createHash('sha256').update(body).digest('hex') },
      );
      return { authorizer: { iam: identities.get(verified.accessKeyId)! } };
    } catch (err) {
      if (err instanceof S3AuthError) return FORBIDDEN;
      throw err;
    }
  };
}

function isList<T>(value: T | ReadonlyArray<T>): value is ReadonlyArray<T> {
  return Array.isArray(value);
}

/** The `iam` member API Gateway builds for a SigV4 signer. */
export function iamIdentity(caller: SigV4Credentials & { readonly arn?: string; readonly userId?: string }): IamAuthorizerContext['iam'] {
  const arn = caller.arn ?? DEFAULT_CALLER_ARN;
  const m = /^arn:aws[\w-]*:(iam|sts)::(\d{12}):(.+)$/.exec(arn);
  if (!m) throw new Error(`not an IAM or STS principal ARN: ${arn}`);
  const [, , accountId, resource] = m;
  const userId = caller.userId ?? uniqueIdOf(accountId, resource, arn);
  return {
    accessKey: caller.accessKeyId,
    accountId,
    callerId: userId,
    cognitoIdentity: null,
    principalOrgId: null,
    userArn: arn,
    userId,
  };
}

/**
 * The aws:userid of a principal (IAM User Guide, "IAM policy elements: Variables and
 * tags", aws:userid): the account id for root, the user's unique id (AIDA...) for a
 * user, `role-id:session-name` (AROA...:name) for an assumed role, `account:name` for a
 * federated user. Unique ids are made up, stably, from the ARN.
 */
function uniqueIdOf(accountId: string, resource: string, arn: string): string {
  if (resource === 'root') return accountId;
  const assumed = /^assumed-role\/(.+)\/([^/]+)$/.exec(resource);
  if (assumed) {
    const roleName = assumed[1].split('/').pop()!;
    return `${madeUpId('AROA', `arn:aws:iam::${accountId}:role/${roleName}`)}:${assumed[2]}`;
  }
  const federated = /^federated-user\/(.+)$/.exec(resource);
  if (federated) return `${accountId}:${federated[1]}`;
  if (resource.startsWith('role/')) return madeUpId('AROA', arn);
  return madeUpId('AIDA', arn);
}

/** A 21-character IAM-style unique id: the prefix and 17 base32 characters from the ARN. */
function madeUpId(prefix: string, arn: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const digest = createHash('sha256').update(arn).digest();
  let id = prefix;
  for (let i = 0; i < 17; i++) id += alphabet[digest[i] % 32];
  return id;
}

/**
 * A JWT authorizer (identity source `$request.header.Authorization`): the token must pass
 * checkJwt against `config` and, when the route has authorizationScopes, hold one of
 * them. Passing requests carry `requestContext.authorizer.jwt` with the token's claims
 * (as strings) and, on routes with scopes, the token's scopes.
 */
export function jwtApiAuthorizer(config: JwtAuthorizerConfig): ApiAuthorizer {
  return (req: IncomingMessage, _body, route) => {
    const scopes = route?.authorizationScopes ?? [];
    const header = req.headers.authorization;
    // A missing identity source: 401 before any token check.
    if (header === undefined || header.trim() === '') return { status: 401, message: 'Unauthorized' };
    const token = header.replace(/^Bearer +/i, '').trim();
    const check = checkJwt(token, config, scopes);
    if (!check.ok) {
      // The troubleshooting page's header: Bearer scope="" error="invalid_token" error_description="...".
      const challenge = `Bearer scope="${scopes.join(' ')}" error="${check.error}" error_description="${check.description}"`;
      return check.error === 'insufficient_scope'
        ? { status: 403, message: 'Forbidden', headers: { 'www-authenticate': challenge } }
        : { status: 401, message: 'Unauthorized', headers: { 'www-authenticate': challenge } };
    }
    const claims: Record<string, string> = {};
    for (const [name, value] of Object.entries(check.claims)) claims[name] = claimToString(value);
    const jwt: JwtAuthorizerContext['jwt'] = { claims, scopes: scopes.length > 0 ? [...check.scopes] : null };
    return { authorizer: { jwt } };
  };
}
