// A fresh virtual environment installs aws-cdk-lib, constructs and the built wheel
// (dist/python), and a Python CDK app synthesizes the construct with keyword props
// through the jsii runtime. A second app passes a bad prop and must fail with the
// construct's own message.
import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  Assembly, AssemblyStack, REPO_PACKAGE, RunResult, assertNoEsbuildOnPath, consumerEnv, describeRun, installedVersion,
  lambdaAssetDir, ledgerTables, mintFunction, onlyResource, pythonWheel, readAssembly, run, runOk, scratchDir,
} from './helpers';

const MODULE = REPO_PACKAGE.name.replace(/-/g, '_');
const MINUTE = 60_000;
const PYTHON = process.env.CONSUMER_PYTHON ?? 'python3';

const APP_PY = `
import os

import aws_cdk as cdk
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_cloudfront as cloudfront
from constructs import Construct

import ${MODULE}
from ${MODULE} import OneTimePresignedDistribution


class DownloadsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.otp = OneTimePresignedDistribution(
            self,
            "Downloads",
            max_link_lifetime=Duration.days(30),
            default_link_lifetime=Duration.minutes(5),
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,
            create_outputs=True,
            upload_key_prefixes=["inbox/"],
            max_upload_bytes=cdk.Size.mebibytes(20),
        )


app = App(outdir=os.environ["CONSUMER_OUTDIR"])
stack = DownloadsStack(app, "PythonConsumer", env=Environment(region="eu-central-1"))
assert isinstance(stack.otp.distribution, cdk.aws_cloudfront.Distribution)
app.synth()
print("MODULE " + ${MODULE}.__file__)
`;

const APP_BAD_PY = `
import os

from aws_cdk import App, Duration, Environment, Stack

from ${MODULE} import OneTimePresignedDistribution

app = App(outdir=os.environ["CONSUMER_OUTDIR"])
stack = Stack(app, "PythonConsumerBad", env=Environment(region="eu-central-1"))
OneTimePresignedDistribution(stack, "Downloads", max_link_lifetime=Duration.days(366))
app.synth()
print("SYNTHESIZED")
`;

// The download metric methods from Python: the sum over every edge Region (metric math, in a
// dashboard), one Region's metric for an alarm, the dashboard and the recommended alarms.
const APP_METRICS_PY = `
import json
import os

from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_cloudwatch as cloudwatch

from ${MODULE} import OneTimePresignedDistribution

app = App(outdir=os.environ["CONSUMER_OUTDIR"])
stack = Stack(app, "PythonMetrics", env=Environment(region="eu-west-1"))
otp = OneTimePresignedDistribution(stack, "Downloads", dashboard=True)
total = otp.metric_link_redemptions(period=Duration.minutes(1)).to_metric_config().math_expression
refusals = otp.metric_link_refusals_for("used").to_metric_config().math_expression
errors = otp.metric_edge_errors(region="eu-west-1")
cloudwatch.Alarm(stack, "EdgeErrorsHere", metric=errors, threshold=1, evaluation_periods=1)
alarms = otp.add_recommended_alarms()
print("METRICS " + json.dumps({
    "expression": total.expression,
    "period": total.period,
    "regions": sorted(m.to_metric_config().metric_stat.region for m in total.using_metrics.values()),
    "refusals": refusals.expression,
    "errors": [errors.to_metric_config().metric_stat.metric_name, errors.to_metric_config().metric_stat.region],
    "alarms": [a.node.id for a in alarms],
    "dashboard": otp.dashboard is not None,
    "id": otp.download_metrics_id,
}))
app.synth()
`;

/** The README's Python example, exactly as printed there. */
function readmePythonExample(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const block = /```python\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```python example');
  return block[1];
}

const timings: Record<string, number> = {};

describe(`Python consumer of the wheel ${MODULE}`, () => {
  let scratch: ReturnType<typeof scratchDir> | undefined;
  let venv: string;
  let good: RunResult;
  let bad: RunResult;
  let readmeRun: RunResult;
  let metricsRun: RunResult;
  let readmeOut: string;
  let assembly: Assembly;

  beforeAll(async () => {
    const wheel = pythonWheel();
    scratch = scratchDir('otp-consumer-py');
    const appDir = path.join(scratch.dir, 'app');
    fs.mkdirSync(appDir);
    const env = consumerEnv(scratch.dir);
    assertNoEsbuildOnPath(env);

    const created = await runOk(PYTHON, ['-m', 'venv', 'venv'], { cwd: scratch.dir, env, timeoutMs: 3 * MINUTE });
    timings['python -m venv'] = created.seconds;
    venv = path.join(scratch.dir, 'venv');
    const python = path.join(venv, 'bin', 'python');

    // Pinned to what this repository builds and tests with; pip's own cache is the only thing kept outside the scratch folder.
    const install = await runOk(python, [
      '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input',
      `aws-cdk-lib==${installedVersion('aws-cdk-lib')}`,
      `constructs==${installedVersion('constructs')}`,
      wheel,
    ], { cwd: scratch.dir, env, timeoutMs: 10 * MINUTE });
    timings['pip install'] = install.seconds;

    fs.writeFileSync(path.join(appDir, 'app.py'), APP_PY);
    fs.writeFileSync(path.join(appDir, 'app_bad.py'), APP_BAD_PY);
    fs.writeFileSync(path.join(appDir, 'readme.py'), readmePythonExample());
    fs.writeFileSync(path.join(appDir, 'app_metrics.py'), APP_METRICS_PY);
    readmeOut = path.join(scratch.dir, 'readme.out');
    // Both apps at once, each with its own jsii package cache.
    const synth = (script: string, name: string) => run(python, [script], {
      cwd: appDir,
      env: {
        ...env,
        VIRTUAL_ENV: venv,
        CONSUMER_OUTDIR: path.join(scratch!.dir, `${name}.out`),
        CDK_OUTDIR: path.join(scratch!.dir, `${name}.out`),
        JSII_RUNTIME_PACKAGE_CACHE_ROOT: path.join(scratch!.dir, `${name}.jsii-cache`),
      },
      timeoutMs: 5 * MINUTE,
    });
    [good, bad, readmeRun] = await Promise.all([synth('app.py', 'good'), synth('app_bad.py', 'bad'), synth('readme.py', 'readme')]);
    metricsRun = await synth('app_metrics.py', 'metrics');
    timings['python app_metrics.py'] = metricsRun.seconds;
    timings['python readme.py'] = readmeRun.seconds;
    timings['python app.py (synth)'] = good.seconds;
    timings['python app_bad.py'] = bad.seconds;
    if (good.code !== 0 || good.timedOut) {
      throw new Error(`The Python app did not synthesize: ${describeRun(good)}`);
    }
    assembly = readAssembly(path.join(scratch.dir, 'good.out'));
  });

  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`Python consumer timings: ${Object.entries(timings).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ')}`);
    scratch?.remove();
  });

  describe('app.py', () => {
    let stack: AssemblyStack;
    let edge: AssemblyStack;
    let template: Template;

    beforeAll(() => {
      stack = assembly.stack((s) => s.stackName === 'PythonConsumer', 'stack PythonConsumer');
      edge = assembly.stack((s) => stack.dependencies.includes(s.artifactId) && s.stackName.startsWith('edge-lambda-stack-'),
        'edge-lambda-stack-* that PythonConsumer depends on');
      template = Template.fromJSON(stack.template);
    });

    it('imports the library from the virtual environment', () => {
      const line = good.stdout.split('\n').find((l) => l.startsWith('MODULE '));
      expect(line ?? `no MODULE line in: ${describeRun(good)}`).toMatch(/^MODULE /);
      expect(line!.slice('MODULE '.length).startsWith(venv + path.sep)).toBe(true);
    });

    it('puts the stack in eu-central-1 and the edge function in an edge-lambda-stack-* in us-east-1', () => {
      expect(stack.environment).toBe('aws://unknown-account/eu-central-1');
      expect(edge.environment).toBe('aws://unknown-account/us-east-1');
      expect(onlyResource(edge.template, 'AWS::Lambda::Function').Properties.Handler).toBe('index.handler');
    });

    it('has the distribution with the edge function on three triggers, the regional bucket origin and PriceClass_200', () => {
      template.resourceCountIs('AWS::CloudFront::Distribution', 1);
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          PriceClass: 'PriceClass_200',
          DefaultCacheBehavior: Match.objectLike({
            LambdaFunctionAssociations: [
              { EventType: 'viewer-request', LambdaFunctionARN: Match.anyValue() },
              { EventType: 'origin-request', LambdaFunctionARN: Match.anyValue() },
              { EventType: 'origin-response', LambdaFunctionARN: Match.anyValue() },
            ],
          }),
          Origins: [Match.objectLike({
            DomainName: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] },
            S3OriginConfig: { OriginAccessIdentity: '' },
            OriginAccessControlId: Match.absent(),
          })],
        }),
      });
    });

    it('passes the keyword props to the mint function and writes the 4 outputs', () => {
      expect(mintFunction(stack.template).Properties.Environment.Variables).toMatchObject({
        OTP_DEFAULT_EXPIRES_SECONDS: '300',
        OTP_MAX_EXPIRES_SECONDS: '2592000',
        // Upload links: a list of strings and a Size, through the jsii runtime.
        OTP_UPLOAD_KEY_PREFIXES: '["inbox/"]',
        OTP_MAX_UPLOAD_BYTES: '20971520',
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EdgeFunctionWritesUploads', Action: 's3:PutObject' })]) },
      });
      expect(Object.keys(stack.template.Outputs ?? {})).toHaveLength(5);
    });

    it('lets only the edge role, named in us-east-1, read objects, with no user, key or secret anywhere', () => {
      const roleName = onlyResource(edge.template, 'AWS::IAM::Role').Properties.RoleName;
      expect(roleName).toMatch(/^PythonConsumer-Downloads-[0-9A-F]{8}-edge-eu-central-1$/);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EdgeFunctionReadsLinkedObjects', Action: 's3:GetObject' })]) },
      });
      expect(JSON.stringify(template.toJSON())).toContain(`:role/${roleName}`);
      for (const t of [stack.template, edge.template]) {
        expect(JSON.stringify(t)).not.toMatch(/AWS::IAM::User|AWS::IAM::AccessKey|AWS::SecretsManager::Secret|aws:Referer/);
      }
    });

    it('stages the edge bundle with a config.json holding the ledger and the stack\'s operator parameter', () => {
      const dir = lambdaAssetDir(edge, onlyResource(edge.template, 'AWS::Lambda::Function'));
      expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'index.js']);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(config).toMatchObject({
        tableName: ledgerTables(stack.template).ledger.Properties.TableName,
        sessionsTableName: ledgerTables(stack.template).sessions.Properties.TableName,
        tableRegion: 'eu-central-1',
        bucketRegion: 'eu-central-1',
        parameterName: onlyResource(stack.template, 'AWS::SSM::Parameter').Properties.Name,
        parameterRegion: 'eu-central-1',
      });
      expect(fs.readdirSync(lambdaAssetDir(stack, mintFunction(stack.template)))).toContain('index.js');
    });
  });

  it('runs the README\'s Python example as printed', () => {
    expect(readmeRun.code === 0 && !readmeRun.timedOut ? 'synthesized' : describeRun(readmeRun)).toBe('synthesized');
    const template = JSON.parse(fs.readFileSync(path.join(readmeOut, 'Downloads.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties?: { Environment?: { Variables?: Record<string, string> } } }> };
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types).toEqual(expect.arrayContaining(['AWS::CloudFront::Distribution', 'AWS::DynamoDB::Table', 'AWS::ApiGatewayV2::Api']));
    const mint = Object.values(template.Resources).find((r) => r.Properties?.Environment?.Variables?.OTP_DEFAULT_EXPIRES_SECONDS);
    expect(mint?.Properties?.Environment?.Variables?.OTP_DEFAULT_EXPIRES_SECONDS).toBe('600');
  });

  it('installs a cdk-otp script that runs the npm package\'s bin through the jsii runtime', async () => {
    // jsii-pacmak turns the package.json bin into a script of the wheel.
    const cdkOtp = (args: string[]) => run(path.join(venv, 'bin', 'cdk-otp'), args, {
      cwd: scratch!.dir,
      env: { ...consumerEnv(scratch!.dir), VIRTUAL_ENV: venv, JSII_RUNTIME_PACKAGE_CACHE_ROOT: path.join(scratch!.dir, 'bin.jsii-cache') },
      timeoutMs: 2 * MINUTE,
    });
    const help = await cdkOtp(['--help']);
    expect(help.code === 0 ? 'exit 0' : describeRun(help)).toBe('exit 0');
    expect(help.stdout).toMatch(/^usage: cdk-otp <command>/);
    expect(help.stdout).toMatch(/^ {2}3 {2}no credentials/m);
    const usage = await cdkOtp(['mint']);
    expect([usage.code, usage.stdout]).toEqual([2, '']);
    expect(usage.stderr).toContain('cdk-otp: mint needs the link\'s object key: cdk-otp mint <key>');
  });

  it('app_metrics.py calls the download metric methods: the sum over 13 edge Regions, one Region\'s metric in an alarm, the dashboard and alarms', () => {
    expect(metricsRun.code === 0 && !metricsRun.timedOut ? 'synthesized' : describeRun(metricsRun)).toBe('synthesized');
    const line = metricsRun.stdout.split('\n').find((l) => l.startsWith('METRICS '));
    const out = JSON.parse(line!.slice('METRICS '.length));
    expect(out.expression).toMatch(/^SUM\(\[linkRedemptions_us_east_1, .*linkRedemptions_sa_east_1\]\)$/);
    expect(out.period).toBe(60);
    expect(out.regions).toHaveLength(13);
    expect(out.refusals).toMatch(/^SUM\(\[linkRefusals_used_us_east_1, /);
    expect(out).toMatchObject({
      errors: ['EdgeErrors', 'eu-west-1'],
      alarms: ['EdgeErrorsAlarm', 'MintServerErrorsAlarm'],
      dashboard: true,
      id: 'eu-west-1/PythonMetrics/Downloads',
    });
    const template = JSON.parse(fs.readFileSync(path.join(scratch!.dir, 'metrics.out', 'PythonMetrics.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    const resources = Object.values(template.Resources);
    expect(resources.filter((r) => r.Type === 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
    const alarms = resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    expect(alarms).toHaveLength(3);
    expect(alarms.filter((a) => a.Properties?.MetricName === 'EdgeErrors').map((a) => a.Properties?.Dimensions))
      .toEqual([[{ Name: 'Distribution', Value: 'eu-west-1/PythonMetrics/Downloads' }], [{ Name: 'Distribution', Value: 'eu-west-1/PythonMetrics/Downloads' }]]);
  });

  it('app_bad.py asking for 366-day links fails with the construct\'s message', () => {
    const summary = describeRun(bad);
    expect(bad.timedOut ? summary : 'not timed out').toBe('not timed out');
    expect(bad.code === 0 ? `exited 0: ${summary}` : 'non-zero exit').toBe('non-zero exit');
    expect(bad.stderr.includes('maxLinkLifetime must be a whole number of seconds between 1 and 31536000 (365 days); got 366 days') ? 'has message' : summary).toBe('has message');
    expect(bad.stdout).not.toContain('SYNTHESIZED');
  });
});
