// Consumer synth: a fresh CDK app using the construct (pre-built handler assets) versus
// an app that bundles the same two handler sources with NodejsFunction at synth (the
// seed's way, esbuild found locally, no Docker). Each synth is `node app.js` in a fresh
// process with a fresh output folder, timed by the parent, interleaved.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childEnv, runOk } from './proc';
import { median } from './stats';

export interface SynthVariant {
  readonly name: string;
  readonly label: string;
  readonly times: number[];
  /** Lambda code assets in the cloud assembly: folder -> index.js bytes. */
  readonly lambdaBundles: number[];
}

export interface SynthResult {
  readonly variants: Record<'ours' | 'seedSameOptions' | 'seedDefaults', SynthVariant>;
  readonly runs: number;
  readonly notes: string[];
}

const LIB_ENTRY = (repo: string) => join(repo, 'lib', 'index.js');

function oursApp(repo: string): string {
  return `
const { App, Stack } = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const { OneTimePresignedDistribution } = require(${JSON.stringify(LIB_ENTRY(repo))});

const app = new App({ outdir: process.env.BENCH_OUTDIR });
// The README's app: a stack in the consumer's region; the construct adds its us-east-1 edge stack.
const stack = new Stack(app, 'Downloads', { env: { region: 'eu-west-1' } });
const downloads = new OneTimePresignedDistribution(stack, 'Downloads');
const backend = new iam.Role(stack, 'Backend', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
downloads.grantMint(backend);
app.synth();
`;
}

/**
 * NodejsFunction `bundling` props equivalent to the library's esbuild arguments: the
 * options NodejsFunction models as props become props, everything else (`--supported:`,
 * `--alias:`, ...) goes through `esbuildArgs` verbatim. Always bundles the SDK (no externals).
 */
export function nodejsBundlingFor(options: readonly string[]): Record<string, unknown> {
  const props: Record<string, unknown> = { sourceMap: false, externalModules: [] };
  const esbuildArgs: Record<string, string | boolean> = {};
  for (const option of options) {
    const eq = option.indexOf('=');
    const [flag, value] = eq < 0 ? [option, undefined] : [option.slice(0, eq), option.slice(eq + 1)];
    if (flag === '--bundle' || flag === '--platform') continue;
    if (flag === '--minify') props.minify = true;
    else if (flag === '--target') props.target = value;
    else if (flag === '--format') props.format = value;
    else if (flag === '--main-fields') props.mainFields = value?.split(',');
    else esbuildArgs[flag] = value ?? true;
  }
  return { ...props, esbuildArgs };
}

function seedApp(repo: string, bundling: Record<string, unknown> | undefined): string {
  const bundlingSource = bundling ? JSON.stringify(bundling, undefined, 2).replace(/\n/g, '\n  ') : '{}';
  return `
const path = require('path');
const { App, Stack } = require('aws-cdk-lib');
const apigwv2 = require('aws-cdk-lib/aws-apigatewayv2');
const integrations = require('aws-cdk-lib/aws-apigatewayv2-integrations');
const cloudfront = require('aws-cdk-lib/aws-cloudfront');
const origins = require('aws-cdk-lib/aws-cloudfront-origins');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');
const nodejs = require('aws-cdk-lib/aws-lambda-nodejs');
const s3 = require('aws-cdk-lib/aws-s3');
const ssm = require('aws-cdk-lib/aws-ssm');

const REPO = ${JSON.stringify(repo)};
const app = new App({ outdir: process.env.BENCH_OUTDIR });
// The seed's layout: everything in us-east-1, handlers bundled by NodejsFunction at synth.
const stack = new Stack(app, 'SeedDownloads', { env: { region: 'us-east-1' } });
const bucket = new s3.Bucket(stack, 'Bucket', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, enforceSSL: true });
const table = new dynamodb.Table(stack, 'UsedUrls', {
  partitionKey: { name: 'urlHash', type: dynamodb.AttributeType.STRING },
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
});
const parameter = new ssm.StringParameter(stack, 'TableName', { parameterName: '/one-time-presigned-url/table-name', stringValue: table.tableName });
const common = {
  runtime: lambda.Runtime.NODEJS_24_X,
  projectRoot: REPO,
  depsLockFilePath: path.join(REPO, 'package-lock.json'),
  bundling: ${bundlingSource},
};
const edge = new nodejs.NodejsFunction(stack, 'Edge', { ...common, entry: path.join(REPO, 'src', 'handlers', 'edge.ts') });
table.grantReadWriteData(edge);
parameter.grantRead(edge);
const mint = new nodejs.NodejsFunction(stack, 'Mint', {
  ...common,
  entry: path.join(REPO, 'src', 'handlers', 'mint.ts'),
  environment: { OTP_BUCKET_NAME: bucket.bucketName, OTP_TABLE_NAME: table.tableName },
});
bucket.grantRead(mint);
table.grantReadWriteData(mint);
const api = new apigwv2.HttpApi(stack, 'Api');
api.addRoutes({ path: '/get-url', methods: [apigwv2.HttpMethod.GET], integration: new integrations.HttpLambdaIntegration('Mint', mint) });
new cloudfront.Distribution(stack, 'Distribution', {
  defaultBehavior: {
    origin: origins.S3BucketOrigin.withBucketDefaults(bucket),
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
    edgeLambdas: [{ functionVersion: edge.currentVersion, eventType: cloudfront.LambdaEdgeEventType.VIEWER_REQUEST }],
  },
});
const backend = new iam.Role(stack, 'Backend', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
backend.addToPolicy(new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: ['*'] }));
app.synth();
`;
}

/** Newest modification time of the files under dir (recursively), or 0. */
function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** index.js sizes of the Lambda code assets of every stack in a cloud assembly. */
function lambdaBundleSizes(outdir: string): number[] {
  const sizes: number[] = [];
  for (const entry of readdirSync(outdir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name.startsWith('asset.')) {
      const file = join(outdir, entry.name, 'index.js');
      if (existsSync(file)) sizes.push(statSync(file).size);
    }
  }
  return sizes.sort((a, b) => a - b);
}

export async function ensureCompiledLibrary(repo: string, log: (line: string) => void): Promise<string[]> {
  const notes: string[] = [];
  if (!existsSync(LIB_ENTRY(repo))) {
    log('lib/index.js is missing: running `npx projen compile` first');
    await runOk('npx projen compile', 'npx', ['projen', 'compile'], { cwd: repo, env: childEnv(), timeoutMs: 5 * 60_000 });
    notes.push('lib/ was missing and was compiled by the benchmark (`npx projen compile`).');
  } else if (newestMtime(join(repo, 'src')) > newestMtime(join(repo, 'lib')) + 1000) {
    notes.push('lib/ is older than src/ (the benchmark does not recompile it while src/ is being edited): the synth measured the last compiled construct.');
  }
  return notes;
}

export async function measureSynth(
  repo: string,
  scratch: string,
  esbuildOptions: readonly string[],
  runs: number,
  log: (line: string) => void,
): Promise<SynthResult> {
  const notes = await ensureCompiledLibrary(repo, log);
  const appRoot = join(scratch, 'synth');
  const tmp = join(appRoot, 'tmp');
  mkdirSync(tmp, { recursive: true });
  // A consumer app folder whose node_modules holds this repository's aws-cdk-lib and constructs.
  mkdirSync(join(appRoot, 'node_modules'), { recursive: true });
  for (const pkg of ['aws-cdk-lib', 'constructs']) {
    symlinkSync(join(repo, 'node_modules', pkg), join(appRoot, 'node_modules', pkg), 'dir');
  }
  const apps = {
    ours: { file: 'ours.js', label: 'OneTimePresignedDistribution (pre-built assets)' },
    seedSameOptions: { file: 'seed-same-options.js', label: 'seed: NodejsFunction x2, the library\'s esbuild options (SDK bundled, minified)' },
    seedDefaults: { file: 'seed-defaults.js', label: 'seed: NodejsFunction x2, default options (SDK external)' },
  } as const;
  writeFileSync(join(appRoot, apps.ours.file), oursApp(repo));
  writeFileSync(join(appRoot, apps.seedSameOptions.file), seedApp(repo, nodejsBundlingFor(esbuildOptions)));
  writeFileSync(join(appRoot, apps.seedDefaults.file), seedApp(repo, undefined));

  const variants = Object.fromEntries(Object.entries(apps).map(([name, a]) => [name, { name, label: a.label, times: [] as number[], lambdaBundles: [] as number[] }])) as unknown as SynthResult['variants'];
  const order = Object.keys(apps) as Array<keyof typeof apps>;
  // One unmeasured synth of each first: the OS file cache then holds aws-cdk-lib for every measured run.
  for (let i = -1; i < runs; i++) {
    const rotated = order.map((_, k) => order[(k + Math.max(i, 0)) % order.length]);
    for (const name of rotated) {
      const outdir = join(appRoot, `out-${name}-${i + 1}`);
      const r = await runOk(`synth of ${name}`, process.execPath, [apps[name].file], {
        cwd: appRoot,
        env: childEnv({ BENCH_OUTDIR: outdir, TMPDIR: tmp, TMP: tmp, TEMP: tmp, CDK_DOCKER: '/nonexistent-docker' }),
        timeoutMs: 3 * 60_000,
      });
      if (!existsSync(join(outdir, 'manifest.json'))) throw new Error(`synth of ${name} wrote no cloud assembly`);
      const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { artifacts?: Record<string, unknown> };
      if (Object.keys(manifest.artifacts ?? {}).length === 0) throw new Error(`synth of ${name} wrote an empty cloud assembly`);
      if (i < 0) {
        variants[name].lambdaBundles.push(...lambdaBundleSizes(outdir));
        log(`  synth warm-up ${name}: ${(r.ms / 1000).toFixed(2)} s`);
        continue;
      }
      variants[name].times.push(r.ms);
      log(`  synth ${name} #${i + 1}: ${(r.ms / 1000).toFixed(2)} s`);
    }
  }
  for (const v of Object.values(variants)) {
    if (v.times.length !== runs || !(median(v.times) > 0)) throw new Error(`synth ${v.name}: missing timings`);
  }
  // With the same options, the seed's synth-time bundles must be the library's pre-built ones, byte for byte in size.
  const big = (sizes: number[]) => sizes.filter((n) => n > 10_000).sort((a, b) => a - b).join(',');
  if (big(variants.seedSameOptions.lambdaBundles) !== big(variants.ours.lambdaBundles)) {
    notes.push('the seed app\'s NodejsFunction bundles differ in size from the library\'s pre-built assets, so the esbuild options did not carry over exactly.');
  }
  return { variants, runs, notes };
}
