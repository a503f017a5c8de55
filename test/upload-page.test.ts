// The upload page as rendered: small, self-contained, its one script and style pinned by the
// CSP, everything it shows escaped. test/upload-page.browser.test.ts drives it in chromium.
import { createHash } from 'node:crypto';
import { renderLandingPage } from '../src/shared/landing-page';
import { humanBytes, renderUploadPage } from '../src/shared/upload-page';

const EXPIRES = new Date(Date.UTC(2026, 11, 1, 9, 30, 45));
const sha256 = (text: string) => createHash('sha256').update(text).digest('base64');
const scriptsOf = (html: string) => [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)].map((m) => m[1]);

describe('the upload page as rendered', () => {
  const page = renderUploadPage({ title: 'Send us your file', maxBytes: 100 * 1024 * 1024, expiresAt: EXPIRES });

  it('is small and self-contained, and its CSP allows exactly its own style, its one script and connections to itself', () => {
    expect(Buffer.byteLength(page.html)).toBeLessThan(12 * 1024);
    const scripts = scriptsOf(page.html);
    expect(scripts).toHaveLength(1);
    // No attribute on it (no src), and no inline handlers anywhere (the CSP would block them).
    expect(page.html).toContain(`<script>${scripts[0]}</script>`);
    expect(page.html).not.toMatch(/\son[a-z]+=/i);
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.html)![1];
    expect(page.headers['content-security-policy']).toBe([
      "default-src 'none'",
      `style-src 'sha256-${sha256(style)}'`,
      `script-src 'sha256-${sha256(scripts[0])}'`,
      "connect-src 'self'",
      "form-action 'none'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '));
    expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
  });

  it('loads nothing from anywhere: no external URL, no src or href, no url() in the style', () => {
    expect(page.html).not.toMatch(/https?:\/\/|\/\/[a-z0-9]|<img|<link|<iframe|\ssrc=|\shref=|url\(|@import/i);
  });

  it('says how much, until when, and has a file input, a Send button, a progress bar and a live status line', () => {
    expect(page.html).toContain('<h1>Send us your file</h1>');
    expect(page.html).toContain('Choose a file to send. The link takes one file of at most <span class="max">104.9 MB</span>, until <span class="when">2026-12-01 09:30 UTC</span>.');
    expect(page.html).toContain('<label for="file">File</label><input id="file" type="file" name="file" required>');
    expect(page.html).toContain('<button id="send" type="submit">Send</button>');
    expect(page.html).toContain('<p id="status" class="status" role="status" aria-live="polite"></p>');
    expect(page.html).toContain('<form id="upload" hidden data-max="104857600">');
    // Without script: the curl command, with the address to fill in.
    expect(page.html).toContain('From a terminal<span id="where">, with this link\'s address for URL</span>: <code id="curl">curl -T FILE \'URL\'</code>');
    expect(page.html).not.toContain('accept=');
    expect(page.html).not.toContain('role="alert"');
    expect(page.html).toMatch(/<meta name="viewport" content="width=device-width,initial-scale=1">/);
    expect(page.html).toMatch(/prefers-color-scheme:dark/);
  });

  it('looks like the landing page: the same style first, the same headers but for the CSP', () => {
    const landing = renderLandingPage({ title: 't', expiresAt: EXPIRES, usesLeft: 1 });
    const landingStyle = /<style>([\s\S]*?)<\/style>/.exec(landing.html)![1];
    expect(/<style>([\s\S]*?)<\/style>/.exec(page.html)![1].startsWith(landingStyle)).toBe(true);
    const { 'content-security-policy': _a, ...rest } = page.headers;
    const { 'content-security-policy': _b, ...landingRest } = landing.headers;
    expect(rest).toEqual(landingRest);
  });

  it('pins the required media type in the accept attribute, the text, the script\'s data and the curl command', () => {
    const typed = renderUploadPage({ title: 'Invoices', maxBytes: 5_000_000, expiresAt: EXPIRES, contentType: 'application/pdf' });
    expect(typed.html).toContain('<input id="file" type="file" name="file" required accept="application/pdf">');
    expect(typed.html).toContain('<p>The file must be of type <span class="type">application/pdf</span>.</p>');
    expect(typed.html).toContain('<form id="upload" hidden data-max="5000000" data-type="application/pdf">');
    expect(typed.html).toContain('<code id="curl">curl -T FILE -H \'Content-Type: application/pdf\' \'URL\'</code>');
    expect(typed.html).toContain('at most <span class="max">5.0 MB</span>');
    // The script is the same on every page: the CSP's hash does not depend on the link.
    expect(typed.headers['content-security-policy']).toBe(page.headers['content-security-policy']);
  });

  it('escapes the title, the media type and the notice', () => {
    const evil = '<script>alert(1)</script>';
    const hostile = renderUploadPage({
      title: `${evil} & "friends"`, maxBytes: 10, expiresAt: EXPIRES, contentType: 'text/plain"><script>alert(2)</script>', notice: `${evil}'`,
    });
    expect(scriptsOf(hostile.html)).toHaveLength(1);
    expect(hostile.html).not.toContain('alert(1)</script>');
    expect(hostile.html).not.toContain('alert(2)</script>');
    expect(hostile.html).toContain('<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;</h1>');
    expect(hostile.html).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;</title>');
    expect(hostile.html).toContain('<meta property="og:title" content="&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;friends&quot;">');
    expect(hostile.html).toContain('accept="text/plain&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');
    expect(hostile.html).toContain('data-type="text/plain&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"');
    expect(hostile.html).toContain('<span class="type">text/plain&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;</span>');
    expect(hostile.html).toContain('<p class="notice" role="alert">&lt;script&gt;alert(1)&lt;/script&gt;&#39;</p>');
    expect(hostile.html).toContain('at most <span class="max">10 bytes</span>');
  });

  it('writes sizes as the landing page does', () => {
    expect([999, 1000, 5 * 1024 * 1024, 5 * 1024 ** 3].map(humanBytes)).toEqual(['999 bytes', '1.0 KB', '5.2 MB', '5.4 GB']);
  });
});
