// The landing page a link shows in landing-page mode, and the refusal pages browsers see.
// One function per page, returning a string: inline CSS only, no script, no external
// resource, and a Content-Security-Policy that allows exactly the inlined style. The frame,
// style and escaping are exported for the upload page (upload-page.ts), which looks the same.
import { createHash } from 'crypto';

/** What the page says. */
export interface LandingPageContent {
  /** The neutral heading (and OpenGraph title, so chat previews show it instead of a 403). */
  readonly title: string;
  /** The file name recorded at mint, only when the construct allows showing it. */
  readonly fileName?: string;
  /** The file's size in bytes recorded at mint, shown with the file name. */
  readonly fileSize?: number;
  /** When the link stops working, as the ledger says. */
  readonly expiresAt: Date;
  /** Downloads the link has left, as the ledger says. */
  readonly usesLeft: number;
  /** Whether the form asks for the link's passphrase (a passphrase-protected link). */
  readonly passphrase?: boolean;
  /** A line above the form: why the last press was refused (a wrong passphrase, say). */
  readonly notice?: string;
}

/** A message shown to a browser: a refusal, or what a link preview sees. */
export interface MessagePageContent {
  readonly title: string;
  readonly message: string;
}

/** A generated page with the headers it must be served with. */
export interface Page {
  readonly html: string;
  readonly headers: Record<string, string>;
}

/** The pages' shared look (the upload page adds its own rules after it). */
export const PAGE_STYLE = [
  ':root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1b1f24;--muted:#57606a;--card:#fff;--accent:#0b57d0;--accent-fg:#fff;--border:#d0d7de}',
  '@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--card:#161b22;--accent:#4c8dff;--accent-fg:#0d1117;--border:#30363d}}',
  '*{box-sizing:border-box}',
  'body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;',
  'font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}',
  'main{width:100%;max-width:28rem;background:var(--card);border:1px solid var(--border);border-radius:12px;padding:2rem}',
  'h1{font-size:1.35rem;margin:0 0 .75rem}',
  'p{margin:.5rem 0;color:var(--muted)}',
  '.file{color:var(--fg);font-weight:600;word-break:break-all}.size{color:var(--muted);font-weight:400;white-space:nowrap}',
  '.when{white-space:nowrap}',
  'form{margin-top:1.5rem}',
  'button{width:100%;font:inherit;font-weight:600;padding:.8rem 1rem;border:0;border-radius:8px;background:var(--accent);color:var(--accent-fg);cursor:pointer}',
  'button:focus-visible{outline:3px solid var(--fg);outline-offset:3px}',
  'label{display:block;margin-bottom:.35rem;font-weight:600}',
  'input{display:block;width:100%;font:inherit;padding:.7rem .8rem;margin-bottom:1rem;border:1px solid var(--border);border-radius:8px;',
  'background:var(--bg);color:var(--fg)}',
  'input:focus-visible{outline:3px solid var(--accent);outline-offset:1px}',
  '.notice{color:var(--fg);font-weight:600}',
].join('');

/**
 * Exactly what the page may use: its own inline style, a form posting to itself, nothing
 * else (no scripts, images, fonts, frames or connections).
 */
const CSP = [
  "default-src 'none'",
  `style-src ${sha256Source(PAGE_STYLE)}`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers of a page the edge generates, with its own Content-Security-Policy. */
export function pageHeaders(csp: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': csp,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    // Search engines and scanners that honour it: this page is not content.
    'x-robots-tag': 'noindex, nofollow',
  };
}

const HEADERS = pageHeaders(CSP);

/** A CSP hash source for an inline style or script: exactly that text is allowed. */
export function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

export function escapeHtml(s: string): string {
  const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return s.replace(/[&<>"']/g, (c) => entities[c]);
}

/** How a page differs from the landing page's frame: its preview text, style and script. */
export interface DocumentOptions {
  /** What a chat preview shows under the title. */
  readonly description?: string;
  /** The inline style, which the page's CSP must pin. */
  readonly style?: string;
  /** One inline script at the end of the body, which the page's CSP must pin. */
  readonly script?: string;
}

export function htmlDocument(title: string, body: string, options: DocumentOptions = {}): string {
  const t = escapeHtml(title);
  const description = escapeHtml(options.description ?? 'A download link that works a limited number of times.');
  return '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    + '<meta name="viewport" content="width=device-width,initial-scale=1">'
    + '<meta name="robots" content="noindex,nofollow">'
    + `<title>${t}</title><meta property="og:title" content="${t}"><meta property="og:type" content="website">`
    + `<meta property="og:description" content="${description}">`
    + `<style>${options.style ?? PAGE_STYLE}</style></head><body><main>${body}</main>`
    + (options.script === undefined ? '' : `<script>${options.script}</script>`)
    + '</body></html>';
}

/** When a link stops working, to the minute: `2026-12-01 09:30 UTC`. */
export function formatExpiry(expiresAt: Date): string {
  return expiresAt.toISOString().replace('T', ' ').replace(/:\d\d\.\d{3}Z$/, ' UTC');
}

/**
 * The landing page: title, optional file name, expiry, one Download button. The button
 * posts the form to the link itself; only that POST spends a use. A protected link's form
 * also has a password field named `passphrase`, posted in the body, never in the URL.
 */
export function renderLandingPage(content: LandingPageContent): Page {
  const expires = formatExpiry(content.expiresAt);
  const size = content.fileSize === undefined ? '' : ` <span class="size">(${formatBytes(content.fileSize)})</span>`;
  const file = content.fileName === undefined ? '' : `<p class="file">${escapeHtml(content.fileName)}${size}</p>`;
  const uses = content.usesLeft === 1 ? 'one more time' : `${content.usesLeft} more times`;
  const body = `<h1>${escapeHtml(content.title)}</h1>${file}`
    + `<p>This link works ${uses}. Available until <span class="when">${expires}</span>.</p>`
    + (content.notice === undefined ? '' : `<p class="notice" role="alert">${escapeHtml(content.notice)}</p>`)
    + (content.passphrase
      ? '<form method="post"><label for="passphrase">Passphrase</label>'
        + '<input id="passphrase" type="password" name="passphrase" required autocomplete="off" autocapitalize="off" spellcheck="false">'
        + '<button type="submit">Download</button></form>'
      : '<form method="post"><button type="submit">Download</button></form>');
  return { html: htmlDocument(content.title, body), headers: HEADERS };
}

/** A size as people read it: 1 decimal above a kilobyte (1 KB = 1000 bytes, as file managers show). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** A title and a message as a page, for browsers: refusals (used up, expired, revoked, unavailable) and what link previews see. */
export function renderMessagePage(content: MessagePageContent): Page {
  return { html: htmlDocument(content.title, `<h1>${escapeHtml(content.title)}</h1><p>${escapeHtml(content.message)}</p>`), headers: HEADERS };
}

/** Whether a request comes from a browser navigating (it asks for HTML). */
export function wantsHtml(accept: string | undefined): boolean {
  return /\btext\/html\b/i.test(accept ?? '');
}
