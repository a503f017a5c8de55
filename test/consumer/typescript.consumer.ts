// A fresh CDK app installs the packed npm tarball (dist/js) beside aws-cdk-lib and
// constructs, with no esbuild anywhere and Docker unusable, and synthesizes two
// stacks in different regions. The assertions read the cloud assembly it wrote.
import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  Assembly, AssemblyStack, REPO_PACKAGE, assertNoEsbuildOnPath, consumerEnv, describeRun, findInstalledPackages,
  installedVersion, jsTarball, lambdaAssetDir, ledgerTables, mintFunction, onlyResource, readAssembly, resourcesOf, run, runOk, scratchDir,
} from './helpers';

const LIBRARY = REPO_PACKAGE.name;
const MINUTE = 60_000;

// A consumer's CDK app in TypeScript, compiled by the app's own tsc (strict, library types checked).
const APP_TS = `
import { App, Duration, Stack, aws_cloudfront as cloudfront, aws_events_targets as targets, aws_iam as iam, aws_sns as sns } from 'aws-cdk-lib';
import { OneTimePresignedDistribution, OneTimePresignedDistributionProps } from '${LIBRARY}';

const app = new App({ outdir: process.env.CONSUMER_OUTDIR });

const defaults = new Stack(app, 'ConsumerDefaults', { env: { region: 'eu-west-1' } });
new OneTimePresignedDistribution(defaults, 'Downloads');

const custom = new Stack(app, 'ConsumerCustom', { env: { region: 'ap-southeast-2' } });
const props: OneTimePresignedDistributionProps = {
  maxLinkLifetime: Duration.days(30),
  priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL,
  createOutputs: true,
  linkEvents: true,
};
const otp = new OneTimePresignedDistribution(custom, 'Downloads', props);
otp.onLinkRedeemed('NotifySender', { target: new targets.SnsTopic(new sns.Topic(custom, 'Downloaded')) });
const minter = new iam.Role(custom, 'Minter', { assumedBy: new iam.AccountRootPrincipal() });
otp.grantMint(minter);
const endpoint: string = otp.mintUrlEndpoint;

app.synth();
console.log('RESOLVED ' + JSON.stringify({
  library: require.resolve('${LIBRARY}'),
  awsCdkLib: require.resolve('aws-cdk-lib'),
  endpointIsToken: endpoint.includes('\${Token['),
}));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'commonjs',
    lib: ['es2022'],
    strict: true,
    noImplicitAny: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: '.',
  },
  files: ['app.ts'],
};

// Loads both handler bundles, copied to a folder with no node_modules above it: they must be self-contained.
const LOAD_BUNDLES_JS = `
for (const dir of process.argv.slice(1)) {
  const mod = require(require('path').join(dir, 'index.js'));
  if (typeof mod.handler !== 'function') {
    throw new Error(dir + '/index.js does not export a handler function');
  }
}
console.log('bundles load');
`;

const timings: Record<string, number> = {};

describe(`TypeScript consumer of the npm package ${LIBRARY}`, () => {
  let scratch: ReturnType<typeof scratchDir> | undefined;
  let appDir: string;
  let env: NodeJS.ProcessEnv;
  let synthOutput: string;
  let assembly: Assembly;

  beforeAll(async () => {
    const tarball = jsTarball();
    scratch = scratchDir('otp-consumer-ts');
    appDir = path.join(scratch.dir, 'app');
    fs.mkdirSync(appDir);
    env = consumerEnv(scratch.dir, { CONSUMER_OUTDIR: path.join(appDir, 'cdk.out') });
    assertNoEsbuildOnPath(env);

    fs.writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({
      name: 'otp-typescript-consumer',
      version: '1.0.0',
      private: true,
      dependencies: {
        'aws-cdk-lib': REPO_PACKAGE.devDependencies['aws-cdk-lib'],
        'constructs': REPO_PACKAGE.devDependencies.constructs,
        [LIBRARY]: `file:${tarball}`,
      },
      devDependencies: {
        // The versions this repository builds with, so npm finds them in its cache.
        'typescript': installedVersion('typescript'),
        '@types/node': installedVersion('@types/node'),
      },
    }, undefined, 2));
    fs.writeFileSync(path.join(appDir, 'app.ts'), APP_TS);
    fs.writeFileSync(path.join(appDir, 'tsconfig.json'), JSON.stringify(TSCONFIG, undefined, 2));

    const install = await runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], {
      cwd: appDir, env, timeoutMs: 10 * MINUTE,
    });
    timings['npm install'] = install.seconds;

    const tsc = await runOk('node', [path.join('node_modules', 'typescript', 'bin', 'tsc'), '--project', 'tsconfig.json'], {
      cwd: appDir, env, timeoutMs: 5 * MINUTE,
    });
    timings.tsc = tsc.seconds;

    const synth = await runOk('node', ['app.js'], { cwd: appDir, env, timeoutMs: 5 * MINUTE });
    timings['node app.js (synth)'] = synth.seconds;
    synthOutput = `${synth.stdout}\n${synth.stderr}`;
    assembly = readAssembly(path.join(appDir, 'cdk.out'));
  });

  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`TypeScript consumer timings: ${Object.entries(timings).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ')}`);
    scratch?.remove();
  });

  it('installs the tarball as a real package, without esbuild anywhere in node_modules', async () => {
    const installed = path.join(appDir, 'node_modules', LIBRARY);
    expect(fs.lstatSync(installed).isSymbolicLink()).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')).version).toBe(REPO_PACKAGE.version);
    for (const asset of ['assets/handlers/edge/index.js', 'assets/handlers/mint/index.js', 'lib/index.js', 'lib/index.d.ts', '.jsii']) {
      expect(fs.existsSync(path.join(installed, asset)) ? asset : `${asset} is missing from the package`).toBe(asset);
    }

    expect(findInstalledPackages(appDir, (name) => name === 'esbuild' || name.startsWith('@esbuild/'))).toEqual([]);
    const ls = await run('npm', ['ls', 'esbuild', '--all', '--json'], { cwd: appDir, env, timeoutMs: 2 * MINUTE });
    let tree: { dependencies?: unknown };
    try {
      tree = JSON.parse(ls.stdout);
    } catch {
      throw new Error(`npm ls printed no JSON: ${describeRun(ls)}`);
    }
    expect(tree.dependencies ?? {}).toEqual({});
  });

  it('installs the cdk-otp bin: it runs from node_modules/.bin and through npx, and refuses bad usage with exit code 2', async () => {
    const bin = path.join(appDir, 'node_modules', '.bin', 'cdk-otp');
    const help = await run(bin, ['--help'], { cwd: appDir, env, timeoutMs: MINUTE });
    expect([help.code, help.stderr]).toEqual([0, '']);
    expect(help.stdout).toMatch(/^usage: cdk-otp <command>/);
    for (const command of ['mint <key>', 'status <id>', 'revoke <id>']) expect(help.stdout).toContain(command);
    expect(help.stdout).toMatch(/^ {2}5 {2}not found \(404\)/m);
    const bad = await run('npx', ['--no-install', 'cdk-otp', 'status', 'not-an-id'], { cwd: appDir, env, timeoutMs: MINUTE });
    expect([bad.code, bad.stdout, bad.stderr.split('\n')[0]]).toEqual([
      2, '', 'cdk-otp: "not-an-id" is not a link id (22 characters of A-Z a-z 0-9 _ -, the "id" mint printed)',
    ]);
  });

  it('synthesizes with the libraries of the consumer app, not of this repository', () => {
    const line = synthOutput.split('\n').find((l) => l.startsWith('RESOLVED '));
    expect(line).toBeDefined();
    const resolved = JSON.parse(line!.slice('RESOLVED '.length));
    expect(resolved.library.startsWith(path.join(appDir, 'node_modules', LIBRARY) + path.sep)).toBe(true);
    expect(resolved.awsCdkLib.startsWith(path.join(appDir, 'node_modules', 'aws-cdk-lib') + path.sep)).toBe(true);
    expect(resolved.endpointIsToken).toBe(true);
  });

  describe.each([
    { stackName: 'ConsumerDefaults', region: 'eu-west-1' },
    { stackName: 'ConsumerCustom', region: 'ap-southeast-2' },
  ])('stack $stackName ($region)', ({ stackName, region }) => {
    let stack: AssemblyStack;
    let edge: AssemblyStack;
    let template: Template;

    beforeAll(() => {
      stack = assembly.stack((s) => s.stackName === stackName, `stack ${stackName}`);
      edge = assembly.stack((s) => stack.dependencies.includes(s.artifactId) && s.stackName.startsWith('edge-lambda-stack-'),
        `edge-lambda-stack-* that ${stackName} depends on`);
      template = Template.fromJSON(stack.template);
    });

    it('is in its region and has its edge function in an edge-lambda-stack-* in us-east-1', () => {
      expect(stack.environment).toBe(`aws://unknown-account/${region}`);
      expect(edge.environment).toBe('aws://unknown-account/us-east-1');
      expect(resourcesOf(edge.template, 'AWS::Lambda::Function')).toHaveLength(1);
    });

    it('has a distribution whose edge function (viewer request, origin request, origin response) is the edge stack\'s, with the bucket\'s regional host as origin and no OAI or OAC', () => {
      template.resourceCountIs('AWS::CloudFront::Distribution', 1);
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: {
          DefaultCacheBehavior: Match.objectLike({
            LambdaFunctionAssociations: [
              { EventType: 'viewer-request', LambdaFunctionARN: Match.anyValue() },
              { EventType: 'origin-request', LambdaFunctionARN: Match.anyValue() },
              { EventType: 'origin-response', LambdaFunctionARN: Match.anyValue() },
            ],
            OriginRequestPolicyId: { Ref: Match.anyValue() },
          }),
          Origins: [Match.objectLike({
            DomainName: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] },
            S3OriginConfig: { OriginAccessIdentity: '' },
            OriginAccessControlId: Match.absent(),
          })],
        },
      });
      template.resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
      template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 0);

      // The association reads the function version ARN the edge stack publishes in us-east-1.
      const distribution = onlyResource(stack.template, 'AWS::CloudFront::Distribution');
      const [readerId] = distribution.Properties.DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations[0].LambdaFunctionARN['Fn::GetAtt'];
      const reader = stack.template.Resources[readerId];
      expect(reader?.Type).toBe('Custom::CrossRegionStringParameterReader');
      expect(reader.Properties.Region).toBe('us-east-1');
      const published = resourcesOf(edge.template, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name);
      expect(published).toContain(reader.Properties.ParameterName);
    });

    it('forwards all query strings and no headers or cookies to the origin', () => {
      template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
        OriginRequestPolicyConfig: Match.objectLike({
          QueryStringsConfig: { QueryStringBehavior: 'all' },
          HeadersConfig: { HeaderBehavior: 'none' },
          CookiesConfig: { CookieBehavior: 'none' },
        }),
      });
    });

    it('has the ledger table with TTL and the IAM-authorized GET /get-url route', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: Match.stringLikeRegexp('.+'), Enabled: true },
      });
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /get-url', AuthorizationType: 'AWS_IAM' });
    });

    it('stages the pre-built edge bundle with a config.json holding the ledger and this stack\'s operator parameter', () => {
      const dir = lambdaAssetDir(edge, onlyResource(edge.template, 'AWS::Lambda::Function'));
      expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'index.js']);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      const parameter = onlyResource(stack.template, 'AWS::SSM::Parameter');
      const { ledger, sessions } = ledgerTables(stack.template);
      expect(config).toEqual({
        tableName: ledger.Properties.TableName,
        sessionsTableName: sessions.Properties.TableName,
        tableRegion: region,
        previewProtection: true,
        previewAgents: expect.any(Array),
        bucketRegion: region,
        landingPageTitle: 'A file was shared with you',
        landingPageShowsFileName: false,
        parameterName: parameter.Properties.Name,
        parameterRegion: region,
        operatorRefreshSeconds: 60,
        metricsId: expect.stringMatching(new RegExp(`^${region}/`)),
      });
      expect(typeof parameter.Properties.Name).toBe('string');
      expect(fs.readdirSync(lambdaAssetDir(stack, mintFunction(stack.template)))).toContain('index.js');
    });
  });

  it('applies the defaults in the first stack and the props in the second', () => {
    const defaults = assembly.stack((s) => s.stackName === 'ConsumerDefaults', 'stack ConsumerDefaults');
    const custom = assembly.stack((s) => s.stackName === 'ConsumerCustom', 'stack ConsumerCustom');
    const priceClass = (s: AssemblyStack) => onlyResource(s.template, 'AWS::CloudFront::Distribution').Properties.DistributionConfig.PriceClass;

    expect(priceClass(defaults)).toBe('PriceClass_100');
    expect(mintFunction(defaults.template).Properties.Environment.Variables).toMatchObject({
      OTP_DEFAULT_EXPIRES_SECONDS: '900', OTP_MAX_EXPIRES_SECONDS: '3600',
    });
    expect(Object.keys(defaults.template.Outputs ?? {})).toHaveLength(0);

    expect(priceClass(custom)).toBe('PriceClass_All');
    expect(mintFunction(custom.template).Properties.Environment.Variables).toMatchObject({
      OTP_DEFAULT_EXPIRES_SECONDS: '900', OTP_MAX_EXPIRES_SECONDS: '2592000',
    });
    expect(Object.keys(custom.template.Outputs ?? {})).toHaveLength(5);
  });

  it('publishes link events only where asked: a stream, a publisher and a rule with its target', () => {
    const defaults = Template.fromJSON(assembly.stack((s) => s.stackName === 'ConsumerDefaults', 'stack ConsumerDefaults').template);
    const custom = Template.fromJSON(assembly.stack((s) => s.stackName === 'ConsumerCustom', 'stack ConsumerCustom').template);
    defaults.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
    defaults.resourceCountIs('AWS::Events::Rule', 0);
    custom.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'] });
    custom.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['cdk-one-time-presigned-url'], 'detail-type': ['Link Redeemed'] },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^Downloaded') } })],
    });
  });

  it('lets grantMint() give a role execute-api:Invoke on the mint route', () => {
    const custom = assembly.stack((s) => s.stackName === 'ConsumerCustom', 'stack ConsumerCustom');
    Template.fromJSON(custom.template).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'execute-api:Invoke', Effect: 'Allow' })]) },
      Roles: [{ Ref: Match.stringLikeRegexp('^Minter') }],
    });
  });

  it('gives the two distributions separate edge bundles and parameters', () => {
    const configs = assembly.stacks.filter((s) => s.stackName.startsWith('edge-lambda-stack-'))
      .map((edge) => lambdaAssetDir(edge, onlyResource(edge.template, 'AWS::Lambda::Function')));
    expect(configs).toHaveLength(2);
    expect(new Set(configs).size).toBe(2);
    expect(new Set(configs.map((d) => fs.readFileSync(path.join(d, 'config.json'), 'utf8'))).size).toBe(2);
  });

  it('ships handler bundles that load with no node_modules around them', async () => {
    const isolated = path.join(scratch!.dir, 'isolated');
    const dirs: string[] = [];
    for (const s of assembly.stacks.filter((x) => x.stackName === 'ConsumerDefaults' || x.stackName.startsWith('edge-lambda-stack-'))) {
      for (const [id, fn] of resourcesOf(s.template, 'AWS::Lambda::Function')) {
        if (fn.Properties.Handler !== 'index.handler' || id.startsWith('CustomCrossRegion')) {
          continue;
        }
        const target = path.join(isolated, `${s.artifactId}-${id}`);
        fs.cpSync(lambdaAssetDir(s, fn), target, { recursive: true });
        dirs.push(target);
      }
    }
    expect(dirs.length).toBeGreaterThanOrEqual(3);
    const isolatedEnv = { ...env, AWS_REGION: 'eu-west-1', AWS_EC2_METADATA_DISABLED: 'true' };
    await runOk('node', ['-e', LOAD_BUNDLES_JS, ...dirs], { cwd: isolated, env: isolatedEnv, timeoutMs: 2 * MINUTE });
  });
});
