import { Sha256 } from '@aws-crypto/sha256-js';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { HttpRequest } from '@smithy/protocol-http';
import { buildQuery, keyToPath, LINK_GENERATION_PARAM, LINK_ID_PARAM, LINK_SIZE_PARAM, LINK_WINDOW_PARAM, ORIGIN_VERIFY_HEADER } from '../../src/shared/link';

export interface PresignOptions {
  readonly host: string;
  readonly key: string;
  readonly id: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly region: string;
  readonly originSecret: string;
  readonly expiresIn: number;
  readonly signingDate?: Date;
  /** Origin secret generation signed into the link. @default 1 */
  readonly generation?: number;
  /** Download window signed into the link, in seconds. @default 1800 */
  readonly windowSeconds?: number;
  /** Object size signed into the link. @default 1000 */
  readonly size?: number;
}

/** A link's query string, signed the way the mint signs it, for a host of the test's choosing. */
export async function presignLinkQuery(o: PresignOptions): Promise<string> {
  const presigner = new S3RequestPresigner({ region: o.region, credentials: o.credentials, sha256: Sha256 });
  const signed = await presigner.presign(new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: o.host,
    path: keyToPath(o.key),
    query: {
      [LINK_ID_PARAM]: o.id,
      [LINK_GENERATION_PARAM]: String(o.generation ?? 1),
      [LINK_WINDOW_PARAM]: String(o.windowSeconds ?? 1800),
      [LINK_SIZE_PARAM]: String(o.size ?? 1000),
    },
    headers: { host: o.host, [ORIGIN_VERIFY_HEADER]: o.originSecret },
  }), { expiresIn: o.expiresIn, signingDate: o.signingDate });
  return buildQuery(Object.entries(signed.query ?? {}).map(([k, v]) => [k, String(v)]));
}
