// The local HTTP API's per-route authorizers: who gets through to the integration, who
// is refused with API Gateway's own answer, and what identity the integration is handed
// at event.requestContext.authorizer.
import { createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { DEFAULT_CALLER_ARN, jwtApiAuthorizer, sigV4ApiAuthorizer, type IamCaller } from '../local/api-auth';
import { callApi, type ApiCredentials, type ApiResponse } from '../local/api-client';
import { startLocalHttpApi, type LocalHttpApi, type LocalHttpApiEvent, type LocalRoute } from '../local/http-api';
import { createLocalJwtIssuer, type LocalJwtIssuer } from '../local/jwt';

const REGION = 'eu-west-1';
const ALICE: IamCaller = {
  accessKeyId: 'AKIAALICEALICEALICE0',
  secretAccessKey: 'alice-secret-alice-secret-alice-secret-0',
  arn: 'arn:aws:iam::123456789012:user/alice',
};
const BOB: IamCaller = {
  accessKeyId: 'ASIABOBBOBBOBBOBBOB0',
  secretAccessKey: 'bob-secret-bob-secret-bob-secret-bob-000',
  sessionToken: 'bob-session-token',
  arn: 'arn:aws:sts::210987654321:assumed-role/LinkAdmin/bob-session',
};

interface Echo {
  routeKey: string;
  hasAuthorizer: boolean;
  authorizer?: {
    iam?: Record<string, unknown>;
    jwt?: { claims: Record<string, string>; scopes: string[] | null };
  };
}

/** A handler that records each event and echoes what the authorizer handed it. */
function echoHandler(seen: LocalHttpApiEvent[]): LocalRoute['handler'] {
  return async (event) => {
    const e = event as LocalHttpApiEvent;
    seen.push(e);
    const echo: Echo = { routeKey: e.routeKey, hasAuthorizer: 'authorizer' in e.requestContext, authorizer: e.requestContext.authorizer as Echo['authorizer'] };
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(echo) };
  };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('local HTTP API authorizers', () => {
  const seen: LocalHttpApiEvent[] = [];
  let issuer: LocalJwtIssuer;
  let api: LocalHttpApi;

  beforeAll(async () => {
    issuer = createLocalJwtIssuer({ issuer: 'https://idp.local.test', audience: 'links-api' });
    const iam = sigV4ApiAuthorizer([ALICE, BOB], REGION);
    const jwt = jwtApiAuthorizer({ issuer: issuer.issuer, audience: [issuer.audience, 'second-client'], jwks: issuer.jwks });
    const handler = echoHandler(seen);
    api = await startLocalHttpApi({
      // Routes without their own authorizer fall back to this one.
      authorize: iam,
      routes: [
        { routeKey: 'GET /iam', handler },
        { routeKey: 'POST /iam', handler },
        { routeKey: 'GET /jwt/{id}', handler, authorizer: jwt },
        { routeKey: 'DELETE /jwt/{id}', handler, authorizer: jwt, authorizationScopes: ['links:manage', 'links:admin'] },
        { routeKey: 'GET /public', handler, authorizer: null },
      ],
    });
  });
  afterAll(async () => api?.close());
  beforeEach(() => { seen.length = 0; });

  const get = (path: string, credentials?: ApiCredentials, headers?: Record<string, string>, method = 'GET'): Promise<ApiResponse> =>
    callApi(`${api.url}${path}`, REGION, credentials, { method, headers });

  describe('IAM authorizer', () => {
    it('lets two IAM callers through and hands the handler each one\'s own identity', async () => {
      const a = await get('/iam', ALICE);
      const b = await get('/iam', BOB);
      expect([a.status, b.status]).toEqual([200, 200]);
      const aliceIam = a.json<Echo>().authorizer?.iam;
      const bobIam = b.json<Echo>().authorizer?.iam;
      expect(aliceIam).toEqual({
        accessKey: ALICE.accessKeyId,
        accountId: '123456789012',
        callerId: expect.stringMatching(/^AIDA[A-Z2-7]{17}$/),
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: 'arn:aws:iam::123456789012:user/alice',
        userId: aliceIam?.callerId,
      });
      expect(bobIam).toEqual({
        accessKey: BOB.accessKeyId,
        accountId: '210987654321',
        callerId: expect.stringMatching(/^AROA[A-Z2-7]{17}:bob-session$/),
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: 'arn:aws:sts::210987654321:assumed-role/LinkAdmin/bob-session',
        userId: bobIam?.callerId,
      });
      expect(seen.map((e) => e.requestContext.authorizer)).toEqual([{ iam: aliceIam }, { iam: bobIam }]);
    });

    it('gives the same caller the same ids on every request', async () => {
      const first = (await get('/iam', ALICE)).json<Echo>().authorizer?.iam;
      const second = (await get('/iam', ALICE)).json<Echo>().authorizer?.iam;
      expect(second).toEqual(first);
    });

    it('refuses unsigned, wrongly signed and unknown-key requests with 403 Forbidden without calling the handler', async () => {
      const refused = await Promise.all([
        get('/iam'),
        get('/iam', { ...ALICE, secretAccessKey: 'not-alice-secret' }),
        get('/iam', { accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: ALICE.secretAccessKey }),
        // Bob's key without his session token.
        get('/iam', { accessKeyId: BOB.accessKeyId, secretAccessKey: BOB.secretAccessKey }),
        // A JWT is no SigV4 signature.
        get('/iam', undefined, bearer(issuer.sign({ sub: 'alice' })).headers),
      ]);
      for (const res of refused) expect([res.status, res.json()]).toEqual([403, { message: 'Forbidden' }]);
      expect(seen).toHaveLength(0);
    });

    it('refuses a request whose body differs from the body that was signed', async () => {
      const u = new URL(`${api.url}/iam`);
      const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: ALICE, sha256: Sha256 });
      const signed = await signer.sign(new HttpRequest({
        method: 'POST',
        protocol: u.protocol,
        hostname: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        headers: { 'host': u.host, 'content-type': 'application/json' },
        body: '{"maxUses":1}',
      }));
      const { host: _host, ...headers } = signed.headers;
      const tampered = await fetch(u, { method: 'POST', headers, body: '{"maxUses":9}' });
      expect([tampered.status, await tampered.json()]).toEqual([403, { message: 'Forbidden' }]);
      const honest = await fetch(u, { method: 'POST', headers, body: '{"maxUses":1}' });
      expect(honest.status).toBe(200);
      expect(seen).toHaveLength(1);
    });

    it('keeps accepting one credential without an ARN, which stands for the default caller', async () => {
      const legacy = await startLocalHttpApi({
        routes: [{ routeKey: 'GET /get-url', handler: echoHandler(seen) }],
        authorize: sigV4ApiAuthorizer({ accessKeyId: ALICE.accessKeyId, secretAccessKey: ALICE.secretAccessKey }, REGION),
      });
      try {
        const res = await callApi(`${legacy.url}/get-url`, REGION, ALICE);
        expect(res.status).toBe(200);
        expect(res.json<Echo>().authorizer?.iam).toMatchObject({ accessKey: ALICE.accessKeyId, userArn: DEFAULT_CALLER_ARN });
        expect((await callApi(`${legacy.url}/get-url`, REGION, undefined)).status).toBe(403);
      } finally {
        await legacy.close();
      }
    });
  });

  describe('JWT authorizer', () => {
    it('lets a token with the right issuer and audience through, handing the handler its sub among string claims', async () => {
      const token = issuer.sign({ 'sub': 'user-123', 'cognito:groups': ['admins', 'ops'], 'email_verified': true, 'tier': { name: 'gold', level: 2 } });
      const res = await get('/jwt/abc', undefined, bearer(token).headers);
      expect(res.status).toBe(200);
      const { claims, scopes } = res.json<Echo>().authorizer!.jwt!;
      expect(claims).toEqual({
        'sub': 'user-123',
        'iss': 'https://idp.local.test',
        'aud': 'links-api',
        'iat': expect.stringMatching(/^\d{10}$/),
        'exp': expect.stringMatching(/^\d{10}$/),
        'cognito:groups': '[admins ops]',
        'email_verified': 'true',
        'tier': 'map[level:2 name:gold]',
      });
      // No authorizationScopes on the route: API Gateway passes scopes: null.
      expect(scopes).toBeNull();
      expect(seen).toHaveLength(1);
      expect(seen[0].pathParameters).toEqual({ id: 'abc' });
    });

    it('takes the token with or without the Bearer prefix', async () => {
      const token = issuer.sign({ sub: 'no-prefix' });
      const res = await get('/jwt/1', undefined, { authorization: token });
      expect(res.status).toBe(200);
      expect(res.json<Echo>().authorizer?.jwt?.claims.sub).toBe('no-prefix');
    });

    it('matches client_id against the audiences only when the token has no aud', async () => {
      const clientOnly = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'svc', aud: undefined, client_id: 'second-client' })).headers);
      expect(clientOnly.status).toBe(200);
      expect(clientOnly.json<Echo>().authorizer?.jwt?.claims.client_id).toBe('second-client');
      const audWins = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'svc', aud: 'someone-else', client_id: 'links-api' })).headers);
      expect(audWins.status).toBe(401);
      const audList = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'svc', aud: ['other', 'links-api'] })).headers);
      expect(audList.status).toBe(200);
      expect(audList.json<Echo>().authorizer?.jwt?.claims.aud).toBe('[other links-api]');
    });

    it('refuses missing, expired, foreign and forged tokens with 401 Unauthorized without calling the handler', async () => {
      const now = Math.floor(Date.now() / 1000);
      const otherKey = createLocalJwtIssuer({ issuer: issuer.issuer, audience: issuer.audience });
      const good = { sub: 'mallory' };
      const payload = { iss: issuer.issuer, aud: issuer.audience, sub: 'mallory', iat: now, exp: now + 600 };
      // HS256 keyed with the issuer's public key material: the classic algorithm confusion.
      const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: issuer.kid })}.${b64(payload)}`;
      const hs256 = `${hsInput}.${createHmac('sha256', JSON.stringify(issuer.jwks.keys[0])).update(hsInput).digest('base64url')}`;
      const cases: Record<string, Record<string, string>> = {
        'no Authorization header': {},
        'an empty Authorization header': { authorization: '' },
        'a bare Bearer': { authorization: 'Bearer ' },
        'not a JWT': bearer('not-a-jwt').headers,
        'expired': bearer(issuer.sign(good, { expiresInSeconds: -5 })).headers,
        'no exp': bearer(issuer.sign({ ...good, exp: undefined })).headers,
        'not valid yet (nbf)': bearer(issuer.sign({ ...good, nbf: now + 300 })).headers,
        'issued in the future (iat)': bearer(issuer.sign({ ...good, iat: now + 300 })).headers,
        'wrong issuer': bearer(issuer.sign({ ...good, iss: 'https://evil.example' })).headers,
        'wrong audience': bearer(issuer.sign({ ...good, aud: 'another-api' })).headers,
        'no audience at all': bearer(issuer.sign({ ...good, aud: undefined })).headers,
        'another key under this issuer\'s kid': bearer(otherKey.sign(good, { kid: issuer.kid })).headers,
        'another key under its own kid': bearer(otherKey.sign(good)).headers,
        'alg none': bearer(`${b64({ alg: 'none', typ: 'JWT', kid: issuer.kid })}.${b64(payload)}.`).headers,
        'alg HS256': bearer(hs256).headers,
        'a tampered payload': bearer(issuer.sign(good).replace(/\.[^.]+\./, `.${b64({ ...payload, sub: 'admin' })}.`)).headers,
      };
      const results = await Promise.all(Object.entries(cases).map(async ([name, headers]) => {
        const res = await get('/jwt/1', undefined, headers);
        return [name, res.status, res.json()];
      }));
      expect(results).toEqual(Object.keys(cases).map((name) => [name, 401, { message: 'Unauthorized' }]));
      expect(seen).toHaveLength(0);
    });

    it('explains a refused token in www-authenticate as API Gateway does', async () => {
      const res = await fetch(`${api.url}/jwt/1`, bearer(issuer.sign({ sub: 'x', aud: 'another-api' })));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"');
    });

    it('on a route with authorization scopes, lets through only tokens holding one of them and hands over the token\'s scopes', async () => {
      const withScope = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'admin', scope: 'links:read links:manage' })).headers, 'DELETE');
      expect(withScope.status).toBe(200);
      expect(withScope.json<Echo>().authorizer?.jwt?.scopes).toEqual(['links:read', 'links:manage']);
      const withScp = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'admin', scp: ['links:admin'] })).headers, 'DELETE');
      expect(withScp.status).toBe(200);
      expect(withScp.json<Echo>().authorizer?.jwt?.scopes).toEqual(['links:admin']);
      expect(seen).toHaveLength(2);

      const readOnly = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'reader', scope: 'links:read' })).headers, 'DELETE');
      const noScope = await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'reader' })).headers, 'DELETE');
      for (const res of [readOnly, noScope]) expect([res.status, res.json()]).toEqual([403, { message: 'Forbidden' }]);
      expect(seen).toHaveLength(2);
      // The same token still works on the route without scopes.
      expect((await get('/jwt/1', undefined, bearer(issuer.sign({ sub: 'reader', scope: 'links:read' })).headers)).status).toBe(200);
    });
  });

  describe('routes with different authorizers on one server', () => {
    it('apply each route\'s own authorizer: IAM, JWT, none', async () => {
      const token = issuer.sign({ sub: 'user-9' });
      const [iamWithSig, iamWithJwt, jwtWithJwt, jwtWithSig, publicAnon, publicSigned] = await Promise.all([
        get('/iam', ALICE),
        get('/iam', undefined, bearer(token).headers),
        get('/jwt/7', undefined, bearer(token).headers),
        get('/jwt/7', ALICE),
        get('/public'),
        get('/public', ALICE),
      ]);
      expect([iamWithSig.status, iamWithJwt.status, jwtWithJwt.status, jwtWithSig.status, publicAnon.status, publicSigned.status])
        .toEqual([200, 403, 200, 401, 200, 200]);
      expect(iamWithSig.json<Echo>().authorizer).toEqual({ iam: expect.objectContaining({ userArn: ALICE.arn }) });
      expect(jwtWithJwt.json<Echo>().authorizer).toEqual({ jwt: { claims: expect.objectContaining({ sub: 'user-9' }), scopes: null } });
      // A public route's event has no authorizer at all, signed or not.
      for (const res of [publicAnon, publicSigned]) expect(res.json<Echo>()).toEqual({ routeKey: 'GET /public', hasAuthorizer: false });
      expect(seen.map((e) => e.routeKey).sort()).toEqual(['GET /iam', 'GET /jwt/{id}', 'GET /public', 'GET /public']);
    });

    it('answers 404 for an unknown route before any authorizer runs', async () => {
      const res = await get('/nowhere');
      expect([res.status, res.json()]).toEqual([404, { message: 'Not Found' }]);
    });
  });
});
