// The documented CloudFront viewer-request event, built from a download URL the way
// the local CloudFront (local/cloudfront.ts) builds it from an HTTP request.
import { randomBytes } from 'node:crypto';
import type { CloudFrontHeaders, CloudFrontRequestEvent, CloudFrontRequestResult } from 'aws-lambda';

export type ViewerRequestHandler = (event: CloudFrontRequestEvent) => Promise<CloudFrontRequestResult>;

/** A current desktop browser, so the edge's link-preview protection lets the request through. */
export const BROWSER_USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** A documentation address (RFC 5737) as the viewer. */
export const VIEWER_IP = '198.51.100.23';

export function viewerRequestEvent(url: string, method = 'GET', extraHeaders: ReadonlyArray<[string, string]> = []): CloudFrontRequestEvent {
  const u = new URL(url);
  const given = new Set(extraHeaders.map(([key]) => key.toLowerCase()));
  const defaults: Array<[string, string]> = [
    ['Host', u.host],
    ['User-Agent', BROWSER_USER_AGENT],
    ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['Accept-Encoding', 'gzip, deflate, br'],
    ['Accept-Language', 'en-GB,en;q=0.9'],
  ];
  // An extra header replaces the default of the same name (another client's User-Agent, say).
  const raw = [...defaults.filter(([key]) => !given.has(key.toLowerCase())), ...extraHeaders];
  const headers: CloudFrontHeaders = {};
  for (const [key, value] of raw) (headers[key.toLowerCase()] ??= []).push({ key, value });
  // Exactly what a viewer sent: the raw path and the raw query (no '?'), never re-encoded.
  const q = url.indexOf('?');
  const afterHost = url.slice(url.indexOf('/', url.indexOf('//') + 2));
  const qs = q < 0 ? '' : url.slice(q + 1);
  const uri = q < 0 ? afterHost : afterHost.slice(0, afterHost.indexOf('?'));
  return {
    Records: [{
      cf: {
        config: { distributionDomainName: u.host, distributionId: 'EBENCHDISTRIBUTION', eventType: 'viewer-request', requestId: randomBytes(16).toString('base64url') },
        request: { clientIp: VIEWER_IP, headers, method, querystring: qs, uri },
      },
    }],
  };
}

/** 'pass' when the handler let the request through to the origin, else the generated status. */
export function outcomeOf(result: CloudFrontRequestResult): string {
  if (result && 'status' in result && result.status !== undefined) return String(result.status);
  return result && 'uri' in result ? 'pass' : 'invalid';
}
