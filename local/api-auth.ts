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
    try {
      verifySigV4(
        { method: req.method ?? 'GET', rawPath: q < 0 ? rawUrl : rawUrl.slice(0, q), rawQuery: q < 0 ? '' : rawUrl.slice(q + 1), rawHeaders: req.rawHeaders },
        // execute-api signs the hash of the body it received.
        { credentials: [credentials], region, service: 'execute-api', now: Date.now(), bodySha256: createHash('sha256').update(body).digest('hex') },
      );
      return undefined;
    } catch (err) {
      if (err instanceof S3AuthError && err.code === 'AccessDenied') return { status: 403, message: 'Forbidden' };
      if (err instanceof S3AuthError) return { status: 403, message: err.message };
      throw err;
    }
  };
}
