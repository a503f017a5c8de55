// How links are signed, chosen on the construct (linkSigning). A presigned URL stops
// working when the credentials that signed it expire, whatever X-Amz-Expires says, so
// each mode states the longest lifetime it guarantees, and the construct refuses at synth
// a maxLinkLifetime its mode cannot keep.
import {
  Duration, RemovalPolicy, SecretValue, Stack, aws_iam as iam, aws_s3 as s3, aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from './nag';
import { MintEnv, ROLE_CHAINING_MAX_SECONDS, SIGNER_ROLE_MAX_LINK_SECONDS, SigningMode } from './shared/config';
import { MAX_SIGV4_EXPIRES_SECONDS } from './shared/link';

/**
 * Options of {@link LinkSigning.dedicatedKey}.
 */
export interface DedicatedKeyOptions {
  /**
   * Generation of the signing key. Raise it by exactly one to rotate: a new IAM user and
   * access key are created, their key pair goes into a new secret, and the mint function
   * signs new links with it. The previous generation's user and key stay, so links it
   * signed keep working until they expire; the next rotation (or `keepPreviousKey: false`)
   * deletes them. Wait at least `maxLinkLifetime` between two rotations. Never skip a
   * number or go back: the generation kept as "previous" is always this one minus one, so
   * a skip deletes the key outstanding links carry (synth cannot tell: it has no memory of
   * the deployed generation).
   *
   * @default 1
   */
  readonly keyGeneration?: number;

  /**
   * Keep the previous generation's user and key after a rotation, so the links it signed
   * keep working until they expire. Set it to `false` once `maxLinkLifetime` has passed
   * since the rotation to retire the old key early (or at once, after a leak: every link
   * it signed stops working). Once retired, leave it `false` until the next rotation:
   * setting it back to `true` creates a new, unused key for the previous generation.
   *
   * @default true
   */
  readonly keepPreviousKey?: boolean;
}

/** What a signing mode made, for the construct to wire in. @internal */
export interface BoundLinkSigning {
  /** Environment variables of the mint function. */
  readonly environment: Record<string, string>;
  /** Principals whose signatures links carry: the bucket policy makes them read through CloudFront only. */
  readonly signerArns: string[];
}

/** What a signing mode needs from the construct. @internal */
export interface LinkSigningContext {
  readonly mintRole: iam.IRole;
  readonly bucket: s3.IBucket;
  readonly allowedKeyPrefixes: string[];
}

/**
 * Which credentials sign links, and so how long a link can live.
 *
 * A presigned URL stops working when the credentials that signed it expire, whatever its
 * `X-Amz-Expires` says. Every mode below guarantees its links live until their
 * `expiresAt`; they differ in the longest lifetime they can guarantee and in what they
 * keep in your account.
 */
export abstract class LinkSigning {
  /**
   * A dedicated IAM user whose only permission is `s3:GetObject` on the allowed prefixes
   * (and `kms:Decrypt` on the bucket's key), with one access key. The key pair is stored
   * in Secrets Manager (its value is never in a template, a log, an environment variable
   * or a URL); the mint function reads it once per container and re-reads it after five
   * minutes. Long-term keys do not expire, so links live up to 7 days (the SigV4 limit).
   * The bucket policy of a bucket the construct creates lets this user read only through
   * CloudFront.
   */
  public static dedicatedKey(options: DedicatedKeyOptions = {}): LinkSigning {
    return new DedicatedKeySigning(options);
  }

  /**
   * A role the mint function assumes through STS, with `s3:GetObject` on the allowed
   * prefixes. STS says when each session ends; the mint renews a session before it is too
   * short for the link it signs. The function's own credentials come from a role, so this
   * is role chaining, which STS limits to one hour: links live up to 50 minutes (a session
   * must outlive its links by a minute, and signs the longest ones for ten minutes before
   * the next STS call). Nothing long-lived is stored.
   */
  public static signerRole(): LinkSigning {
    return new SignerRoleSigning();
  }

  /**
   * An access key pair you keep in an existing secret, as the JSON
   * `{ "accessKeyId": "...", "secretAccessKey": "..." }`, belonging to `user`. The
   * construct grants `user` `s3:GetObject` on the allowed prefixes and the mint function
   * read access to the secret. Links live up to 7 days (the key must be a long-term IAM
   * user key; with temporary credentials in the secret, add `sessionToken` and
   * `expiration` and the mint issues only links that end before them). Rotate in place:
   * put a second key of the user in the secret, wait five minutes plus `maxLinkLifetime`,
   * then delete the old key.
   *
   * @param secret the secret holding the key pair. If it is encrypted with a customer managed
   * key, pass one that knows it (`Secret.fromSecretAttributes` with `encryptionKey`), so the
   * mint function is granted `kms:Decrypt` too.
   * @param user the IAM user the key belongs to. Import it by ARN (`User.fromUserArn`) if it
   * has a path: the bucket policy names the signer by ARN, and `User.fromUserName` assumes none.
   */
  public static fromSecret(secret: secretsmanager.ISecret, user: iam.IUser): LinkSigning {
    return new SecretSigning(secret, user);
  }

  /** The factory that made this mode, for messages: for example `LinkSigning.dedicatedKey()`. */
  public abstract readonly mode: string;

  /** Longest link lifetime this mode guarantees. */
  public abstract readonly maxLinkLifetime: Duration;

  /** Modes come from the static factories: the construct binds only those. */
  protected constructor() {}

  /** Creates what the mode needs and says how the mint signs. @internal */
  public abstract _bind(scope: Construct, context: LinkSigningContext): BoundLinkSigning;
}

/** Grants a signing principal read access to the objects links may point at. */
function grantSignerRead(principal: iam.IIdentity, context: LinkSigningContext): void {
  const objectArns = context.allowedKeyPrefixes.map((prefix) => context.bucket.arnForObjects(`${prefix}*`));
  principal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objectArns }));
  context.bucket.encryptionKey?.grantDecrypt(principal);
  const reason = context.allowedKeyPrefixes.includes('')
    ? 'Presigned URLs carry the signer\'s permission, so the signer must read every object it may link to: the whole bucket unless allowedKeyPrefixes narrows it.'
    : 'Object access is scoped to allowedKeyPrefixes (prefix*), exactly the objects links may point at.';
  for (const arn of objectArns) acknowledge(principal, `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(principal), arn)}]`, reason);
}

class DedicatedKeySigning extends LinkSigning {
  public readonly mode = 'LinkSigning.dedicatedKey()';
  public readonly maxLinkLifetime = Duration.seconds(MAX_SIGV4_EXPIRES_SECONDS);
  private readonly generation: number;
  private readonly keepPrevious: boolean;

  constructor(options: DedicatedKeyOptions) {
    super();
    const generation = options.keyGeneration ?? 1;
    if (!Number.isInteger(generation) || generation < 1) {
      throw new Error(`keyGeneration (LinkSigning.dedicatedKey) must be a whole number of at least 1; got ${generation}`);
    }
    this.generation = generation;
    this.keepPrevious = options.keepPreviousKey ?? true;
  }

  public _bind(scope: Construct, context: LinkSigningContext): BoundLinkSigning {
    // Construct ids are part of the contract, as with secretGeneration: generation 1 keeps
    // plain ids, generation N adds GenN. One user per generation with one key each, so a
    // rotation never needs a third key on one user (IAM allows two, and CloudFormation
    // creates the new key before it deletes the old).
    const suffix = (gen: number) => (gen === 1 ? '' : `Gen${gen}`);
    const signer = (gen: number): iam.User => {
      const user = new iam.User(scope, `SigningUser${suffix(gen)}`);
      grantSignerRead(user, context);
      return user;
    };
    const current = signer(this.generation);
    const key = new iam.AccessKey(scope, `SigningKey${suffix(this.generation)}`, { user: current });
    const secret = new secretsmanager.Secret(scope, `SigningKeySecret${suffix(this.generation)}`, {
      description: `Access key pair that signs one-time links (signing key generation ${this.generation})`,
      // A reference to the key's SecretAccessKey attribute: the value never enters the template.
      secretObjectValue: {
        accessKeyId: SecretValue.unsafePlainText(key.accessKeyId),
        secretAccessKey: key.secretAccessKey,
      },
      // The secret is only a copy of the key, which leaves with its user.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(secret, 'AwsSolutions-SMG4',
      'Rotated by raising keyGeneration (LinkSigning.dedicatedKey): a new user, key and secret, with the previous key kept until its links have expired. '
      + 'Rotation in place would change the key under links already issued.');
    context.mintRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }));
    const signers = [current];
    if (this.generation > 1 && this.keepPrevious) {
      const previous = signer(this.generation - 1);
      new iam.AccessKey(scope, `SigningKey${suffix(this.generation - 1)}`, { user: previous });
      signers.push(previous);
    }
    return {
      environment: { [MintEnv.signingMode]: SigningMode.KEY_SECRET, [MintEnv.signingSecretArn]: secret.secretArn },
      signerArns: signers.map((u) => u.userArn),
    };
  }
}

class SignerRoleSigning extends LinkSigning {
  public readonly mode = 'LinkSigning.signerRole()';
  public readonly maxLinkLifetime = Duration.seconds(SIGNER_ROLE_MAX_LINK_SECONDS);

  public _bind(scope: Construct, context: LinkSigningContext): BoundLinkSigning {
    const role = new iam.Role(scope, 'SignerRole', {
      assumedBy: new iam.ArnPrincipal(context.mintRole.roleArn),
      maxSessionDuration: Duration.seconds(ROLE_CHAINING_MAX_SECONDS),
      description: 'Signs one-time links: every link carries this role\'s permission to read the object',
    });
    role.grantAssumeRole(context.mintRole);
    grantSignerRead(role, context);
    return {
      environment: {
        [MintEnv.signingMode]: SigningMode.SIGNER_ROLE,
        [MintEnv.signerRoleArn]: role.roleArn,
        [MintEnv.signerSessionSeconds]: String(ROLE_CHAINING_MAX_SECONDS),
      },
      signerArns: [role.roleArn],
    };
  }
}

class SecretSigning extends LinkSigning {
  public readonly mode = 'LinkSigning.fromSecret()';
  public readonly maxLinkLifetime = Duration.seconds(MAX_SIGV4_EXPIRES_SECONDS);

  constructor(private readonly secret: secretsmanager.ISecret, private readonly user: iam.IUser) {
    super();
  }

  public _bind(_scope: Construct, context: LinkSigningContext): BoundLinkSigning {
    grantSignerRead(this.user, context);
    // grantRead: also kms:Decrypt when the secret is encrypted with a customer managed key.
    this.secret.grantRead(context.mintRole);
    return {
      environment: { [MintEnv.signingMode]: SigningMode.KEY_SECRET, [MintEnv.signingSecretArn]: this.secret.secretArn },
      signerArns: [this.user.userArn],
    };
  }
}
