import { awscdk, javascript, ReleasableCommits } from 'projen';

// Versions of the AWS SDK v3 pieces bundled into the Lambda assets. They are
// devDependencies: the published package ships the pre-built bundles, never the SDK.
const handlerDeps = [
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-eventbridge',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-ssm',
  '@aws-sdk/credential-provider-env',
  '@aws-sdk/s3-request-presigner',
  '@smithy/node-http-handler',
  '@smithy/protocol-http',
  '@smithy/signature-v4',
  '@types/aws-lambda',
];

// Workflow step: Debian's chromium for the browser tests and the download clients the
// real-client tests run (see buildWorkflowOptions).
const chromiumStep = {
  name: 'Install chromium and the download clients for the browser and real-client tests',
  run: 'sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium curl wget aria2 ffmpeg',
};

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-one-time-presigned-url',
  description: 'One-time (or N-time) download links for S3 objects, redeemed atomically at the edge by Lambda@Edge and DynamoDB behind CloudFront.',
  author: 'cdk-one-time-presigned-url maintainers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/cdk-one-time-presigned-url/cdk-one-time-presigned-url.git',
  license: 'Apache-2.0',
  keywords: ['cdk', 'awscdk', 'cloudfront', 'lambda-edge', 's3', 'presigned-url', 'one-time-link', 'dynamodb'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // NODEJS_24_X needs 2.225.0; cdk-nag 3 (which reads CDK's own Validations
  // acknowledgements) needs 2.257.0.
  cdkVersion: '2.257.0',
  jsiiVersion: '~6.0.0',
  minNodeVersion: '20.0.0',

  publishToPypi: {
    distName: 'cdk-one-time-presigned-url',
    module: 'cdk_one_time_presigned_url',
    // PyPI trusted publisher (OIDC): no TWINE_* secrets. See README "Releasing".
    trustedPublishing: true,
  },
  publishToMaven: {
    javaPackage: 'io.github.cdk_one_time_presigned_url',
    mavenGroupId: 'io.github.cdk-one-time-presigned-url',
    mavenArtifactId: 'cdk-one-time-presigned-url',
  },
  // Go: jsii-pacmak writes a go.mod that requires the Go twin of every JS package in the
  // dependency closure at the version installed here, including
  // github.com/cdklabs/cloud-assembly-schema-go/awscdkcloudassemblyschema/v53. The Go module
  // proxy refuses v53.28.0 (403, re-checked 2026-11-30), which npm picked for aws-cdk-lib
  // 2.257.0's `^53.25.0`; aws-cdk-go v2.257.0 itself requires v53.25.0, which is served. So the
  // JS schema is pinned to 53.25.0 (the floor aws-cdk-lib 2.257.0 asks for) as a devDependency
  // below: see there.
  publishToGo: {
    moduleName: 'github.com/cdk-one-time-presigned-url/cdk-one-time-presigned-url-go',
    packageName: 'cdkonetimepresignedurl',
  },

  devDeps: [
    ...handlerDeps,
    // Exact, so npm dedupes aws-cdk-lib's `^53.25.0` onto it and jsii-pacmak's go.mod requires
    // cloud-assembly-schema-go v53.25.0 (see publishToGo). Not an npm `overrides` entry: npm
    // 11.19 applies an override of this package to an existing lockfile by nesting it under
    // aws-cdk-lib as if bundled (its bundled cloud-assembly-api peer-depends on it) and never
    // installs it. Only this repository's install is shaped: consumers resolve their own. When
    // cdkVersion rises, move this to the schema version aws-cdk-go's go.mod of that release names.
    '@aws-cdk/cloud-assembly-schema@53.25.0',
    'dynalite@^4',
    's3rver@^3',
    'cdk-nag@^3',
    // Users on cdk-nag 2 read suppressions from resource metadata: test both majors.
    'cdk-nag-v2@npm:cdk-nag@^2',
    'fast-check@^4',
    // Browser tests drive Debian's chromium (/usr/bin/chromium); no browser download.
    'playwright-core',
    // test/deployed.integ.ts asserts in a real account (README "Prove it in a real account").
    // The newest the registry serves; its aws-cdk-lib peer range (^2.245.0) takes cdkVersion.
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    // For the README's backend example, which test/readme.test.ts compiles.
    '@aws-crypto/sha256-js',
    '@aws-sdk/credential-provider-node',
  ],

  // The projen layout the project documents: a root tsconfig.dev.json used by
  // jest, eslint and the local deployment scripts.
  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    compilerOptions: {},
    include: [],
  },
  eslintOptions: {
    // Lint tests and scripts with the config that includes them.
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
    dirs: ['src'],
    devdirs: ['test', 'local', 'bench'],
  },
  // ts-jest only transpiles (isolatedModules), so type-check tests, local/ and bench/ first.
  typecheckTests: true,
  jestOptions: {
    // Snapshots are only ever updated on purpose (`npx projen test:update`), never by CI.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 120_000,
      // The handler tests start real servers; two workers match the machines we run on.
      maxWorkers: 2,
    },
  },

  // Releases (README "Releasing"): every push to main runs `npx projen release`; a new version
  // is published only when feat/fix commits landed since the last tag. Pre-1.0 (0.x, where a
  // breaking change bumps the minor and a feature the patch); majorVersion 0 makes a bump that
  // would leave 0.x fail, so going to 1.0 is a decision made here, not by a commit message.
  // With no tag yet, projen would release the placeholder 0.0.0: the first release is 0.1.0.
  github: true,
  release: true,
  majorVersion: 0,
  nextVersionCommand: 'node -e "process.env.LATEST_TAG || process.stdout.write(\'0.1.0\')"',
  releasableCommits: ReleasableCommits.featuresAndFixes(),
  // npm trusted publisher (OIDC): no NPM_TOKEN. It needs npm >= 11.5.1, which Node 24 ships;
  // Node 20 (minNodeVersion, and what the dev machines run) is end-of-life.
  npmTrustedPublishing: true,
  workflowNodeVersion: '24.x',
  githubOptions: {
    // PR titles become squash-merge commit messages, which decide releases: keep them conventional.
    pullRequestLint: true,
    mergify: false,
  },
  depsUpgradeOptions: {
    workflowOptions: { schedule: javascript.UpgradeDependenciesSchedule.WEEKLY },
  },
  // The browser tests drive /usr/bin/chromium. GitHub's Ubuntu runners ship one; elsewhere
  // Debian's package provides it (Ubuntu's apt `chromium` is a snap wrapper).
  buildWorkflowOptions: { preBuildSteps: [chromiumStep] },
  releaseWorkflowSetupSteps: [chromiumStep],
  sampleCode: false,
  // `/node_modules` without the slash also ignores a symlink of that name (git worktrees that
  // share one install), which `node_modules/` does not.
  gitignore: ['cdk.out', '.tmp/', 'test-reports/', '*.tgz', '/node_modules'],
});

// Pull requests also build the wheel, the jar and the Go module (the build job packages only js
// in CI) and run the consumer tests against all four, as .ci/run does. The runners have python3,
// java and mvn; Go is set up as projen's own package-go job does.
project.buildWorkflow?.addPostBuildSteps(
  { name: 'Set up Go', uses: 'actions/setup-go@v7.0.0', with: { 'go-version': '^1.25.0', 'cache': false } },
  { name: 'Package python, java and go', run: 'npx projen package:python && npx projen package:java && npx projen package:go' },
  { name: 'Consumer tests (TypeScript, Python, Java, Go apps synthesize the packaged library)', run: 'npx projen test:consumer' },
);

// tsconfig.dev.json sits at the root, so spell out what it type-checks.
project.tsconfigDev.file.addOverride('include', [
  'src/**/*.ts',
  'test/**/*.ts',
  'local/**/*.ts',
  'bench/**/*.ts',
  '.projenrc.ts',
  'projenrc/**/*.ts',
]);

// Lambda bundles are built with the library and shipped in assets/, so consumers
// never need esbuild or Docker. ESM entry points of the SDK (mainFields module
// first) tree-shake far better than its CommonJS builds; output stays CommonJS so
// the handler can find its staged config.json beside itself with __dirname.
const bundleOptions = {
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  mainFields: ['module', 'main'],
  externals: [],
  sourcemap: false,
};
for (const fn of ['mint', 'edge', 'events']) {
  project.bundler.addBundle(`src/handlers/${fn}.ts`, {
    ...bundleOptions,
    // The SDK loads node:http and friends with import(); as require() they work in any
    // CommonJS loader (including jest's VM sandbox, where the local tests run the bundles).
    esbuildArgs: {
      '--supported:dynamic-import': 'false',
      // Lambda gives functions their credentials in environment variables: bundle only that provider.
      '--alias:@aws-sdk/credential-provider-node': './src/handlers/env-credentials.ts',
    },
  });
}
// ---- cdk-otp: the links API from the command line (issue 14, item 4) ----
// A `bin` of the npm package, pre-bundled into assets/ like the handlers and outside the
// jsii API (src/index.ts does not export it): no types in any language. jsii-pacmak does
// turn the bin into a script of the Python wheel (test:consumer runs it). Unlike the
// handlers it keeps the SDK's whole default credential chain (environment, shared config
// and credentials files, SSO, credential_process, web identity, container, IMDS): no alias.
const cdkOtp = project.bundler.addBundle('src/cli/cdk-otp.ts', {
  ...bundleOptions,
  banner: '#!/usr/bin/env node',
  executable: true,
});
project.addBins({ 'cdk-otp': cdkOtp.outfile });
// jsii still compiles src/cli/ into lib/cli/; the package ships only the bundle. .tmp/ holds
// the README Python test's venv (and CI's cfn-lint one): never pack it.
project.npmignore?.exclude('/lib/cli/', '/.tmp/');
// ---- end cdk-otp ----

// Browser tests skip on a machine without chromium (outside CI): this reporter says so in one line.
project.jest?.addReporter(new javascript.JestReporter('<rootDir>/test/util/skipped-browser-tests.js'));
// Property tests draw from a fixed seed (FC_SEED chooses another).
project.jest?.addSetupFile('<rootDir>/test/util/fast-check-seed.ts');

// Tests synthesize the construct (which loads the bundles) and drive the bundles
// themselves, so a fresh clone's `npx projen test` must bundle first.
project.testTask.prependSpawn(project.bundler.bundleTask);

// Consumer tests install the packed library (npm tarball, Python wheel) into fresh
// apps and synthesize them. They need `package:js` and `package:python` first.
project.addTask('test:consumer', {
  description: 'Synthesize fresh TypeScript, Python, Java and Go CDK apps against the packaged library (run package-all first)',
  exec: 'jest --config test/consumer/jest.config.js',
  receiveArgs: true,
});

// Integration snapshots keep templates only: asset folders are rebuilt from source and
// excluded from the comparison anyway.
project.gitignore.exclude('/test/*.integ.snapshot/asset.*', '/test/.tmp/');

// Handler and CLI code is bundled at build time: its SDK imports are devDependencies on purpose.
project.eslint?.addOverride({
  files: ['src/handlers/**', 'src/cli/**'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true, optionalDependencies: false, peerDependencies: true }] },
});

// The local emulated deployment (see local/). Both need the handler bundles.
const tsNode = 'ts-node --transpile-only -P tsconfig.dev.json';
const local = project.addTask('local', {
  description: 'Run the one-time link stack on 127.0.0.1 (prints one JSON line, runs until Ctrl-C)',
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
local.spawn(project.bundler.bundleTask);
local.exec(`${tsNode} local/cli.ts`, { receiveArgs: true });
const demo = project.addTask('demo', {
  description: 'Walk through upload, mint, download, replay and bypass against the local deployment',
  // The demo's own S3 client would print the SDK's Node.js support warning mid-walkthrough.
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
demo.spawn(project.bundler.bundleTask);
demo.exec(`${tsNode} local/demo.ts`);

// Screenshots of the landing page for the README (needs Debian's chromium).
const screenshots = project.addTask('screenshots', {
  description: 'Render the landing page and a refusal page in headless chromium into docs/ (apt-get install -y chromium first)',
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
screenshots.spawn(project.bundler.bundleTask);
screenshots.exec(`${tsNode} local/screenshots.ts`);

// Benchmarks against the local deployment (not part of the test run). Writes BENCHMARKS.md.
const bench = project.addTask('bench', {
  description: 'Measure edge latency, calls per request, cold start, mint, synth and cost against the seed design',
  env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
bench.spawn(project.bundler.bundleTask);
bench.exec(`${tsNode} bench/run.ts`, { receiveArgs: true });

project.npmignore?.exclude('/lib/handlers/', '/local/', '/bench/', '/.ci/', '/docs/');
project.npmignore?.include('/assets/');

project.synth();
