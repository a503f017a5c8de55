// The origin-request trigger's signature (src/handlers/origin-signing.ts), checked by the local
// S3's SigV4 verifier as S3 would check it: for exactly the host, path and query CloudFront
// sends, with the function's own session, valid for a minute.
import { Sha256 } from '@aws-crypto/sha256-js';
import type { CloudFrontRequest } from 'aws-lambda';
import { verifySigV4 } from '../local/servers/sigv4';
import { ORIGIN_SIGNATURE_SECONDS, signOriginRequest } from '../src/handlers/origin-signing';
import { keyToPath } from '../src/shared/link';

const HOST = 'downloads.s3.eu-west-1.amazonaws.com';
const SESSION = { accessKeyId: 'ASIAEXAMPLEEXAMPLE01', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', sessionToken: 'IQoJb3JpZ2luX2Vj+/token==' };
const client = () => ({ config: { credentials: async () => SESSION, sha256: Sha256 } });

function originRequest(uri: string, querystring: string): CloudFrontRequest {
  return {
    clientIp: '203.0.113.7',
    method: 'GET',
    uri,
    querystring,
    headers: {},
    origin: { s3: { authMethod: 'none', customHeaders: {}, domainName: HOST, path: '' } },
  };
}

const verify = (req: CloudFrontRequest, now = Date.now()) => verifySigV4(
  { method: 'GET', rawPath: req.uri, rawQuery: req.querystring, rawHeaders: ['Host', HOST] },
  { credentials: [SESSION], region: 'eu-west-1', service: 's3', now },
);

describe('the origin-request signature', () => {
  it('signs the key\'s path and the link id for S3, with the session token, for a minute', async () => {
    const key = 'reports/q4 (final)+draft é.pdf';
    const signed = await signOriginRequest(originRequest(keyToPath(key), 'x-link-id=AAAAAAAAAAAAAAAAAAAAAA'), 'eu-west-1', client);
    expect(signed.uri).toBe(keyToPath(key));
    const query = new URLSearchParams(signed.querystring);
    expect(query.get('x-link-id')).toBe('AAAAAAAAAAAAAAAAAAAAAA');
    expect(query.get('X-Amz-Expires')).toBe(String(ORIGIN_SIGNATURE_SECONDS));
    expect(query.get('X-Amz-Security-Token')).toBe(SESSION.sessionToken);
    expect(verify(signed)).toMatchObject({ mechanism: 'query', accessKeyId: SESSION.accessKeyId });
  });

  it('is refused by S3 for another key, another query, or after its minute', async () => {
    const signed = await signOriginRequest(originRequest('/a.txt', 'x-link-id=AAAAAAAAAAAAAAAAAAAAAA'), 'eu-west-1', client);
    expect(() => verify({ ...signed, uri: '/b.txt' })).toThrow(/SignatureDoesNotMatch|signature/i);
    expect(() => verify({ ...signed, querystring: signed.querystring.replace('x-link-id=A', 'x-link-id=B') })).toThrow();
    expect(() => verify(signed, Date.now() + (ORIGIN_SIGNATURE_SECONDS + 5) * 1000)).toThrow(/expired/i);
  });

  it('refuses to sign a request without an S3 origin', async () => {
    const req = originRequest('/a.txt', '');
    delete req.origin;
    await expect(signOriginRequest(req, 'eu-west-1', client)).rejects.toThrow(/no S3 origin/);
  });
});
