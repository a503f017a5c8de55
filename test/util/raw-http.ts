// Raw requests for the emulator tests: paths and Host sent byte for byte, as S3 and
// CloudFront receive them (the SDKs and fetch would normalise both).
import { request } from 'node:http';
import type { HttpRequest } from '@smithy/protocol-http';

/** RFC 3986 percent-encoding, written here rather than imported so the tests check the emulators independently. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** How SDKs write a key into a path: each segment encoded once, '/' kept ('~' stays raw). */
export function keyPath(key: string): string {
  return '/' + key.split('/').map(rfc3986).join('/');
}

/** A presigned request's query as a signer writes it. */
export function queryString(query: HttpRequest['query']): string {
  const pieces: string[] = [];
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value ?? ''];
    for (const v of values) pieces.push(`${rfc3986(name)}=${rfc3986(v ?? '')}`);
  }
  return pieces.join('&');
}

export interface RawResponse {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/** A plain HTTP request to 127.0.0.1, with full control over Host and the raw path. */
export function send(
  endpoint: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawResponse> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
