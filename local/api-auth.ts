// The local mint API's default authorizer: SigV4 for service execute-api, as the
// deployed HTTP API's IAM authorization does.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { S3AuthError, verifySigV4, type SigV4Credentials } from './servers';

export type ApiAuthorizer = (req: IncomingMessage, body: Buffer) => { status: number; message: string } | undefined;

export function sigV4ApiAuthorizer(credentials: SigV4Credentials, region: string): ApiAuthorizer {
  return (req, body) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    // execute-api signs the hash of the body it received; the shared verifier reads the
    // payload hash from x-amz-content-sha256 (S3's way), so supply it. It only enters
    // the signature if the caller also signed that header.
    const rawHeaders = req.headers['x-amz-content-sha256'] === undefined
      ? [...req.rawHeaders, 'x-amz-content-sha256', createHash('sha256').update(body).digest('hex')]
      : req.rawHeaders;
    try {
      verifySigV4(
        { method: req.method ?? 'GET', rawPath: q < 0 ? rawUrl : rawUrl.slice(0, q), rawQuery: q < 0 ? '' : rawUrl.slice(q + 1), rawHeaders },
        { credentials: [credentials], region, service: 'execute-api', now: Date.now() },
      );
      return undefined;
    } catch (err) {
      if (err instanceof S3AuthError && err.code === 'AccessDenied') return { status: 403, message: 'Forbidden' };
      if (err instanceof S3AuthError) return { status: 403, message: err.message };
      throw err;
    }
  };
}
