// A fresh Go module requires aws-cdk-go at the library's floor (the aws-cdk-lib version this
// repository builds with), constructs-go and jsii-runtime-go from the Go module proxy, and the
// built module from dist/go through a `replace` directive; a Go CDK app synthesizes the
// construct with props in ap-northeast-1 through the jsii runtime. The same binary, asked for
// a link lifetime past a year, must fail with the construct's own message; the
// README's Go example, built as a second main package of the module, synthesizes as printed.
//
// Module and build caches are Go's defaults (GOMODCACHE, GOCACHE; set them to move them), shared
// with `npx projen package:go`, whose `go build` already compiled the aws-cdk-go packages the app
// needs: cold, that compile is the bulk of this test (about 100 s and 1 GB on two cores).
import * as fs from 'fs';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  Assembly, AssemblyStack, REPO_PACKAGE, REPO_ROOT, RunResult, consumerEnv, describeRun, installedVersion,
  lambdaAssetDir, mintFunction, onlyResource, readAssembly, resourcesOf, run, runOk, scratchDir,
} from './helpers';

const MINUTE = 60_000;
const GO = process.env.CONSUMER_GO ?? 'go';

interface GoTarget { readonly moduleName: string; readonly packageName: string }
const GO_TARGET: GoTarget = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).jsii.targets.go;
/** The library's Go module path: the repository jsii publishes to, then the package folder. */
const MODULE = `${GO_TARGET.moduleName}/${GO_TARGET.packageName}`;
const AWSCDK = 'github.com/aws/aws-cdk-go/awscdk/v2';
const CONSTRUCTS = 'github.com/aws/constructs-go/constructs/v10';
const JSII_RUNTIME = 'github.com/aws/jsii-runtime-go';
const SCHEMA = 'github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v53';

interface GoModule { readonly dir: string; readonly goDirective: string; readonly requires: Map<string, string> }

/** dist/go/<package>, written by `npx projen package:go`, with what its go.mod says. */
function goModule(): GoModule {
  const dir = path.join(REPO_ROOT, 'dist', 'go', GO_TARGET.packageName);
  const goMod = path.join(dir, 'go.mod');
  if (!fs.existsSync(goMod)) {
    throw new Error(`The Go module ${path.relative(REPO_ROOT, dir)} is missing: run \`npx projen package:go\` (or package-all) first.`);
  }
  const text = fs.readFileSync(goMod, 'utf8');
  if (!text.split('\n').some((l) => l.trim() === `module ${MODULE}`)) {
    throw new Error(`${path.relative(REPO_ROOT, goMod)} is not module ${MODULE}:\n${text}`);
  }
  const version = fs.readFileSync(path.join(dir, 'version'), 'utf8').trim();
  if (version !== REPO_PACKAGE.version) {
    throw new Error(`${path.relative(REPO_ROOT, dir)} is version ${version}, not ${REPO_PACKAGE.version}: rerun \`npx projen package:go\` `
      + '(after a release, pass CONSUMER_PACKAGE_VERSION=$(cat dist/version.txt)).');
  }
  const requires = new Map([...text.matchAll(/^\s*(\S+) (v\S+)/gm)].map((m) => [m[1], m[2]]));
  const goDirective = /^go (\S+)$/m.exec(text)?.[1];
  if (!goDirective) throw new Error(`${goMod} has no go directive:\n${text}`);
  return { dir, goDirective, requires };
}

function required(lib: GoModule, mod: string): string {
  const v = lib.requires.get(mod);
  if (!v) throw new Error(`The library's go.mod does not require ${mod}: ${JSON.stringify([...lib.requires])}`);
  return v;
}

/** The consumer's go.mod before `go mod tidy`: the floor of aws-cdk-go, and the library from dist/go. */
const goMod = (lib: GoModule) => `module consumer

go ${lib.goDirective}

require (
\t${AWSCDK} v${installedVersion('aws-cdk-lib')}
\t${CONSTRUCTS} ${required(lib, CONSTRUCTS)}
\t${JSII_RUNTIME} ${required(lib, JSII_RUNTIME)}
\t${MODULE} v${REPO_PACKAGE.version}
)

replace ${MODULE} => ${lib.dir}
`;

// As `cdk init app --language go` writes it: `defer jsii.Close()`, a stack constructor taking
// constructs.Construct, props as pointers. jsii-runtime-go before v1.142.0 then prints
// "Runtime process exited abnormally: waitid: no child processes" at exit (two goroutines wait
// for the node process); the exit code stays 0.
const MAIN_GO = `package main

import (
\t"fmt"
\t"os"

\t"github.com/aws/aws-cdk-go/awscdk/v2"
\t"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
\t"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
\t"github.com/aws/constructs-go/constructs/v10"
\t"github.com/aws/jsii-runtime-go"
\totp "${MODULE}"
)

func newDownloadsStack(scope constructs.Construct, id string, lifetime awscdk.Duration) awscdk.Stack {
\tstack := awscdk.NewStack(scope, jsii.String(id), &awscdk.StackProps{
\t\tEnv: &awscdk.Environment{Region: jsii.String("ap-northeast-1")},
\t})
\tdownloads := otp.NewOneTimePresignedDistribution(stack, jsii.String("Downloads"), &otp.OneTimePresignedDistributionProps{
\t\tMaxLinkLifetime: lifetime,
\t\tDefaultMaxUses:  jsii.Number(3),
\t\tMaxUsesLimit:    jsii.Number(5),
\t\tPriceClass:      awscloudfront.PriceClass_PRICE_CLASS_100,
\t\tCreateOutputs:   jsii.Bool(true),
\t})
\tminter := awsiam.NewRole(stack, jsii.String("Minter"), &awsiam.RoleProps{
\t\tAssumedBy: awsiam.NewAccountRootPrincipal(),
\t})
\tdownloads.GrantMint(minter)
\tfmt.Println("EDGE ROLE " + *downloads.Node().Path() + " " + *downloads.EdgeRoleArn())
\treturn stack
}

func main() {
\tdefer jsii.Close()
\tapp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(os.Getenv("CONSUMER_OUTDIR"))})
\tif len(os.Args) > 1 && os.Args[1] == "bad" {
\t\t// Links live up to 365 days.
\t\tnewDownloadsStack(app, "GoConsumerBad", awscdk.Duration_Days(jsii.Number(366)))
\t} else {
\t\tnewDownloadsStack(app, "GoConsumer", awscdk.Duration_Days(jsii.Number(30)))
\t}
\tapp.Synth(nil)
\tfmt.Println("SYNTHESIZED")
}
`;

/** The README's Go example, exactly as printed there. */
function readmeGoExample(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /```go\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no ```go example');
  return block[1];
}

const timings: Record<string, number> = {};

describe(`Go consumer of the module ${MODULE}`, () => {
  let scratch: ReturnType<typeof scratchDir> | undefined;
  let lib: GoModule;
  let selected: Map<string, { version: string; replace?: string }>;
  let good: RunResult;
  let bad: RunResult;
  let readmeRun: RunResult;
  let assembly: Assembly;

  beforeAll(async () => {
    lib = goModule();
    scratch = scratchDir('otp-go-consumer');
    const dir = scratch.dir;
    const appDir = path.join(dir, 'app');
    fs.mkdirSync(appDir);
    fs.writeFileSync(path.join(appDir, 'go.mod'), goMod(lib));
    fs.writeFileSync(path.join(appDir, 'main.go'), MAIN_GO);
    fs.mkdirSync(path.join(appDir, 'readme'));
    fs.writeFileSync(path.join(appDir, 'readme', 'main.go'), readmeGoExample());
    // No go.work of a folder above may join this module with others.
    const env = consumerEnv(dir, { GOWORK: 'off' });

    // Writes go.sum (and the indirect requirements) from the Go module proxy.
    const tidy = await runOk(GO, ['mod', 'tidy'], { cwd: appDir, env, timeoutMs: 10 * MINUTE });
    timings['go mod tidy'] = tidy.seconds;
    const list = await runOk(GO, ['list', '-m', '-json', 'all'], { cwd: appDir, env, timeoutMs: 2 * MINUTE });
    selected = new Map();
    for (const m of list.stdout.split(/\n(?=\{)/).map((j) => JSON.parse(j))) {
      selected.set(m.Path, { version: m.Version, replace: m.Replace?.Path });
    }
    // Both main packages, into bin/consumer and bin/readme.
    const build = await runOk(GO, ['build', '-o', 'bin/', '.', './readme'], { cwd: appDir, env, timeoutMs: 20 * MINUTE });
    timings['go build'] = build.seconds;

    const synth = (binary: string, args: string[], name: string) => run(path.join(appDir, 'bin', binary), args, {
      cwd: appDir,
      env: {
        ...env,
        CONSUMER_OUTDIR: path.join(dir, `${name}.out`),
        // The README's app takes the CLI's CDK_OUTDIR, as `cdk synth` would pass it.
        CDK_OUTDIR: path.join(dir, `${name}.out`),
        JSII_RUNTIME_PACKAGE_CACHE_ROOT: path.join(dir, `${name}.jsii-cache`),
      },
      timeoutMs: 5 * MINUTE,
    });
    [good, bad, readmeRun] = await Promise.all([
      synth('consumer', [], 'good'), synth('consumer', ['bad'], 'bad'), synth('readme', [], 'readme'),
    ]);
    timings.synth = good.seconds;
    timings['synth (bad)'] = bad.seconds;
    timings['synth (README)'] = readmeRun.seconds;
    if (good.code !== 0 || good.timedOut) {
      throw new Error(`The Go app did not synthesize: ${describeRun(good)}`);
    }
    assembly = readAssembly(path.join(dir, 'good.out'));
  }, 40 * MINUTE);

  afterAll(() => {
    // eslint-disable-next-line no-console
    console.log(`Go consumer timings: ${Object.entries(timings).map(([k, s]) => `${k} ${s.toFixed(1)}s`).join(', ')}`);
    scratch?.remove();
  });

  it('builds with aws-cdk-go at the floor and the library from dist/go', () => {
    expect(selected.get(AWSCDK)?.version).toBe(`v${installedVersion('aws-cdk-lib')}`);
    // The version jsii-pacmak wrote into the library's go.mod, and the one the Go module proxy serves.
    expect(selected.get(SCHEMA)?.version).toBe(required(lib, SCHEMA));
    expect(selected.get(SCHEMA)?.version).toBe(`v${installedVersion('@aws-cdk/cloud-assembly-schema')}`);
    expect(selected.get(MODULE)).toEqual({ version: `v${REPO_PACKAGE.version}`, replace: lib.dir });
  });

  it('synthesizes, with the edge role\'s ARN read back through the jsii runtime', () => {
    expect(good.code === 0 && good.stdout.includes('SYNTHESIZED') ? 'synthesized' : describeRun(good)).toBe('synthesized');
    expect(good.stdout).toMatch(/^EDGE ROLE GoConsumer\/Downloads \S*\$\{Token\[/m);
  });

  describe('the GoConsumer stack', () => {
    let stack: AssemblyStack;
    let edge: AssemblyStack;
    let template: Template;

    beforeAll(() => {
      stack = assembly.stack((s) => s.stackName === 'GoConsumer', 'stack GoConsumer');
      edge = assembly.stack((s) => stack.dependencies.includes(s.artifactId) && s.stackName.startsWith('edge-lambda-stack-'),
        'edge-lambda-stack-* that GoConsumer depends on');
      template = Template.fromJSON(stack.template);
    });

    it('is in ap-northeast-1, with the edge function in an edge-lambda-stack-* in us-east-1', () => {
      expect(stack.environment).toBe('aws://unknown-account/ap-northeast-1');
      expect(edge.environment).toBe('aws://unknown-account/us-east-1');
      expect(onlyResource(edge.template, 'AWS::Lambda::Function').Properties.Handler).toBe('index.handler');
    });

    it('has the distribution with PriceClass_100, the edge function on three triggers and the regional bucket origin', () => {
      template.resourceCountIs('AWS::CloudFront::Distribution', 1);
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          PriceClass: 'PriceClass_100',
          DefaultCacheBehavior: Match.objectLike({
            LambdaFunctionAssociations: ['viewer-request', 'origin-request', 'origin-response'].map((EventType) => ({ EventType, LambdaFunctionARN: Match.anyValue() })),
          }),
          Origins: [Match.objectLike({ DomainName: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] } })],
        }),
      });
      expect(Object.keys(stack.template.Outputs ?? {})).toHaveLength(5);
    });

    it('passes the Go props to the mint function', () => {
      expect(mintFunction(stack.template).Properties.Environment.Variables).toMatchObject({
        OTP_MAX_EXPIRES_SECONDS: '2592000',
        OTP_DEFAULT_MAX_USES: '3',
        OTP_MAX_USES_LIMIT: '5',
      });
      expect(fs.readdirSync(lambdaAssetDir(stack, mintFunction(stack.template)))).toContain('index.js');
    });

    it('lets only the edge role, named in us-east-1, read objects, with no user, key or secret anywhere', () => {
      const roleName = onlyResource(edge.template, 'AWS::IAM::Role').Properties.RoleName;
      expect(roleName).toMatch(/^GoConsumer-Downloads-[0-9A-F]{8}-edge-ap-northeast-1$/);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Sid: 'EdgeFunctionReadsLinkedObjects', Action: 's3:GetObject' })]) },
      });
      for (const t of [stack.template, edge.template]) {
        expect(JSON.stringify(t)).not.toMatch(/AWS::IAM::User|AWS::IAM::AccessKey|AWS::SecretsManager::Secret|aws:Referer/);
      }
    });

    it('grants the Go-made Minter role the mint route', () => {
      const minter = resourcesOf(stack.template, 'AWS::IAM::Role').find(([id]) => id.startsWith('Minter'));
      expect(minter).toBeDefined();
      const policies = resourcesOf(stack.template, 'AWS::IAM::Policy')
        .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: minter![0] }]));
      expect(JSON.stringify(policies.map(([, p]) => p.Properties.PolicyDocument))).toContain('execute-api:Invoke');
    });
  });

  it('runs the README\'s Go example as printed', () => {
    expect(readmeRun.code === 0 && !readmeRun.timedOut ? 'synthesized' : describeRun(readmeRun)).toBe('synthesized');
    const readme = readAssembly(path.join(scratch!.dir, 'readme.out'));
    const stack = readme.stack((s) => s.stackName === 'Downloads', 'stack Downloads');
    expect(stack.environment).toBe('aws://unknown-account/eu-west-1');
    expect(mintFunction(stack.template).Properties.Environment.Variables).toMatchObject({
      OTP_DEFAULT_MAX_USES: '3', OTP_MAX_EXPIRES_SECONDS: '172800',
    });
    const backend = resourcesOf(stack.template, 'AWS::IAM::Role').find(([id]) => id.startsWith('Backend'));
    expect(backend?.[1].Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'lambda.amazonaws.com' });
  });

  it('asking for 366-day links fails with the construct\'s message', () => {
    const summary = describeRun(bad);
    expect(bad.timedOut ? summary : 'not timed out').toBe('not timed out');
    expect(bad.code === 0 ? `exited 0: ${summary}` : 'non-zero exit').toBe('non-zero exit');
    expect(bad.stderr.includes('maxLinkLifetime must be a whole number of seconds between 1 and 31536000 (365 days); got 366 days') ? 'has message' : summary).toBe('has message');
    expect(bad.stdout).not.toContain('SYNTHESIZED');
  });
});
