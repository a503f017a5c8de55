// What the construct's own functions log holds no working link: link ids and decisions only,
// never a URL's query string (its signature) nor a landing page's session cookie. Everything
// the mint and edge bundles print is captured while links are minted, used, refused, previewed,
// pressed, failed by the origin and revoked.
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { http } from './util/http';

const CONTENT = Buffer.from('numbers\n'.repeat(500));
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
let d: LocalDeployment;
const printed: string[] = [];

beforeAll(async () => {
  d = await startLocalDeployment({ objects: { 'reports/q4.pdf': CONTENT }, publicApi: true });
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => { printed.push(args.map(String).join(' ')); });
  }
});
afterAll(async () => {
  jest.restoreAllMocks();
  await d?.close();
});

async function mint(body: Record<string, unknown> = {}): Promise<{ url: string; id: string }> {
  const res = await http(`${d.apiUrl}/urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'reports/q4.pdf', ...body }) });
  expect(res.status).toBe(201);
  return JSON.parse(res.text()) as { url: string; id: string };
}

it('prints link ids and decisions, never a link\'s query string or a session cookie', async () => {
  const direct = await mint({ maxUses: 2 });
  const page = await mint({ landingPage: true });
  const failing = await mint();
  const fromGetUrl = JSON.parse((await http(`${d.apiUrl}/get-url?key=reports/q4.pdf`)).text()) as { url: string; id: string };

  expect((await http(direct.url, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0' } })).status).toBe(403);
  expect((await http(direct.url, { headers: { 'sec-purpose': 'prefetch' } })).status).toBe(403);
  expect((await http(direct.url)).status).toBe(200);
  expect((await http(direct.url, { localAddress: '127.0.0.2' })).status).toBe(200);
  expect((await http(direct.url, { localAddress: '127.0.0.3' })).status).toBe(403);
  expect((await http(`${direct.url}x`)).status).toBe(403);

  expect((await http(page.url, { headers: { 'user-agent': BROWSER, 'accept': 'text/html' } })).status).toBe(200);
  const pressed = await http(page.url, { method: 'POST', headers: { 'user-agent': BROWSER, 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  expect(pressed.status).toBe(303);
  const cookie = String(([] as string[]).concat(pressed.headers['set-cookie'] ?? [])[0]).split(';')[0];
  expect((await http(page.url, { headers: { 'user-agent': BROWSER, cookie } })).status).toBe(200);

  d.injectOriginFault('reports/q4.pdf', '500');
  expect((await http(failing.url)).status).toBe(503);
  expect((await http(`${d.apiUrl}/urls/${fromGetUrl.id}`, { method: 'DELETE' })).status).toBe(204);
  expect((await http(fromGetUrl.url)).status).toBe(403);

  const logs = printed.join('\n');
  // The functions did log, naming links by id.
  expect(logs).toContain(`"event":"issued","id":"${direct.id}"`);
  expect(logs).toContain(`"event":"revoked","id":"${fromGetUrl.id}"`);
  expect(logs).toContain(`"event":"origin-failure-given-back","id":"${failing.id}"`);
  for (const link of [direct, page, failing, fromGetUrl]) {
    expect(logs).not.toContain(link.url.slice(link.url.indexOf('?')));
    // A link's fingerprinted parameters never appear beside its id.
    expect(logs).not.toContain(`x-link-size=${new URL(link.url).searchParams.get('x-link-size')}`);
  }
  expect(logs).not.toMatch(/X-Amz-Signature|X-Amz-Credential|x-link-id=|x-link-exp=/i);
  expect(logs).not.toContain(cookie.slice(cookie.indexOf('=') + 1));
});
