// Tests that run the download clients people use (curl, wget, aria2c, ffmpeg) as child
// processes. Like the browser tests (test/util/browser.ts): without the tools they are skipped,
// and test/util/skipped-browser-tests.js says so in one line at the end of the run; in CI (CI
// set) they run anyway and fail, so CI never passes without them.
import { execFileSync } from 'node:child_process';

const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** The tools of `tools` that are not on the PATH. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * `describe` for tests that run `tools`: skipped on a machine without them, outside CI. The
 * title carries `[needs ...]`, which the end-of-run line reads.
 */
export function describeWithTools(tools: readonly string[], name: string, fn: () => void): void {
  const skip = missingTools(tools).length > 0 && !inCi;
  (skip ? describe.skip : describe)(`${name} [needs ${tools.join(', ')}]`, fn);
}
