import { RemovalPolicy, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from './nag';
import { ORIGIN_VERIFY_HEADER } from './shared/link';

/** The two deploy-time secrets CloudFront sends to S3, for one generation. */
export interface OriginSecretPair {
  /** Signed into every link as the x-origin-verify header. */
  readonly origin: secretsmanager.Secret;
  /** Sent as Referer; the bucket policy refuses whoever signs links without it. */
  readonly referer: secretsmanager.Secret;
}

/**
 * Creates the secrets of `generation`, plus the Referer secret of the generation before
 * it, which the bucket policy keeps accepting so that a rotation never refuses a request
 * while CloudFront switches over.
 *
 * Construct ids are part of the contract: generation 1 keeps the original ids
 * (`OriginSecret`, `RefererSecret`), generation N uses `OriginSecretGenN` and
 * `RefererSecretGenN`. Raising the generation therefore creates new secrets (new ARNs),
 * which changes every dynamic reference to them: CloudFormation then updates the
 * distribution, the bucket policy and the mint function, which a value changed in
 * place in Secrets Manager would not do.
 */
export function createOriginSecrets(
  scope: Construct,
  generation: number,
  removalPolicy: RemovalPolicy,
): { current: OriginSecretPair; previousReferer: secretsmanager.Secret | undefined } {
  const suffix = (gen: number) => (gen === 1 ? '' : `Gen${gen}`);
  const secret = (id: string, description: string) => {
    const s = new secretsmanager.Secret(scope, id, {
      description,
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy,
    });
    acknowledge(s, 'AwsSolutions-SMG4', 'Rotated by raising secretGeneration, which updates CloudFront, the bucket policy and the mint function together; a value rotated in place would reach none of them.');
    return s;
  };
  const refererDescription = 'Sent by CloudFront to S3 as Referer; the bucket policy refuses whoever signs links without it';
  return {
    current: {
      origin: secret(`OriginSecret${suffix(generation)}`,
        `Signed into every one-time link as the ${ORIGIN_VERIFY_HEADER} header; CloudFront adds it on the way to S3 (generation ${generation}).`),
      referer: secret(`RefererSecret${suffix(generation)}`, `${refererDescription} (generation ${generation}).`),
    },
    previousReferer: generation > 1
      ? secret(`RefererSecret${suffix(generation - 1)}`, `${refererDescription} (generation ${generation - 1}, accepted until the next rotation).`)
      : undefined,
  };
}
