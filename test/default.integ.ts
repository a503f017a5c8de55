// Integration app: the construct with default props in a non-us-east-1 region, plus a
// second instance with every option on. `npx projen integ:default:snapshot` writes the
// synthesized templates to test/default.integ.snapshot; the test run asserts they match.
import { Annotations, App, Duration, Size, Stack, aws_certificatemanager as acm, aws_events_targets as targets, aws_s3 as s3, aws_sns as sns } from 'aws-cdk-lib';
import { OneTimePresignedDistribution } from '../src';

const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
const env = { account: '123456789012', region: 'eu-west-1' };

const defaults = new Stack(app, 'OtpIntegDefaults', { env });
new OneTimePresignedDistribution(defaults, 'Downloads');

const full = new Stack(app, 'OtpIntegAllOptions', { env });
const logs = new s3.Bucket(full, 'Logs', { enforceSSL: true, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
const all = new OneTimePresignedDistribution(full, 'Downloads', {
  allowedKeyPrefixes: ['reports/'],
  domainNames: ['downloads.example.com'],
  certificate: acm.Certificate.fromCertificateArn(full, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555'),
  distributionLogBucket: logs,
  serverAccessLogsBucket: logs,
  defaultMaxUses: 2,
  maxUsesLimit: 5,
  createOutputs: true,
  downloadWindow: Duration.minutes(10),
  landingPage: true,
  landingPageTitle: 'Files from the integ app',
  linkEvents: true,
  maxLinkLifetime: Duration.days(365),
  defaultLinkLifetime: Duration.days(30),
  dashboard: true,
  uploadKeyPrefixes: ['inbox/'],
  maxUploadBytes: Size.mebibytes(20),
  scanUploads: true,
});
all.addRecommendedAlarms();
// Its access logs hold working links (synth warns): acknowledged, as an owner who restricts the log bucket would.
Annotations.of(all).acknowledgeWarning('cdk-one-time-presigned-url:linksInAccessLogs', 'the integ app\'s log bucket is never deployed');
all.onLinkRedeemed('NotifySender', { target: new targets.SnsTopic(new sns.Topic(full, 'Downloaded')) });
all.onUploadReceived('NotifyReceived', { target: new targets.SnsTopic(new sns.Topic(full, 'Received')) });
all.onUploadScanned('NotifyScanned', { target: new targets.SnsTopic(new sns.Topic(full, 'Scanned')) });

app.synth();
