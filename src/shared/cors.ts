// CORS of the links API, for browser callers: one definition for the construct (the HTTP
// API's CorsConfiguration) and the local HTTP API, which answers as API Gateway does.

/**
 * What the links API allows a browser page of an allowed origin: its three methods (and
 * OPTIONS), the headers a JWT caller (`authorization`, `content-type`) or a browser signing
 * SigV4 itself (`x-amz-*`) sends, and a preflight answer browsers may cache for 10 minutes.
 * No credentials (cookies): every caller authenticates with headers.
 */
export const LINKS_API_CORS = {
  allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
  allowHeaders: ['content-type', 'authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'],
  maxAgeSeconds: 600,
} as const;

/**
 * Why `value` is not an origin a browser sends (`https://app.example.com`,
 * `http://localhost:3000`), or undefined when it is one. Only serialized http(s) origins
 * match: `Origin` carries the scheme, the lower-case (punycode) host and a non-default
 * port, never a path or a trailing slash. Wildcards (`*`, `https://*`) are refused: the
 * API answers with working links, so only pages the owner names may read them.
 */
export function corsOriginProblem(value: string): string | undefined {
  if (value === '*' || value.includes('*')) {
    return 'wildcards are not allowed: name each origin (the API answers with working links)';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a URL; expected scheme://host[:port], e.g. https://app.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `the scheme must be https or http, not ${url.protocol.slice(0, -1)}`;
  if (url.username || url.password) return 'an origin has no user info';
  if (value !== url.origin) {
    // A path, a query, a trailing slash, a default port or capitals: browsers never send these.
    return `browsers send the origin as ${url.origin}`;
  }
  return undefined;
}
