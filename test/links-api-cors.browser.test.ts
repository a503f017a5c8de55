// The README's browser example, run as written: a page served from another origin (another
// 127.0.0.1 port) mints a link in headless Chromium with a JWT from the local issuer, through
// the local HTTP API's CORS (corsAllowedOrigins); a page of an origin not configured is
// refused by the browser itself.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import * as ts from 'typescript';
import { launchChromium } from '../local/browser';
import { startLocalDeployment, type LocalDeployment } from '../local/deployment';
import { describeInBrowser } from './util/browser';
import { http } from './util/http';
import { closeServer, Lifecycle, listenLocal } from '../local/servers/common';

const CONTENT = Buffer.from('quarterly numbers\n'.repeat(1000));

/** The README's browser block: the TypeScript block that mints with `fetch(` and a bearer token. */
function readmeBrowserExample(): string {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((code) => code.includes('fetch(') && code.includes('Bearer'));
  expect(blocks).toHaveLength(1);
  return ts.transpileModule(blocks[0], { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
}

/** A web app: one page whose module script is the README's code, handed to the test on window. */
async function startApp(script: string): Promise<{ url: string; close(): Promise<void> }> {
  const life = new Lifecycle();
  const page = `<!doctype html><meta charset="utf-8"><title>app</title>
<script type="module">${script}
window.mintLink = mintLink;</script>`;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(page) });
    res.end(page);
  });
  life.track(server);
  const port = await listenLocal(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server, life) };
}

let d: LocalDeployment;
let app: Awaited<ReturnType<typeof startApp>>;
let stranger: Awaited<ReturnType<typeof startApp>>;
let browser: Browser;

beforeAll(async () => {
  const script = readmeBrowserExample();
  app = await startApp(script);
  stranger = await startApp(script);
  d = await startLocalDeployment({
    objects: { 'shared/q4.pdf': CONTENT },
    allowedKeyPrefixes: ['shared/'],
    mintAuth: 'jwt',
    corsAllowedOrigins: [app.url],
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await d?.close();
  await app?.close();
  await stranger?.close();
});

/** Opens `origin`'s page and runs the README's mintLink there; resolves to the link or the error's message. */
async function mintFrom(origin: string, token: string): Promise<{ page: Page; console: string[]; result: { url?: string; error?: string } }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (m) => console.push(m.text()));
  await page.goto(origin);
  await page.waitForFunction('typeof window.mintLink === "function"');
  const result = await page.evaluate(async ([api, idToken]) => {
    const mint = (globalThis as unknown as { mintLink(a: string, t: string, k: string): Promise<string> }).mintLink;
    try {
      return { url: await mint(api, idToken, 'shared/q4.pdf') };
    } catch (err) {
      return { error: `${(err as Error).name}: ${(err as Error).message}` };
    }
  }, [d.apiUrl, token]);
  return { page, console, result };
}

describeInBrowser('the README\'s browser example in headless Chromium', () => {
  it('mints a working link from a page of an allowed origin, with a JWT from the issuer', async () => {
    expect(new URL(app.url).port).not.toBe(new URL(d.apiUrl).port);
    const { page, result } = await mintFrom(app.url, d.jwtIssuer.sign({ sub: 'alice' }));
    try {
      expect(result.error).toBeUndefined();
      expect(result.url?.startsWith(`${d.distributionUrl}/shared/q4.pdf?`)).toBe(true);
      const download = await http(result.url!);
      expect(download.status).toBe(200);
      expect(download.body.equals(CONTENT)).toBe(true);
      // Someone else: the link was for one download.
      expect((await http(result.url!, { localAddress: '127.0.0.2' })).status).toBe(403);
    } finally {
      await page.context().close();
    }
  });

  it('is refused by the browser from an origin not configured: no CORS header on the preflight, so no POST', async () => {
    const { page, console, result } = await mintFrom(stranger.url, d.jwtIssuer.sign({ sub: 'alice' }));
    try {
      expect(result.error).toBe('TypeError: Failed to fetch');
      expect(console.join('\n')).toMatch(new RegExp(
        `from origin '${stranger.url}' has been blocked by CORS policy: Response to preflight request doesn't pass access control check: `
        + 'No \'Access-Control-Allow-Origin\' header is present'));
    } finally {
      await page.context().close();
    }
  });
});
