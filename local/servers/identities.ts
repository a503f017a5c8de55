// The local account's identities, as IAM and STS keep them: users with long-term access
// keys, roles whose sessions end, and what each principal may read. The local S3 and STS
// look keys up here, so a deleted key or an ended session stops working everywhere at once.
import { randomBytes } from 'node:crypto';
import type { SigV4Credentials } from './sigv4';

export const LOCAL_ACCOUNT_ID = '123456789012';

/** Credentials as the local services know them: always with the principal they belong to. */
export interface LocalCredentials extends SigV4Credentials {
  readonly principalArn: string;
}

interface Principal {
  /** Key prefixes the principal's identity policy lets it read (s3:GetObject); undefined: any object (an administrator). */
  readonly readPrefixes?: readonly string[];
  /** Key prefixes its identity policy lets it write (s3:PutObject); undefined: any object (an administrator). */
  readonly writePrefixes?: readonly string[];
}

const keyId = (prefix: 'AKIA' | 'ASIA') => prefix + randomBytes(8).toString('hex').toUpperCase();
const secretKey = () => randomBytes(30).toString('base64');

export class LocalIdentities {
  private readonly principals = new Map<string, Principal>();
  private readonly keys = new Map<string, LocalCredentials>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Creates an IAM user; `readPrefixes` is its identity policy's s3:GetObject scope. */
  createUser(name: string, readPrefixes?: readonly string[]): string {
    const arn = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${name}`;
    this.principals.set(arn, { readPrefixes });
    return arn;
  }

  /**
   * Creates a role (a Lambda function's execution role); `readPrefixes` is its identity
   * policy's s3:GetObject scope, `writePrefixes` its s3:PutObject scope.
   */
  createRole(name: string, opts: { readPrefixes?: readonly string[]; writePrefixes?: readonly string[] } = {}): string {
    const arn = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${name}`;
    this.principals.set(arn, { readPrefixes: opts.readPrefixes, writePrefixes: opts.writePrefixes });
    return arn;
  }

  /** A long-term access key of a user (AKIA...): valid until deleted. */
  createAccessKey(userArn: string, fixed?: { accessKeyId: string; secretAccessKey: string }): LocalCredentials {
    this.principal(userArn);
    const key: LocalCredentials = { accessKeyId: fixed?.accessKeyId ?? keyId('AKIA'), secretAccessKey: fixed?.secretAccessKey ?? secretKey(), principalArn: userArn };
    this.keys.set(key.accessKeyId, key);
    return key;
  }

  deleteAccessKey(accessKeyId: string): void {
    this.keys.delete(accessKeyId);
  }

  /**
   * A role session (ASIA..., with a session token) that ends `seconds` from now, as Lambda
   * gives a function for its execution role. The token always has
   * '+' and '/' in it, like many real ones.
   */
  createSession(roleArn: string, seconds: number): LocalCredentials & { readonly sessionToken: string; readonly sessionEndsAt: number } {
    this.principal(roleArn);
    const session = {
      accessKeyId: keyId('ASIA'),
      secretAccessKey: secretKey(),
      sessionToken: `IQoJb3JpZ2luX2Vj+/${randomBytes(96).toString('base64')}+/`,
      sessionEndsAt: this.now() + seconds * 1000,
      principalArn: roleArn,
    };
    this.keys.set(session.accessKeyId, session);
    return session;
  }

  /** The key's credentials, ended sessions included (the services answer ExpiredToken for those). */
  find(accessKeyId: string): LocalCredentials | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Whether the principal's identity policy allows s3:GetObject on `key`. */
  mayRead(principalArn: string, key: string): boolean {
    const prefixes = this.principals.get(principalArn)?.readPrefixes;
    return prefixes === undefined || prefixes.some((p) => key.startsWith(p));
  }

  /** Whether the principal's identity policy allows s3:PutObject on `key`. */
  mayWrite(principalArn: string, key: string): boolean {
    const prefixes = this.principals.get(principalArn)?.writePrefixes;
    return prefixes === undefined || prefixes.some((p) => key.startsWith(p));
  }

  private principal(arn: string): Principal {
    const p = this.principals.get(arn);
    if (!p) throw new Error(`no such principal ${arn}`);
    return p;
  }
}
