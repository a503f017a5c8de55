// Calls the mint API the way a backend does: SigV4-signed for service execute-api.
// Used by the demo, the tests and the benchmark.
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface ApiCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface ApiRequest {
  readonly method?: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
  json<T = unknown>(): T;
}

/** Sends a SigV4-signed request (service `execute-api`); pass no credentials to send it unsigned. */
export async function callApi(url: string, region: string, credentials: ApiCredentials | undefined, req: ApiRequest = {}): Promise<ApiResponse> {
  const u = new URL(url);
  const query: Record<string, string> = {};
  for (const [k, v] of u.searchParams) query[k] = v;
  let headers: Record<string, string> = { host: u.host, ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}), ...req.headers };
  if (credentials) {
    const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256 });
    const signed = await signer.sign(new HttpRequest({
      method: req.method ?? 'GET',
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port) || undefined,
      path: u.pathname,
      query,
      headers,
      body: req.body,
    }));
    headers = signed.headers;
  }
  const { host: _host, ...sendable } = headers;
  const res = await fetch(url, { method: req.method ?? 'GET', headers: sendable, body: req.body });
  const body = await res.text();
  return { status: res.status, body, json: <T>() => JSON.parse(body) as T };
}
