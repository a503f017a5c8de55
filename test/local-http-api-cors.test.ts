// The local HTTP API's CORS, as "Configure CORS for HTTP APIs in API Gateway" describes it:
// API Gateway answers preflights itself, adds the configured headers for allowed origins
// only, and ignores the integration's own CORS headers. Pinned here so a change is visible.
import { jwtApiAuthorizer } from '../local/api-auth';
import { startLocalHttpApi, type LocalHttpApi, type LocalHttpApiEvent } from '../local/http-api';
import { createLocalJwtIssuer } from '../local/jwt';
import { http, type HttpResult } from './util/http';
import { LINKS_API_CORS } from '../src/shared/cors';

const APP = 'http://127.0.0.1:5173';
const OTHER_APP = 'https://app.example.com';
const STRANGER = 'http://127.0.0.1:6666';

const corsHeaders = (res: HttpResult) => Object.fromEntries(Object.entries(res.headers).filter(([name]) => name.startsWith('access-control-')));

describe('local HTTP API with a CORS configuration', () => {
  const seen: LocalHttpApiEvent[] = [];
  const issuer = createLocalJwtIssuer();
  let api: LocalHttpApi;

  beforeAll(async () => {
    api = await startLocalHttpApi({
      routes: [
        {
          routeKey: 'POST /urls',
          authorizer: jwtApiAuthorizer({ issuer: issuer.issuer, audience: issuer.audience, jwks: issuer.jwks }),
          handler: async (event) => {
            seen.push(event as LocalHttpApiEvent);
            // An integration that sets its own CORS headers: API Gateway ignores them.
            return { statusCode: 201, headers: { 'content-type': 'application/json', 'access-control-allow-origin': '*', 'Access-Control-Allow-Credentials': 'true' }, body: '{}' };
          },
        },
      ],
      cors: { ...LINKS_API_CORS, allowOrigins: [OTHER_APP, APP] },
    });
  });
  afterAll(async () => api?.close());

  it('answers a preflight from an allowed origin itself: 204 with the configuration, before any route or authorizer', async () => {
    const before = seen.length;
    for (const path of ['/urls', '/no/such/route']) {
      const res = await http(`${api.url}${path}`, {
        method: 'OPTIONS',
        headers: { 'origin': APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(res.status).toBe(204);
      expect(res.body.length).toBe(0);
      expect(corsHeaders(res)).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'GET,POST,DELETE,OPTIONS',
        'access-control-allow-headers': 'content-type,authorization,x-amz-date,x-amz-security-token,x-amz-content-sha256',
        'access-control-max-age': '600',
      });
    }
    expect(seen.length).toBe(before);
  });

  it('answers a preflight from any other origin with 204 and no CORS headers, so the browser refuses', async () => {
    const res = await http(`${api.url}/urls`, { method: 'OPTIONS', headers: { 'origin': STRANGER, 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(204);
    expect(corsHeaders(res)).toEqual({});
  });

  it('routes an OPTIONS request that is not a preflight like any other request (no OPTIONS route: 404)', async () => {
    expect((await http(`${api.url}/urls`, { method: 'OPTIONS', headers: { origin: APP } })).status).toBe(404);
    expect((await http(`${api.url}/urls`, { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } })).status).toBe(404);
  });

  it('adds access-control-allow-origin for an allowed origin, replacing what the integration said', async () => {
    const res = await http(`${api.url}/urls`, { method: 'POST', headers: { origin: APP, authorization: `Bearer ${issuer.sign({ sub: 'alice' })}` }, body: '{}' });
    expect(res.status).toBe(201);
    expect(corsHeaders(res)).toEqual({ 'access-control-allow-origin': APP });
  });

  it('adds it to API Gateway\'s own answers too: an authorizer\'s 401 and a 404 reach the page', async () => {
    const refused = await http(`${api.url}/urls`, { method: 'POST', headers: { origin: OTHER_APP }, body: '{}' });
    expect(refused.status).toBe(401);
    expect(corsHeaders(refused)).toEqual({ 'access-control-allow-origin': OTHER_APP });
    const missing = await http(`${api.url}/nothing`, { headers: { origin: OTHER_APP } });
    expect(missing.status).toBe(404);
    expect(corsHeaders(missing)).toEqual({ 'access-control-allow-origin': OTHER_APP });
  });

  it('sends no CORS headers without an Origin or for an origin not configured, and drops the integration\'s', async () => {
    const token = issuer.sign({ sub: 'alice' });
    const origins: Array<Record<string, string>> = [{}, { origin: STRANGER }, { origin: `${APP}/` }, { origin: APP.toUpperCase() }];
    for (const headers of origins) {
      const res = await http(`${api.url}/urls`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body: '{}' });
      expect(res.status).toBe(201);
      expect(corsHeaders(res)).toEqual({});
    }
  });
});

describe('local HTTP API without a CORS configuration', () => {
  let api: LocalHttpApi;
  beforeAll(async () => {
    api = await startLocalHttpApi({
      routes: [{ routeKey: 'GET /urls/{id}', handler: async () => ({ statusCode: 200, headers: { 'access-control-allow-origin': '*' }, body: '{}' }) }],
    });
  });
  afterAll(async () => api?.close());

  it('leaves preflights to the routes (none: 404) and passes the integration\'s headers through', async () => {
    const pre = await http(`${api.url}/urls/x`, { method: 'OPTIONS', headers: { 'origin': APP, 'access-control-request-method': 'GET' } });
    expect(pre.status).toBe(404);
    expect(corsHeaders(pre)).toEqual({});
    expect(corsHeaders(await http(`${api.url}/urls/x`, { headers: { origin: APP } }))).toEqual({ 'access-control-allow-origin': '*' });
  });
});
