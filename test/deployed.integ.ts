// Integration test in a real account (README "Prove it in a real account"):
// `npx projen integ:deployed:deploy` deploys the construct, then an assertion stack that uploads
// an object, mints a one-time link through the IAM-authorized API, and checks that the link
// downloads once through CloudFront (200, the exact bytes), is refused the second time (403:
// minted with downloadWindowSeconds 0, so a repeat is a new use), cannot be taken straight to
// S3 with the same query (403), and that a landing-page link opens its page (200 text/html).
// A failed check fails the deployment; the task then destroys everything.
//
// What integ-tests-alpha can do here, and so how the checks are built:
// - projen's integ tasks run `cdk deploy`, not integ-runner, so nothing reads the assertion
//   results integ-runner reads from the stack's outputs: every check is (or ends in) an
//   EqualsAssertion with failDeployment.
// - httpApiCall sends unsigned requests and answers with the whole response, which must fit the
//   4 KB a custom resource may answer: it downloads (small bodies). A small client function
//   (test/util/integ-link-client.js) signs the mint call and summarizes the large answers.
// - Its handler decodes the actual value with JSON.parse and matches bare numbers with nothing
//   (ExpectedResult.exact is not decoded at all), so checks match objects with objectLike.
//
// `npx projen integ:deployed:snapshot` writes the templates to test/deployed.integ.snapshot; the
// test run asserts they still match, as for default.integ.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActualResult, EqualsAssertion, ExpectedResult, IntegTest, type IApiCall } from '@aws-cdk/integ-tests-alpha';
import { App, CfnOutput, CfnResource, CustomResource, Duration, RemovalPolicy, Stack, aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { OneTimePresignedDistribution } from '../src';

const KEY = 'integ/one-time.txt';
/** Plain text that is not JSON (the handler would parse JSON), small enough for an httpApiCall answer. */
const CONTENT = 'These bytes were downloaded once through a one-time link.\n';

const app = new App({ context: { 'aws:cdk:disable-creation-stack-traces': true } });
// The account is whichever the deploying credentials belong to (templates say AWS::AccountId);
// the region is fixed, so the snapshot is the deployed templates.
const env = { region: 'eu-west-1' };

const stack = new Stack(app, 'OtpIntegDeployed', { env });
// DESTROY: the bucket (emptied first), secrets and log groups go with the stack.
const downloads = new OneTimePresignedDistribution(stack, 'Downloads', { removalPolicy: RemovalPolicy.DESTROY, uploadKeyPrefixes: ['integ-uploads/'] });

const assertionStack = new Stack(app, 'OtpIntegDeployedAssertions', { env });
const client = new lambda.Function(assertionStack, 'LinkClient', {
  runtime: lambda.Runtime.NODEJS_24_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline(readFileSync(join(__dirname, 'util', 'integ-link-client.js'), 'utf8')),
  timeout: Duration.seconds(30),
  environment: {
    MINT_API: downloads.apiEndpoint,
    BUCKET_ORIGIN: `https://${downloads.bucket.bucketRegionalDomainName}`,
  },
  logGroup: new logs.LogGroup(assertionStack, 'LinkClientLogs', { retention: logs.RetentionDays.ONE_DAY, removalPolicy: RemovalPolicy.DESTROY }),
});
downloads.grantMint(client);

const integ = new IntegTest(app, 'Deployed', { testCases: [stack], assertionStack });
const { assertions } = integ;

/** Fails the deployment unless `actual` (a JSON object) is like `expected`. */
function check(id: string, actual: ActualResult, expected: Record<string, unknown>): void {
  const assertion = new EqualsAssertion(assertionStack, id, { actual, expected: ExpectedResult.objectLike(expected), failDeployment: true });
  // Its output's logical id hashes the unresolved token of `actual`, whose number differs between synths.
  (assertion.node.findChild('AssertionResults') as CfnOutput).overrideLogicalId(`AssertionResults${id}`);
}

/** Fails the deployment unless the response of `call` is like `expected` (its own expect(), made binding). */
function expectResponse(id: string, call: IApiCall, expected: Record<string, unknown>): void {
  call.expect(ExpectedResult.objectLike(expected));
  // The call's custom resource answers its verdict as `assertion`: {"status":"success"} or "fail" with the mismatch.
  check(id, ActualResult.fromCustomResource(call.node.findChild('Default') as CustomResource, 'assertion'), { status: 'success' });
}

// Plain JSON.stringify: the only tokens in a payload are URLs, which need no escaping in JSON.
const invokeClient = (payload: Record<string, unknown>) =>
  assertions.invokeFunction({ functionName: client.functionName, payload: JSON.stringify(payload) });

const upload = assertions.awsApiCall('S3', 'putObject', { Bucket: downloads.bucket.bucketName, Key: KEY, Body: CONTENT, ContentType: 'text/plain' });

// A one-time link, every request a use.
const minted = invokeClient({ action: 'mint', key: KEY });
upload.next(minted);
check('Minted', ActualResult.fromAwsApiCall(minted, 'Payload.result'), { status: 201, maxUses: 1, downloadWindowSeconds: 0 });

// Before anything is spent: the same path and query sent straight to the bucket's regional host.
const direct = invokeClient({ action: 'fetch', url: minted.getAttString('Payload.directUrl') });
check('StraightToS3IsRefused', ActualResult.fromAwsApiCall(direct, 'Payload.result'), { status: 403 });

const first = assertions.httpApiCall(minted.getAttString('Payload.url'));
expectResponse('FirstDownloadDelivers', first, { status: 200, body: CONTENT });
const second = assertions.httpApiCall(minted.getAttString('Payload.url'));
expectResponse('SecondDownloadIsRefused', second, { status: 403 });
direct.next(first).next(second);

// A 2-use link: its uses are counted on its item and each opens a session item of the sessions
// table (the edge's take, its PutItem and the grants, in the real DynamoDB); the third request is refused.
const twice = invokeClient({ action: 'mint', key: KEY, maxUses: 2 });
upload.next(twice);
check('TwoUseLinkMinted', ActualResult.fromAwsApiCall(twice, 'Payload.result'), { status: 201, maxUses: 2 });
const uses = [1, 2, 3].map(() => assertions.httpApiCall(twice.getAttString('Payload.url')));
expectResponse('TwoUseFirstDelivers', uses[0], { status: 200, body: CONTENT });
expectResponse('TwoUseSecondDelivers', uses[1], { status: 200, body: CONTENT });
expectResponse('TwoUseThirdIsRefused', uses[2], { status: 403 });
twice.next(uses[0]).next(uses[1]).next(uses[2]);

// A landing-page link: opening it shows the page (and spends nothing).
const page = invokeClient({ action: 'mint', key: KEY, landingPage: true });
upload.next(page);
check('LandingPageMinted', ActualResult.fromAwsApiCall(page, 'Payload.result'), { status: 201, landingPage: true });
const opened = invokeClient({ action: 'fetch', url: page.getAttString('Payload.url'), headers: { accept: 'text/html' } });
check('LandingPageOpens', ActualResult.fromAwsApiCall(opened, 'Payload.result'), { status: 200, contentType: 'text/html; charset=utf-8' });

// A passphrase-protected link: the real CloudFront hands the form's body to the viewer-request
// function (includeBody); without the passphrase or with a wrong one nothing is spent.
const PASSPHRASE = 'integ passphrase 1';
const guarded = invokeClient({ action: 'mint', key: KEY, passphrase: PASSPHRASE });
upload.next(guarded);
check('PassphraseLinkMinted', ActualResult.fromAwsApiCall(guarded, 'Payload.result'), { status: 201, passphraseProtected: true });
const bare = invokeClient({ action: 'press', url: guarded.getAttString('Payload.url') });
check('PressWithoutPassphraseIsRefused', ActualResult.fromAwsApiCall(bare, 'Payload.result'), { status: 403 });
const wrong = invokeClient({ action: 'press', url: guarded.getAttString('Payload.url'), passphrase: 'not the passphrase' });
check('WrongPassphraseIsRefused', ActualResult.fromAwsApiCall(wrong, 'Payload.result'), {
  status: 403, message: 'Wrong passphrase. Nothing was spent. 4 tries left before the link locks.',
});
const right = invokeClient({ action: 'press', url: guarded.getAttString('Payload.url'), passphrase: PASSPHRASE });
check('RightPassphraseDownloads', ActualResult.fromAwsApiCall(right, 'Payload.result'), { status: 303, download: { status: 200, body: CONTENT } });
bare.next(wrong).next(right);

// An upload link through the real CloudFront and S3: the origin request policy delivers the
// edge's signed If-None-Match, the whole body (over the 40 KB the function sees) reaches S3, and
// the origin-response trigger turns S3's 200 into 201; a second PUT is refused.
const inbox = invokeClient({ action: 'upload-link', key: 'integ-uploads/received.txt' });
check('UploadLinkMinted', ActualResult.fromAwsApiCall(inbox, 'Payload.result'), { status: 201, kind: 'upload' });
const sent = invokeClient({ action: 'put', url: inbox.getAttString('Payload.url'), size: 100_000 });
check('UploadIsStored', ActualResult.fromAwsApiCall(sent, 'Payload.result'), { status: 201, message: 'Upload received: 100000 bytes. You can close this page.' });
const resent = invokeClient({ action: 'put', url: inbox.getAttString('Payload.url'), size: 10 });
check('SecondUploadIsRefused', ActualResult.fromAwsApiCall(resent, 'Payload.result'), { status: 403, message: 'This upload link has already received its file.' });
inbox.next(sent).next(resent);

// Every assertion custom resource carries `salt: Date.now()` so that integ-runner reruns it on
// each update; fixed, the snapshot is stable. The deploy task destroys the stacks after each
// run, so every run creates (and so runs) the assertions anew.
for (const c of assertionStack.node.findAll()) {
  if (c instanceof CfnResource && c.cfnResourceType.startsWith('Custom::DeployAssert')) c.addPropertyOverride('salt', 'fixed');
}

app.synth();
