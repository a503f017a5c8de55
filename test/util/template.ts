/**
 * Replaces asset hashes (which change with every handler rebuild) so snapshots
 * only change when the infrastructure does.
 */
export function maskAssetHashes(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template)
    .replace(/[0-9a-f]{64}(\.zip|\.json)?/g, (_m, ext: string | undefined) => `[HASH]${ext ?? ''}`)
    .replace(/cdk-hnb659fds-assets-[^"]+/g, 'cdk-assets-bucket')
    // Lambda version logical ids end in a hash of the code.
    .replace(/(CurrentVersion[0-9A-F]{8})[0-9a-f]{32}/g, '$1[HASH]'));
}
