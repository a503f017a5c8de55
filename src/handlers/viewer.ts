// Who a viewer is, as far as a download session is concerned: the address a direct link's
// session is bound to, the cookie a landing-page session is bound to, and whether a
// button press came from the page itself. Pure functions over the viewer request.
import { randomBytes } from 'crypto';
import type { CloudFrontHeaders } from 'aws-lambda';

/**
 * The address a direct link's session is bound to. IPv6 clients change their interface
 * identifier (privacy extensions rotate it; happy eyeballs may pick another address of the
 * same host), but keep their /64 prefix, the smallest block a network hands out
 * (RFC 6177): compare by /64. IPv4-mapped IPv6 addresses are the IPv4 address.
 */
export function clientAddress(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const hextets = expandIpv6(ip.split('%')[0]);
  return hextets === undefined ? ip.toLowerCase() : `${hextets.slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (without leading zeros), or undefined if it is not one. */
function expandIpv6(ip: string): string[] | undefined {
  const halves = ip.toLowerCase().split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0]);
  const tail = halves.length === 2 ? parse(halves[1]) : [];
  // An embedded IPv4 tail (::a.b.c.d) counts as two hextets; the /64 never includes it.
  const width = (parts: string[]) => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const missing = 8 - width(head) - width(tail);
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!all.every((h) => /^[0-9a-f]{1,4}$/.test(h) || /^\d{1,3}(\.\d{1,3}){3}$/.test(h))) return undefined;
  return all.map((h) => (h.includes('.') ? h : parseInt(h, 16).toString(16)));
}

/**
 * The cookie that carries a landing-page download session: named per link, so two links
 * on one path never share a session; scoped to the link's path; sent only over HTTPS
 * (`Secure`), never readable by scripts (`HttpOnly`), and sent on top-level navigations
 * and same-site requests (`SameSite=Lax`), which is how a browser's download list and its
 * media player re-request a URL.
 */
export function sessionCookieName(linkId: string): string {
  return `otp-${linkId}`;
}

/** A fresh session secret: 128 random bits. The ledger keeps only a hash of it. */
export function newSessionSecret(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Browsers ignore a cookie attribute value longer than 1024 bytes (RFC 6265bis, "The
 * Set-Cookie header field"): a longer path is left out, and the cookie is then scoped to
 * the link's directory (its default path), still by its per-link name.
 */
const MAX_COOKIE_ATTRIBUTE = 1024;

export function sessionCookie(linkId: string, secret: string, path: string, maxAgeSeconds: number): string {
  const scope = path.length <= MAX_COOKIE_ATTRIBUTE ? `; Path=${path}` : '';
  return `${sessionCookieName(linkId)}=${secret}${scope}; Max-Age=${Math.max(1, maxAgeSeconds)}; Secure; HttpOnly; SameSite=Lax`;
}

/** The session secret the request's cookies hold for this link, if it has a well-formed one. */
export function sessionSecretOf(headers: CloudFrontHeaders, linkId: string): string | undefined {
  const name = sessionCookieName(linkId);
  for (const header of headers.cookie ?? []) {
    for (const pair of header.value.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
      const value = pair.slice(eq + 1).trim();
      if (/^[A-Za-z0-9_-]{22}$/.test(value)) return value;
    }
  }
  return undefined;
}

/**
 * Whether a button press (POST) came from the link's own page. Browsers say where a request
 * comes from with Fetch Metadata (`Sec-Fetch-Site`: `same-origin` for the page's form, `none`
 * for a user-initiated one); older browsers send `Origin` on a POST. A cross-site page that
 * knows a link must not spend it from a visitor's browser. Clients that send neither (curl,
 * scripts) are not browsers visiting a third-party page, so they are accepted.
 */
export function isSameOriginPost(headers: CloudFrontHeaders): boolean {
  const site = headers['sec-fetch-site']?.[0]?.value.toLowerCase();
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const origin = headers.origin?.[0]?.value;
  if (origin === undefined) return true;
  const host = headers.host?.[0]?.value.toLowerCase();
  try {
    return host !== undefined && new URL(origin).host.toLowerCase() === host;
  } catch {
    return false; // `null` and other opaque origins
  }
}
