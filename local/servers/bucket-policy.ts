// The bucket policy the local S3 follows, in the shape the construct writes (aws-iam
// PolicyStatement JSON): Allow or Deny, for principal ARNs (or '*'), on actions and resource
// ARNs with `*`/`?` wildcards, and the two conditions the construct's policy uses: the one
// CDK's `enforceSSL` adds (`Bool: { aws:SecureTransport: 'false' }`) and the deny for every
// reader but the edge role (`ArnNotEquals: { aws:PrincipalArn: ... }`; "IAM JSON policy
// elements: Condition operators", ARN condition operators), and GuardDuty's tag-based access
// control of scanned uploads (`StringNotEquals: { s3:ExistingObjectTag/<key>: value }`). Anything else (NotPrincipal,
// NotAction, NotResource, other conditions) is refused when the policy is set, rather than misread.
//
// Evaluation follows the IAM User Guide, "Policy evaluation logic"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
// an explicit Deny in any policy wins; otherwise, within one account, an Allow in the
// identity policy OR in the resource (bucket) policy suffices; with neither, the request is
// implicitly denied. A statement naming the account (`arn:aws:iam::<account>:root` or the bare
// account id) grants nothing by itself: it delegates to the account's identity policies
// ("AWS JSON policy elements: Principal", AWS account principals), but its Deny applies to
// every principal of the account.
import { LOCAL_ACCOUNT_ID } from './identities';

export interface LocalPolicyStatement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal: '*' | { readonly AWS: string | readonly string[] };
  readonly Action: string | readonly string[];
  readonly Resource: string | readonly string[];
  readonly Condition?: {
    readonly Bool?: { readonly 'aws:SecureTransport': 'true' | 'false' | boolean };
    readonly ArnNotEquals?: { readonly 'aws:PrincipalArn': string | readonly string[] };
    /** Only `s3:ExistingObjectTag/<key>` keys. */
    readonly StringNotEquals?: Readonly<Record<string, string | readonly string[]>>;
  };
}

/** The condition key prefix of an object's existing tags ("Amazon S3 condition keys", Service Authorization Reference). */
export const EXISTING_OBJECT_TAG = 's3:ExistingObjectTag/';

/** Whether any statement of the policy reads the object's tags (the front then fetches them). */
export function readsObjectTags(policy: LocalBucketPolicy): boolean {
  return policy.Statement.some((st) => Object.keys(st.Condition?.StringNotEquals ?? {}).some((k) => k.startsWith(EXISTING_OBJECT_TAG)));
}

export interface LocalBucketPolicy {
  readonly Version?: string;
  readonly Statement: readonly LocalPolicyStatement[];
}

/** One request, as the policy sees it. */
export interface PolicyRequest {
  /** The IAM user or role ARN that signed (a role session counts as its role). */
  readonly principalArn: string;
  /** e.g. `s3:GetObject`. */
  readonly action: string;
  /** `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`. */
  readonly resource: string;
  /** Whether the request came over TLS (aws:SecureTransport). */
  readonly secureTransport: boolean;
  /** The object's tags, for `s3:ExistingObjectTag/<key>` (absent: the request addresses no existing object). */
  readonly objectTags?: Readonly<Record<string, string>>;
}

/** What the bucket policy says about a request: an explicit deny, an allow, or nothing. */
export type PolicyDecision = 'deny' | 'allow' | 'none';

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition']);

/** Throws on a policy the local S3 cannot evaluate faithfully. */
export function validateBucketPolicy(policy: LocalBucketPolicy): void {
  if (!Array.isArray(policy?.Statement)) throw new Error('bucket policy: Statement must be a list');
  for (const [i, st] of policy.Statement.entries()) {
    const where = `bucket policy statement ${st.Sid ?? i}`;
    for (const key of Object.keys(st)) if (!STATEMENT_KEYS.has(key)) throw new Error(`${where}: ${key} is not supported by the local S3`);
    if (st.Effect !== 'Allow' && st.Effect !== 'Deny') throw new Error(`${where}: Effect must be Allow or Deny`);
    if (st.Principal !== '*' && (typeof st.Principal !== 'object' || st.Principal.AWS === undefined || Object.keys(st.Principal).length !== 1)) {
      throw new Error(`${where}: Principal must be '*' or { AWS: ... }`);
    }
    if (st.Condition !== undefined) {
      const { Bool, ArnNotEquals, StringNotEquals, ...others } = st.Condition;
      const ok = Object.keys(others).length === 0 && (Bool !== undefined || ArnNotEquals !== undefined || StringNotEquals !== undefined)
        && (Bool === undefined || (Object.keys(Bool).length === 1 && ['true', 'false'].includes(String(Bool['aws:SecureTransport']))))
        && (ArnNotEquals === undefined || Object.keys(ArnNotEquals).length === 1 && ArnNotEquals['aws:PrincipalArn'] !== undefined)
        && (StringNotEquals === undefined || Object.keys(StringNotEquals).length > 0
          && Object.keys(StringNotEquals).every((k) => k.startsWith(EXISTING_OBJECT_TAG)));
      if (!ok) {
        throw new Error(`${where}: only Bool aws:SecureTransport, ArnNotEquals aws:PrincipalArn and StringNotEquals ${EXISTING_OBJECT_TAG}* conditions are supported by the local S3`);
      }
    }
  }
}

/** What the bucket policy decides for one request: an explicit Deny wins over any Allow. */
export function evaluateBucketPolicy(policy: LocalBucketPolicy, req: PolicyRequest): PolicyDecision {
  let allowed = false;
  for (const st of policy.Statement) {
    if (!listOf(st.Action).some((a) => wildcard(a, req.action, true))) continue;
    if (!listOf(st.Resource).some((r) => wildcard(r, req.resource, false))) continue;
    const bool = st.Condition?.Bool;
    if (bool && String(bool['aws:SecureTransport']) !== String(req.secureTransport)) continue;
    const notArns = st.Condition?.ArnNotEquals?.['aws:PrincipalArn'];
    if (notArns !== undefined && listOf(notArns).some((arn) => wildcard(arn, req.principalArn, false))) continue;
    // A negated operator matches a request that lacks the key (IAM User Guide, "IAM JSON policy
    // elements: Condition operators", negated matching operators), so an untagged object matches
    // StringNotEquals: GuardDuty's tag-based access control denies it until a scan tags it.
    const notTags = Object.entries(st.Condition?.StringNotEquals ?? {});
    if (notTags.some(([key, values]) => listOf(values).includes(req.objectTags?.[key.slice(EXISTING_OBJECT_TAG.length)] ?? '\u0000absent'))) continue;
    const principals = st.Principal === '*' ? ['*'] : listOf(st.Principal.AWS);
    if (st.Effect === 'Deny') {
      if (principals.some((p) => p === '*' || p === req.principalArn || isAccount(p))) return 'deny';
    } else if (principals.some((p) => p === '*' || p === req.principalArn)) {
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'none';
}

/** The IAM action an S3 operation is authorized as (HeadObject is s3:GetObject, listing is s3:ListBucket). */
export function s3Action(operation: string): string {
  const actions: Record<string, string> = {
    HeadObject: 's3:GetObject',
    ListObjects: 's3:ListBucket',
    ListObjectsV2: 's3:ListBucket',
    HeadBucket: 's3:ListBucket',
    ListBuckets: 's3:ListAllMyBuckets',
    CopyObject: 's3:PutObject',
    CreateMultipartUpload: 's3:PutObject',
    UploadPart: 's3:PutObject',
    UploadPartCopy: 's3:PutObject',
    CompleteMultipartUpload: 's3:PutObject',
    ListParts: 's3:ListMultipartUploadParts',
    ListMultipartUploads: 's3:ListBucketMultipartUploads',
    DeleteObjects: 's3:DeleteObject',
  };
  return actions[operation] ?? `s3:${operation}`;
}

function isAccount(principal: string): boolean {
  return principal === LOCAL_ACCOUNT_ID || principal === `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root`;
}

function listOf(value: string | readonly string[]): readonly string[] {
  return typeof value === 'string' ? [value] : value;
}

/** IAM's wildcards: `*` any run of characters, `?` one character. Actions compare case-insensitively. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}
