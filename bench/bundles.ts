// Builds the comparison bundles with exactly the esbuild arguments the library uses for
// its own edge asset: they are read from the projen task `bundle:handlers/edge`
// (.projen/tasks.json, generated from .projenrc.ts), so the comparison follows any change
// to the project's bundling. Also measures sizes and what a bundle is made of.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { childEnv, runOk } from './proc';

export const REPO_ROOT = join(__dirname, '..');
const EDGE_BUNDLE_TASK = 'bundle:handlers/edge';

export interface EsbuildRecipe {
  /** The task's arguments without the entry point and --outfile (and without `esbuild` itself). */
  readonly options: string[];
  readonly entry: string;
  readonly outfile: string;
}

interface TaskFile {
  tasks: Record<string, { steps?: Array<{ execArgs?: string[]; exec?: string }> }>;
}

/** The edge bundle task's esbuild invocation, split into options, entry and outfile. */
export function edgeBundleRecipe(): EsbuildRecipe {
  const tasks = (JSON.parse(readFileSync(join(REPO_ROOT, '.projen', 'tasks.json'), 'utf8')) as TaskFile).tasks;
  const step = tasks[EDGE_BUNDLE_TASK]?.steps?.find((s) => s.execArgs?.[0] === 'esbuild');
  if (!step?.execArgs) throw new Error(`.projen/tasks.json has no esbuild step in ${EDGE_BUNDLE_TASK}`);
  const args = step.execArgs.slice(1);
  const outfile = args.find((a) => a.startsWith('--outfile='))?.slice('--outfile='.length);
  const entry = args.find((a) => !a.startsWith('-'));
  if (!outfile || !entry) throw new Error(`cannot read entry and outfile from ${EDGE_BUNDLE_TASK}: ${args.join(' ')}`);
  const options = args.filter((a) => a !== entry && !a.startsWith('--outfile=') && a !== '--watch');
  return { options, entry, outfile };
}

/** Options without any `--alias:` (what the SDK's default module graph bundles to). */
export function withoutAliases(options: readonly string[]): string[] {
  return options.filter((a) => !a.startsWith('--alias:'));
}

export interface BundleSize {
  readonly file: string;
  readonly raw: number;
  /** gzip at the default level (6): about what the deployment zip's deflate achieves. */
  readonly gzip: number;
}

export function sizeOf(file: string): BundleSize {
  const bytes = readFileSync(file);
  return { file, raw: bytes.length, gzip: gzipSync(bytes).length };
}

export interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

export interface BuiltBundle extends BundleSize {
  readonly metafile: Metafile;
}

/** Runs the repository's esbuild with the given options on an entry (relative to the repository). */
export async function bundle(options: readonly string[], entry: string, outfile: string): Promise<BuiltBundle> {
  const metafile = `${outfile}.meta.json`;
  // esbuild/bin/esbuild is the native binary once installed (a JS shim otherwise); both run directly.
  await runOk(`esbuild ${entry}`, require.resolve('esbuild/bin/esbuild'), ['--bundle', entry, ...options.filter((o) => o !== '--bundle'), `--outfile=${outfile}`, `--metafile=${metafile}`, '--log-level=warning'], {
    cwd: REPO_ROOT,
    env: childEnv(),
    timeoutMs: 120_000,
  });
  return { ...sizeOf(outfile), metafile: JSON.parse(readFileSync(metafile, 'utf8')) as Metafile };
}

/** Bytes in the output per package (or first-party folder), largest first. */
export function composition(metafile: Metafile): Array<{ name: string; bytes: number }> {
  const byName = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      byName.set(name, (byName.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...byName.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input.startsWith('src/') ? 'this library (src/)' : input;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Groups a composition into coarse families for the report. */
export function families(parts: Array<{ name: string; bytes: number }>): Array<{ name: string; bytes: number }> {
  const family = (name: string): string => {
    if (name === '@aws-sdk/client-dynamodb' || name === '@aws-sdk/dynamodb-codec') return '@aws-sdk/client-dynamodb';
    if (name === '@aws-sdk/client-ssm') return '@aws-sdk/client-ssm';
    if (/^@aws-sdk\/(credential-provider|token-providers|nested-clients)/.test(name)) return '@aws-sdk credential providers (+ the STS/SSO clients they embed)';
    if (name.startsWith('@aws-sdk/')) return '@aws-sdk/* core and middleware';
    if (name.startsWith('@smithy/')) return '@smithy/* runtime';
    if (name === 'this library (src/)') return name;
    return 'other (third-party, esbuild runtime)';
  };
  const byFamily = new Map<string, number>();
  for (const p of parts) byFamily.set(family(p.name), (byFamily.get(family(p.name)) ?? 0) + p.bytes);
  return [...byFamily.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}
