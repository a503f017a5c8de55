import { Agent, request } from 'node:http';

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  text(): string;
}

const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

/**
 * A raw HTTP/1.1 request to 127.0.0.1 with full control of the path and headers
 * (fetch forbids setting Host, which the bypass tests need).
 */
export interface HttpOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  /** Path and query exactly as sent. @default the URL's own, unnormalised */
  readonly rawPath?: string;
  /**
   * Source address to send from: any 127.x.y.z (Linux routes all of 127.0.0.0/8 to
   * loopback), so a test can be several viewers with different client IPs.
   * @default the OS's choice (127.0.0.1)
   */
  readonly localAddress?: string;
}

export function http(url: string, opts: HttpOptions = {}): Promise<HttpResult> {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`tests only talk to 127.0.0.1, not ${u.hostname}`);
  if (opts.localAddress !== undefined && !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(opts.localAddress)) {
    throw new Error(`tests only send from 127.0.0.0/8, not ${opts.localAddress}`);
  }
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname,
      port: u.port,
      method: opts.method ?? 'GET',
      path: opts.rawPath ?? rawPathOf(url),
      headers: opts.headers,
      localAddress: opts.localAddress,
      agent,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: () => body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Path and query of a URL exactly as written (URL normalises some escapes). */
export function rawPathOf(url: string): string {
  return url.replace(/^https?:\/\/[^/]+/, '');
}
