// Who may see and revoke a link, end to end over the local deployment with API
// Gateway's authorizers emulated: IAM keeps the management routes by default, and a
// JWT caller manages only the links it minted.
import { callApi } from '../local/api-client';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http, type HttpResult } from './util/http';

const CONTENT = Buffer.from('owned bytes\n');
let d: LocalDeployment;

/** A call as a signed-in user of the identity provider (a JWT in the Authorization header). */
function asUser(sub: string, path: string, method = 'GET', body?: unknown): Promise<HttpResult> {
  return http(`${d.apiUrl}${path}`, {
    method,
    headers: { 'authorization': `Bearer ${d.jwtIssuer.sign({ sub })}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function mintAs(sub: string): Promise<{ url: string; id: string }> {
  const res = await asUser(sub, '/urls', 'POST', { key: 'doc.txt' });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

describe('with a JWT authorizer on the mint routes and the default management authorization', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'doc.txt': CONTENT }, mintAuth: 'jwt' });
  });
  afterAll(async () => d?.close());

  it('keeps IAM on the management routes: a signed-in user cannot read or revoke any link, its own included', async () => {
    const link = await mintAs('alice');
    expect((await asUser('alice', `/urls/${link.id}`)).status).toBe(403);
    expect((await asUser('alice', `/urls/${link.id}`, 'DELETE')).status).toBe(403);
    expect((await http(link.url)).status).toBe(200);
  });

  it('lets an IAM principal granted management read and revoke every link, and records the minting user', async () => {
    const link = await mintAs('bob');
    const status = await callApi(`${d.apiUrl}/urls/${link.id}`, d.region, d);
    expect(status.status).toBe(200);
    expect(status.json<{ owner: string }>().owner).toBe(`jwt:${d.jwtIssuer.issuer}#bob`);
    expect((await callApi(`${d.apiUrl}/urls/${link.id}`, d.region, d, { method: 'DELETE' })).status).toBe(204);
    expect((await http(link.url)).status).toBe(403);
  });
});

describe('with a JWT authorizer on the management routes too (manageAuthorizer)', () => {
  beforeAll(async () => {
    d = await startLocalDeployment({ objects: { 'doc.txt': CONTENT }, mintAuth: 'jwt', manageAuth: 'jwt' });
  });
  afterAll(async () => d?.close());

  it('shows a link to the user who minted it and to nobody else', async () => {
    const link = await mintAs('alice');
    const own = await asUser('alice', `/urls/${link.id}`);
    expect(own.status).toBe(200);
    expect(JSON.parse(own.text())).toMatchObject({ id: link.id, owner: `jwt:${d.jwtIssuer.issuer}#alice`, uses: 0 });
    const other = await asUser('mallory', `/urls/${link.id}`);
    expect(other.status).toBe(403);
    // Nothing about the link leaks to another user: not its key, not its audit trail.
    expect(other.text()).not.toContain('doc.txt');
    expect(JSON.parse(other.text())).toEqual({ error: 'this link was minted by another caller' });
  });

  it('lets only the minting user revoke a link; another user\'s attempt changes nothing', async () => {
    const link = await mintAs('alice');
    expect((await asUser('mallory', `/urls/${link.id}`, 'DELETE')).status).toBe(403);
    expect(JSON.parse((await asUser('alice', `/urls/${link.id}`)).text())).toMatchObject({ revoked: false });
    expect((await asUser('alice', `/urls/${link.id}`, 'DELETE')).status).toBe(204);
    expect((await http(link.url)).status).toBe(403);
  });

  it('answers 404 for an unknown link and 401 without a valid token, writing nothing', async () => {
    expect((await asUser('alice', '/urls/AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await asUser('alice', '/urls/AAAAAAAAAAAAAAAAAAAAAA', 'DELETE')).status).toBe(404);
    const link = await mintAs('alice');
    const writes = d.services.dynamodb.calls.get('UpdateItem');
    expect((await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE' })).status).toBe(401);
    expect((await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE', headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    expect(d.services.dynamodb.calls.get('UpdateItem')).toBe(writes);
  });

  it('gives a token without a subject no links to manage', async () => {
    const link = await mintAs('alice');
    const res = await http(`${d.apiUrl}/urls/${link.id}`, { headers: { authorization: `Bearer ${d.jwtIssuer.sign({ sub: undefined })}` } });
    expect(res.status).toBe(403);
    const revoke = await http(`${d.apiUrl}/urls/${link.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${d.jwtIssuer.sign({ sub: undefined })}` } });
    expect(revoke.status).toBe(403);
    expect((await http(link.url)).status).toBe(200);
  });
});
