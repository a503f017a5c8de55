// Malware scanning of what upload links receive: a GuardDuty Malware Protection for S3 plan
// on the bucket, limited to the upload prefixes, with the service role GuardDuty assumes.
import { Aws, Stack, Token, aws_events as events, aws_guardduty as guardduty, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge, nagResource } from './nag';

/**
 * `detail-type` of the event GuardDuty publishes on the default bus of the bucket's account
 * and Region once it has scanned an object ("Monitoring S3 object scans with Amazon
 * EventBridge", GuardDuty User Guide). Its detail holds `scanStatus` (COMPLETED, SKIPPED,
 * FAILED), `s3ObjectDetails` (bucketName, objectKey, eTag, versionId, s3Throttled) and
 * `scanResultDetails` (scanResultStatus NO_THREATS_FOUND, THREATS_FOUND, UNSUPPORTED,
 * ACCESS_DENIED or FAILED, and the threats found).
 */
export const SCAN_RESULT_DETAIL_TYPE = 'GuardDuty Malware Protection Object Scan Result';
/** `source` of GuardDuty's events. */
export const GUARDDUTY_EVENT_SOURCE = 'aws.guardduty';
/** The service that assumes a Malware Protection plan's role. */
const PLAN_SERVICE = 'malware-protection-plan.guardduty.amazonaws.com';
/** Names of the EventBridge managed rules GuardDuty creates to hear the bucket's object events. */
const MANAGED_RULE_NAMES = 'DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*';
/** The object GuardDuty writes to check it may use the bucket. */
const VALIDATION_OBJECT = 'malware-protection-resource-validation-object';

export interface UploadScanningProps {
  readonly bucket: s3.IBucket;
  /** Key prefixes to scan; `''` scans the whole bucket. */
  readonly prefixes: string[];
}

/**
 * A Malware Protection for S3 plan on the bucket, scanning every object written under the
 * prefixes and tagging it with the result (`GuardDutyMalwareScanStatus`), and the role the
 * plan uses. The role has the permissions of AWS's "Create or update IAM role policy"
 * (GuardDuty User Guide, Malware Protection for S3,
 * https://docs.aws.amazon.com/guardduty/latest/ug/malware-protection-s3-iam-policy-prerequisite.html),
 * with object access narrowed to the prefixes.
 */
export class UploadScanning extends Construct {
  public readonly role: iam.Role;
  public readonly plan: guardduty.CfnMalwareProtectionPlan;
  private readonly bucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: UploadScanningProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { bucket, prefixes } = props;
    this.bucket = bucket;
    // A plan protects a bucket of its own account and Region.
    for (const [what, bucketValue, stackValue] of [['Region', bucket.env.region, stack.region], ['account', bucket.env.account, stack.account]]) {
      if (!Token.isUnresolved(bucketValue) && !Token.isUnresolved(stackValue) && bucketValue !== stackValue) {
        throw new Error(`scanUploads needs the bucket in the construct's own ${what} (a GuardDuty Malware Protection plan protects a bucket of its account and Region); `
          + `got bucket ${bucket.node.path} in ${bucketValue} and the stack in ${stackValue}`);
      }
    }
    const wholeBucket = prefixes.includes('');
    const objectArns = wholeBucket ? [bucket.arnForObjects('*')] : prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
    const managedRules = `arn:${Aws.PARTITION}:events:${stack.region}:${Aws.ACCOUNT_ID}:rule/${MANAGED_RULE_NAMES}`;

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal(PLAN_SERVICE),
      description: 'Lets GuardDuty Malware Protection for S3 scan and tag the objects upload links receive',
    });
    const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
    // The managed rule that hears the bucket's object events, created and watched by GuardDuty only.
    allow('AllowManagedRuleToSendS3EventsToGuardDuty', ['events:PutRule', 'events:DeleteRule', 'events:PutTargets', 'events:RemoveTargets'],
      [managedRules], { StringLike: { 'events:ManagedBy': PLAN_SERVICE } });
    allow('AllowGuardDutyToMonitorEventBridgeManagedRule', ['events:DescribeRule', 'events:ListTargetsByRule'], [managedRules]);
    // The scan result as object tags (actions.tagging).
    allow('AllowPostScanTag', ['s3:PutObjectTagging', 's3:GetObjectTagging', 's3:PutObjectVersionTagging', 's3:GetObjectVersionTagging'], objectArns);
    // The bucket's EventBridge notifications, which the managed rule listens to.
    allow('AllowEnableS3EventBridgeEvents', ['s3:PutBucketNotification', 's3:GetBucketNotification'], [bucket.bucketArn]);
    allow('AllowPutValidationObject', ['s3:PutObject'], [bucket.arnForObjects(VALIDATION_OBJECT)]);
    allow('AllowCheckBucketOwnership', ['s3:ListBucket'], [bucket.bucketArn]);
    allow('AllowMalwareScan', ['s3:GetObject', 's3:GetObjectVersion'], objectArns);
    if (bucket.encryptionKey) {
      allow('AllowDecryptForMalwareScan', ['kms:GenerateDataKey', 'kms:Decrypt'], [bucket.encryptionKey.keyArn],
        { StringLike: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } });
    }
    for (const arn of [managedRules, ...objectArns]) {
      acknowledge(this.role, `AwsSolutions-IAM5[Resource::${nagResource(stack, arn)}]`,
        'The permissions AWS documents for a Malware Protection for S3 role: GuardDuty names its managed rules DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*, and scans and tags every object under the upload prefixes (prefix*).');
    }

    this.plan = new guardduty.CfnMalwareProtectionPlan(this, 'Plan', {
      role: this.role.roleArn,
      protectedResource: {
        s3Bucket: {
          bucketName: bucket.bucketName,
          // No prefixes: the whole bucket.
          objectPrefixes: wholeBucket ? undefined : prefixes,
        },
      },
      actions: { tagging: { status: 'ENABLED' } },
    });
    // GuardDuty checks the role's permissions when it creates the plan.
    this.plan.node.addDependency(this.role);
  }

  /** A rule on the default bus for the scan results of this bucket's objects. */
  public onScanResult(scope: Construct, id: string, options: events.OnEventOptions = {}): events.Rule {
    const rule = new events.Rule(scope, id, {
      description: options.description,
      ruleName: options.ruleName,
      crossStackScope: options.crossStackScope,
    });
    rule.addEventPattern({
      source: [GUARDDUTY_EVENT_SOURCE],
      detailType: [SCAN_RESULT_DETAIL_TYPE],
      detail: { s3ObjectDetails: { bucketName: [this.bucket.bucketName] } },
    });
    rule.addEventPattern(options.eventPattern);
    if (options.target) rule.addTarget(options.target);
    return rule;
  }
}
