// A fresh Maven project takes aws-cdk-lib and constructs from Maven Central and the built
// jar from dist/java (the Maven repository layout `npx projen package:java` writes), and a
// Java CDK app synthesizes the construct with props in eu-west-2 through the jsii runtime.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import {
  Assembly, REPO_PACKAGE, REPO_ROOT, RunResult, consumerEnv, describeRun, installedVersion, mintFunction, readAssembly, run, runOk, scratchDir,
} from './helpers';

const MINUTE = 60_000;
const GROUP = 'io.github.cdk-one-time-presigned-url';
const ARTIFACT = REPO_PACKAGE.name;
const JAVA_PACKAGE = 'io.github.cdk_one_time_presigned_url';

function javaRepository(): string {
  const dir = path.join(REPO_ROOT, 'dist', 'java');
  const jar = path.join(dir, ...GROUP.split('.'), ARTIFACT, REPO_PACKAGE.version, `${ARTIFACT}-${REPO_PACKAGE.version}.jar`);
  if (!fs.existsSync(jar)) {
    throw new Error(`The Maven artifact ${path.relative(REPO_ROOT, jar)} is missing: run \`npx projen package:java\` (or package-all) first.`);
  }
  return dir;
}

/**
 * Maven keeps a copy of every artifact it resolves in its local repository and never fetches a
 * release version again, so the jar built today under the same version (0.1.0 until the first
 * release) would lose to the copy of an earlier build: this removes our artifact's copy, and the
 * test checks that the classpath's jar is today's.
 */
function forgetCachedArtifact(): string {
  const cached = path.join(os.homedir(), '.m2', 'repository', ...GROUP.split('.'), ARTIFACT);
  fs.rmSync(cached, { recursive: true, force: true });
  return path.join(cached, REPO_PACKAGE.version, `${ARTIFACT}-${REPO_PACKAGE.version}.jar`);
}

const pom = (repo: string) => `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>consumer</groupId>
  <artifactId>java-consumer</artifactId>
  <version>1.0.0</version>
  <properties>
    <maven.compiler.source>17</maven.compiler.source>
    <maven.compiler.target>17</maven.compiler.target>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <repositories>
    <repository><id>built-library</id><url>file://${repo}</url></repository>
  </repositories>
  <dependencies>
    <dependency><groupId>software.amazon.awscdk</groupId><artifactId>aws-cdk-lib</artifactId><version>${installedVersion('aws-cdk-lib')}</version></dependency>
    <dependency><groupId>software.constructs</groupId><artifactId>constructs</artifactId><version>${installedVersion('constructs')}</version></dependency>
    <dependency><groupId>${GROUP}</groupId><artifactId>${ARTIFACT}</artifactId><version>${REPO_PACKAGE.version}</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>
    </plugins>
  </build>
</project>
`;

const APP_JAVA = `package consumer;

import software.amazon.awscdk.App;
import software.amazon.awscdk.Duration;
import software.amazon.awscdk.Environment;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.services.cloudfront.PriceClass;
import ${JAVA_PACKAGE}.OneTimePresignedDistribution;

public final class ConsumerApp {
  public static void main(final String[] args) {
    App app = App.Builder.create().outdir(System.getenv("CONSUMER_OUTDIR")).build();
    Stack stack = Stack.Builder.create(app, "JavaConsumer")
        .env(Environment.builder().region("eu-west-2").build())
        .build();
    OneTimePresignedDistribution otp = OneTimePresignedDistribution.Builder.create(stack, "Downloads")
        .maxLinkLifetime(Duration.hours(2))
        .priceClass(PriceClass.PRICE_CLASS_200)
        .downloadWindow(Duration.minutes(10))
        .landingPage(true)
        .linkEvents(true)
        .createOutputs(true)
        .build();
    otp.onLinkUsedUp("UsedUp");
    app.synth();
    System.out.println("SYNTHESIZED " + otp.getNode().getPath());
  }
}
`;

describe(`Java consumer of the Maven artifact ${GROUP}:${ARTIFACT}`, () => {
  let scratch: ReturnType<typeof scratchDir> | undefined;
  let synth: RunResult;
  let assembly: Assembly;
  let usedJar: string;
  let classpathJars: string[] = [];

  beforeAll(async () => {
    const repo = javaRepository();
    usedJar = forgetCachedArtifact();
    scratch = scratchDir('otp-java-consumer');
    const dir = scratch.dir;
    const outdir = path.join(dir, 'cdk.out');
    fs.mkdirSync(path.join(dir, 'src', 'main', 'java', 'consumer'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'pom.xml'), pom(repo));
    fs.writeFileSync(path.join(dir, 'src', 'main', 'java', 'consumer', 'ConsumerApp.java'), APP_JAVA);
    const env = consumerEnv(dir, { CONSUMER_OUTDIR: outdir });
    await runOk('mvn', ['-B', '-q', 'compile', 'dependency:build-classpath', '-Dmdep.outputFile=classpath.txt'], { cwd: dir, env, timeoutMs: 10 * MINUTE });
    const dependencies = fs.readFileSync(path.join(dir, 'classpath.txt'), 'utf8').trim();
    classpathJars = dependencies.split(path.delimiter);
    const classpath = `${path.join(dir, 'target', 'classes')}${path.delimiter}${dependencies}`;
    synth = await run('java', ['-cp', classpath, 'consumer.ConsumerApp'], { cwd: dir, env, timeoutMs: 10 * MINUTE });
    if (synth.code === 0) assembly = readAssembly(outdir);
  }, 25 * MINUTE);

  afterAll(() => scratch?.remove());

  it('builds against the jar built today, not a copy Maven kept from an earlier build', () => {
    const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const built = path.join(javaRepository(), ...GROUP.split('.'), ARTIFACT, REPO_PACKAGE.version, `${ARTIFACT}-${REPO_PACKAGE.version}.jar`);
    expect(classpathJars).toContain(usedJar);
    expect(sha(usedJar)).toBe(sha(built));
  });

  it('compiles against the jar and synthesizes', () => {
    expect(synth.code === 0 && synth.stdout.includes('SYNTHESIZED JavaConsumer/Downloads') ? 'synthesized' : describeRun(synth)).toBe('synthesized');
  });

  it('puts the construct in eu-west-2 with its edge function in us-east-1, configured by the Java props', () => {
    const stack = assembly.stack((s) => s.stackName === 'JavaConsumer', 'stack JavaConsumer');
    const edge = assembly.stack((s) => stack.dependencies.includes(s.artifactId) && s.stackName.startsWith('edge-lambda-stack-'), 'its edge stack');
    expect(stack.environment).toBe('aws://unknown-account/eu-west-2');
    expect(edge.environment).toBe('aws://unknown-account/us-east-1');
    const template = Template.fromJSON(stack.template);
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: Match.objectLike({ PriceClass: 'PriceClass_200' }) });
    expect(mintFunction(stack.template).Properties.Environment.Variables).toMatchObject({
      OTP_MAX_EXPIRES_SECONDS: '7200', OTP_DEFAULT_DOWNLOAD_WINDOW_SECONDS: '600', OTP_DEFAULT_LANDING_PAGE: 'true',
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    template.hasResourceProperties('AWS::Events::Rule', { EventPattern: { 'source': ['cdk-one-time-presigned-url'], 'detail-type': ['Link Used Up'] } });
    expect(Object.keys(stack.template.Outputs ?? {})).toHaveLength(5);
  });
});
