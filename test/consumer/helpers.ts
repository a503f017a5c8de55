// Shared plumbing of the consumer tests (test/consumer/*.consumer.ts): locate the
// packaged artifacts, run child processes with their output captured, build a
// child environment without esbuild or Docker, and read a cloud assembly.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

interface RepoPackageJson {
  readonly name: string;
  readonly version: string;
  readonly devDependencies: Record<string, string>;
  readonly peerDependencies: Record<string, string>;
}

const packageJson: RepoPackageJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

/**
 * package.json, with the version the packages in dist/ carry. That is package.json's own
 * (0.0.0 between releases) unless CONSUMER_PACKAGE_VERSION names another: `npx projen release`
 * bumps the version, packages, then resets package.json to 0.0.0, so after a release the
 * caller passes the released version (dist/version.txt), as .ci/run does.
 */
export const REPO_PACKAGE: RepoPackageJson = {
  ...packageJson,
  version: process.env.CONSUMER_PACKAGE_VERSION || packageJson.version,
};

/** The version of a package installed in the repository's node_modules. */
export function installedVersion(pkg: string): string {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

function listDir(dir: string): string {
  if (!fs.existsSync(dir)) {
    return `${path.relative(REPO_ROOT, dir)}/ does not exist`;
  }
  const entries = fs.readdirSync(dir);
  return `${path.relative(REPO_ROOT, dir)}/ holds: ${entries.length ? entries.join(', ') : '(nothing)'}`;
}

/**
 * Warns when an artifact is older than the compiled assembly (.jsii): the tests would
 * then exercise a stale package. Not a failure, since the order of tasks is the caller's.
 */
function warnIfStale(artifact: string): void {
  const assembly = path.join(REPO_ROOT, '.jsii');
  if (fs.existsSync(assembly) && fs.statSync(artifact).mtimeMs < fs.statSync(assembly).mtimeMs) {
    // eslint-disable-next-line no-console
    console.warn(`${path.relative(REPO_ROOT, artifact)} is older than .jsii: it may not hold the latest compile. `
      + 'Rerun `npx projen package:js` and `npx projen package:python`.');
  }
}

/** dist/js/<name>@<version>.jsii.tgz, written by `npx projen package:js`. */
export function jsTarball(): string {
  const dir = path.join(REPO_ROOT, 'dist', 'js');
  const file = path.join(dir, `${REPO_PACKAGE.name}@${REPO_PACKAGE.version}.jsii.tgz`);
  if (!fs.existsSync(file)) {
    throw new Error(`The npm package ${path.relative(REPO_ROOT, file)} is missing (${listDir(dir)}). `
      + 'The consumer tests install the packaged library: run `npx projen bundle && npx projen compile && npx projen package:js` first.');
  }
  warnIfStale(file);
  return file;
}

/** dist/python/<dist>-<version>-py3-none-any.whl, written by `npx projen package:python`. */
export function pythonWheel(): string {
  const dir = path.join(REPO_ROOT, 'dist', 'python');
  const distName = REPO_PACKAGE.name.replace(/-/g, '_');
  const wheels = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => f.startsWith(`${distName}-${REPO_PACKAGE.version}-`) && f.endsWith('.whl'))
    : [];
  if (wheels.length !== 1) {
    throw new Error(`Expected exactly one ${distName}-${REPO_PACKAGE.version}-*.whl in dist/python, found ${wheels.length} (${listDir(dir)}). `
      + 'The consumer tests install the packaged library: run `npx projen bundle && npx projen compile && npx projen package:python` '
      + '(after removing dist/python if it holds stale wheels) first.');
  }
  warnIfStale(path.join(dir, wheels[0]));
  return path.join(dir, wheels[0]);
}

/** A fresh scratch directory under os.tmpdir(); `remove()` deletes it unless KEEP_CONSUMER_TMP is set. */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`)));
  return {
    dir,
    remove: () => {
      if (process.env.KEEP_CONSUMER_TMP) {
        // eslint-disable-next-line no-console
        console.log(`KEEP_CONSUMER_TMP is set: kept ${dir}`);
        return;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  readonly command: string;
  readonly cwd: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export interface RunOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Kill the process (group) after this many milliseconds. */
  readonly timeoutMs: number;
}

const OUTPUT_TAIL = 12_000;

function tail(text: string): string {
  return text.length > OUTPUT_TAIL ? `[... ${text.length - OUTPUT_TAIL} characters cut ...]\n${text.slice(-OUTPUT_TAIL)}` : text;
}

/** A readable account of a finished command, for failure messages. */
export function describeRun(r: RunResult): string {
  const status = r.timedOut ? `timed out after ${r.seconds.toFixed(1)}s` : `exited with code ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}`;
  return `\`${r.command}\` in ${r.cwd} ${status} after ${r.seconds.toFixed(1)}s\n`
    + `--- stdout ---\n${tail(r.stdout) || '(empty)'}\n--- stderr ---\n${tail(r.stderr) || '(empty)'}`;
}

/** Runs a command to completion, capturing its output. Never rejects on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const command = [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
    }, opts.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      clearTimeout(timer);
      resolve({
        command,
        cwd: opts.cwd,
        code,
        signal,
        timedOut,
        stdout,
        stderr: error ? `${stderr}\n[spawn error] ${error.message}` : stderr,
        seconds: (Date.now() - started) / 1000,
      });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Runs a command and throws, with its output, unless it exits with code 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0 || result.timedOut) {
    throw new Error(`Command failed: ${describeRun(result)}`);
  }
  return result;
}

const ESBUILD_NAMES = ['esbuild', 'esbuild.exe', 'esbuild.cmd'];

function hasEsbuild(dir: string): boolean {
  return ESBUILD_NAMES.some((n) => fs.existsSync(path.join(dir, n)));
}

/**
 * The environment of the consumer's npm, pip and synth processes: PATH without any
 * directory that holds an esbuild binary (and without node_modules/.bin folders, such
 * as this repository's, which projen and npx add), a `node` that stays reachable
 * through a shim directory, `CDK_DOCKER` pointing nowhere so Docker bundling cannot
 * run, TMPDIR inside the scratch directory (the construct stages its edge code
 * there), and no variables of the npm script or jest that launched the tests.
 */
export function consumerEnv(scratch: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const shim = path.join(scratch, 'node-shim');
  fs.mkdirSync(shim, { recursive: true });
  if (!fs.existsSync(path.join(shim, 'node'))) {
    fs.symlinkSync(process.execPath, path.join(shim, 'node'));
  }
  const tmp = path.join(scratch, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });

  const pathDirs = (process.env.PATH ?? '').split(path.delimiter)
    .filter((d) => d !== '' && !d.split(path.sep).includes('node_modules') && !hasEsbuild(d));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|command$|execpath$|node_execpath$|config_(local_prefix|prefix|global_prefix|yes)$)/i.test(k)
      || /^(INIT_CWD|NODE_PATH|NODE_OPTIONS|NODE_ENV|JEST_WORKER_ID|PROJEN_.*|CDK_.*|ESBUILD_.*|PYTHONPATH|PYTHONHOME|VIRTUAL_ENV|JSII_.*)$/i.test(k)) {
      continue;
    }
    env[k] = v;
  }
  return {
    ...env,
    PATH: [shim, ...pathDirs].join(path.delimiter),
    TMPDIR: tmp,
    TMP: tmp,
    TEMP: tmp,
    CDK_DOCKER: '/nonexistent-docker',
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.env.JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?? process.versions.node.split('.')[0],
    // The jsii runtime caches extracted packages under ~/.cache by default: keep it in the scratch directory.
    JSII_RUNTIME_PACKAGE_CACHE_ROOT: path.join(scratch, 'jsii-package-cache'),
    ...extra,
  };
}

/** Fails when any directory of env.PATH holds an esbuild binary. */
export function assertNoEsbuildOnPath(env: NodeJS.ProcessEnv): void {
  const found = (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '' && hasEsbuild(d));
  if (found.length > 0) {
    throw new Error(`esbuild is still on the consumer PATH in: ${found.join(', ')}`);
  }
}

/**
 * Every installed package (at any depth of nested node_modules) whose name matches,
 * as paths relative to `root`.
 */
export function findInstalledPackages(root: string, match: (name: string) => boolean): string[] {
  const found: string[] = [];
  const visitNodeModules = (nm: string) => {
    if (!fs.existsSync(nm)) {
      return;
    }
    for (const entry of fs.readdirSync(nm, { withFileTypes: true })) {
      if (!entry.isDirectory() && !entry.isSymbolicLink()) {
        continue;
      }
      if (entry.name.startsWith('@')) {
        for (const scoped of fs.readdirSync(path.join(nm, entry.name))) {
          visitPackage(path.join(nm, entry.name, scoped), `${entry.name}/${scoped}`);
        }
      } else if (!entry.name.startsWith('.')) {
        visitPackage(path.join(nm, entry.name), entry.name);
      }
    }
  };
  const visitPackage = (dir: string, name: string) => {
    if (match(name)) {
      found.push(path.relative(root, dir));
    }
    visitNodeModules(path.join(dir, 'node_modules'));
  };
  visitNodeModules(path.join(root, 'node_modules'));
  return found;
}

// ---------------------------------------------------------------------------
// Cloud assembly

export interface AssemblyStack {
  readonly artifactId: string;
  readonly stackName: string;
  readonly environment: string;
  /** Artifact ids this stack depends on (its edge stack among them). */
  readonly dependencies: string[];
  readonly template: any;
  /** Asset hash -> absolute path of the staged asset, from the stack's asset manifest. */
  readonly assets: Map<string, string>;
}

export interface Assembly {
  readonly outdir: string;
  readonly stacks: AssemblyStack[];
  stack(predicate: (s: AssemblyStack) => boolean, what: string): AssemblyStack;
}

/**
 * With CONSUMER_TEMPLATES_DIR set (.ci/run sets it), copies a template the consumer apps
 * synthesized there, named after its scratch folder, so cfn-lint can read every one of them.
 */
function keepTemplateForLint(outdir: string, templateFile: string): void {
  const dir = process.env.CONSUMER_TEMPLATES_DIR;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  const label = `${path.basename(path.dirname(outdir))}-${path.basename(outdir)}`.replace(/[^\w.-]/g, '_');
  fs.copyFileSync(path.join(outdir, templateFile), path.join(path.resolve(dir), `${label}-${path.basename(templateFile)}`));
}

/** Reads manifest.json, the stack templates and their asset manifests from a cloud assembly folder. */
export function readAssembly(outdir: string): Assembly {
  const manifestFile = path.join(outdir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) {
    throw new Error(`No cloud assembly in ${outdir}: manifest.json is missing (${fs.existsSync(outdir) ? fs.readdirSync(outdir).join(', ') : 'no folder'})`);
  }
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const artifacts: Record<string, any> = manifest.artifacts ?? {};
  const stacks: AssemblyStack[] = [];
  for (const [artifactId, artifact] of Object.entries(artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack') {
      continue;
    }
    const assets = new Map<string, string>();
    for (const dep of artifact.dependencies ?? []) {
      const depArtifact = artifacts[dep];
      if (depArtifact?.type !== 'cdk:asset-manifest') {
        continue;
      }
      const assetManifest = JSON.parse(fs.readFileSync(path.join(outdir, depArtifact.properties.file), 'utf8'));
      for (const [hash, file] of Object.entries<any>(assetManifest.files ?? {})) {
        assets.set(hash, path.join(outdir, file.source.path));
      }
    }
    keepTemplateForLint(outdir, artifact.properties.templateFile);
    stacks.push({
      artifactId,
      stackName: artifact.properties?.stackName ?? artifactId,
      environment: artifact.environment,
      dependencies: artifact.dependencies ?? [],
      template: JSON.parse(fs.readFileSync(path.join(outdir, artifact.properties.templateFile), 'utf8')),
      assets,
    });
  }
  return {
    outdir,
    stacks,
    stack(predicate, what) {
      const matching = stacks.filter(predicate);
      if (matching.length !== 1) {
        throw new Error(`Expected exactly one ${what} in the cloud assembly ${outdir}, found ${matching.length}; `
          + `its stacks: ${stacks.map((s) => `${s.artifactId} (${s.environment})`).join(', ')}`);
      }
      return matching[0];
    },
  };
}

/** Resources of a template, optionally of one type, as [logicalId, resource] pairs. */
export function resourcesOf(template: any, type?: string): Array<[string, any]> {
  return Object.entries<any>(template.Resources ?? {}).filter(([, r]) => type === undefined || r.Type === type);
}

/** The only resource of a type in a template (fails with the types it has otherwise). */
export function onlyResource(template: any, type: string): any {
  const found = resourcesOf(template, type);
  if (found.length !== 1) {
    const types = [...new Set(resourcesOf(template).map(([, r]) => r.Type))].sort();
    throw new Error(`Expected exactly one ${type}, found ${found.length}; the template has: ${types.join(', ')}`);
  }
  return found[0][1];
}

/** The ledger table and the sessions table beside it (`<ledger>-sessions`) of a template with one distribution. */
export function ledgerTables(template: any): { ledger: any; sessions: any } {
  const tables = resourcesOf(template, 'AWS::DynamoDB::Table').map(([, r]) => r);
  const sessions = tables.filter((t) => /-sessions$/.test(String(t.Properties?.TableName)));
  const ledger = tables.filter((t) => !sessions.includes(t));
  if (ledger.length !== 1 || sessions.length !== 1) {
    throw new Error(`Expected a ledger and a sessions table, found ${ledger.length} and ${sessions.length}`);
  }
  return { ledger: ledger[0], sessions: sessions[0] };
}

/**
 * The staged code folder of a Lambda function, found through the function's S3Key
 * in the stack's asset manifest.
 */
export function lambdaAssetDir(stack: AssemblyStack, fn: any): string {
  const key: unknown = fn.Properties?.Code?.S3Key;
  if (typeof key !== 'string') {
    throw new Error(`The function has no asset S3Key: ${JSON.stringify(fn.Properties?.Code)}`);
  }
  const hash = key.replace(/\.zip$/, '');
  const dir = stack.assets.get(hash);
  if (!dir) {
    throw new Error(`Asset ${hash} of ${stack.artifactId} is not in its asset manifest (${[...stack.assets.keys()].join(', ')})`);
  }
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`Asset folder ${dir} is missing from the cloud assembly`);
  }
  return dir;
}

/** The mint function: the regional Lambda whose environment carries OTP_MAX_EXPIRES_SECONDS. */
export function mintFunction(template: any): any {
  const fns = resourcesOf(template, 'AWS::Lambda::Function').filter(([, r]) => r.Properties?.Environment?.Variables?.OTP_MAX_EXPIRES_SECONDS !== undefined);
  if (fns.length !== 1) {
    throw new Error(`Expected one mint function (a Lambda with OTP_MAX_EXPIRES_SECONDS in its environment), found ${fns.length}`);
  }
  return fns[0][1];
}
