// The origin-request trigger: signs the one request CloudFront sends to S3 for a download the
// viewer-request trigger let through, with the edge function's own role session (the
// credentials Lambda puts in its environment), valid for a minute. Nothing a viewer holds
// is a signature, so nothing a viewer holds works at S3, and no key or secret exists to leak
// or rotate. Signing here rather than in the viewer-request trigger: what an origin-request
// function returns is what CloudFront sends to the origin ("Lambda@Edge event structure",
// origin request events), with no origin request policy in between.
//
// Only requests the viewer-request trigger passed reach this trigger (it runs for the same
// cache behaviour, after it), and that trigger set the path to the key the ledger recorded.
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, ChecksumConstructor, HashConstructor } from '@smithy/types';
import type { CloudFrontRequest } from 'aws-lambda';
import { buildQuery, parseQuery } from '../shared/link';

/** How long S3 accepts a signature made now: CloudFront sends the request at once. */
export const ORIGIN_SIGNATURE_SECONDS = 60;

/** What signing needs from an SDK client: its credentials and its SHA-256. */
export interface SigningClient {
  readonly config: { sha256: ChecksumConstructor | HashConstructor; credentials(): Promise<AwsCredentialIdentity> };
}

export async function signOriginRequest(request: CloudFrontRequest, region: string, client: () => SigningClient): Promise<CloudFrontRequest> {
  const host = request.origin?.s3?.domainName;
  if (!host) throw new Error('origin-request: the request has no S3 origin');
  const query = parseQuery(request.querystring);
  if (!query.ok) throw new Error(`origin-request: ${query.reason}`);
  const { config } = client();
  // An upload's If-None-Match (upload.ts) is signed: S3 refuses a PUT that lost it on the way
  // rather than replace an object.
  const conditional = request.headers['if-none-match']?.[0]?.value;
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: await config.credentials(),
    sha256: config.sha256,
    // The path is already the key's encoding (keyToPath), which S3 does not encode again.
    uriEscapePath: false,
    applyChecksum: false,
  });
  const signed = await signer.presign(new HttpRequest({
    method: request.method,
    protocol: 'https:',
    hostname: host,
    path: request.uri,
    query: Object.fromEntries(query.value),
    // S3 signs query-authenticated requests with an unsigned payload (moved into the query).
    headers: { 'host': host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...(conditional === undefined ? {} : { 'if-none-match': conditional }) },
  }), { expiresIn: ORIGIN_SIGNATURE_SECONDS });
  request.querystring = buildQuery(Object.entries(signed.query ?? {}).map(([name, value]) => [name, String(value)]));
  return request;
}
