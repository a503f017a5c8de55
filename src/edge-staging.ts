import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Stage } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EDGE_STAGED_CONFIG_FILE, EdgeStagedConfig } from './shared/config';

/** Pre-built handler bundles, shipped in the package's assets/ folder. */
export const ASSETS_DIR = path.join(__dirname, '..', 'assets', 'handlers');

/**
 * Stages a per-instance copy of the pre-built edge bundle with its config.json and
 * returns the folder, for `Code.fromAsset`.
 *
 * The folder lives in the cloud assembly's asset directory (cdk.out), named by the hash
 * of its content, the way CDK names staged assets: nothing is left in the temporary
 * folder when synth is interrupted, the folder outlives synth for tools that read the
 * original asset path (`--no-staging`, SAM CLI), and a re-synth reuses it.
 */
export function stageEdgeCode(scope: Construct, config: EdgeStagedConfig): string {
  const code = fs.readFileSync(path.join(ASSETS_DIR, 'edge', 'index.js'));
  const configJson = JSON.stringify(config, undefined, 2);
  const hash = createHash('sha256').update(code).update('\0').update(configJson).digest('hex').slice(0, 32);
  const outdir = Stage.of(scope)?.assetOutdir;
  if (!outdir) throw new Error(`OneTimePresignedDistribution at ${scope.node.path} must be inside an App or a Stage`);
  // Under an `asset.` folder, with the assets CDK stages there, which tools that compare or
  // clean cloud assemblies already treat as build output. The leaf has no dot: CDK would
  // read one as a file extension and carry it into the staged asset's name.
  const dir = path.join(outdir, 'asset.otp-edge-sources', hash);
  fs.mkdirSync(dir, { recursive: true });
  // Rewritten every synth: the folder's content is fully determined by its name.
  fs.writeFileSync(path.join(dir, 'index.js'), code);
  fs.writeFileSync(path.join(dir, EDGE_STAGED_CONFIG_FILE), configJson);
  return dir;
}
