// A jest reporter (plain JavaScript: jest loads reporters without transforming them). When
// the browser tests were skipped for want of chromium (test/util/browser.ts), it prints one
// line at the end of the run saying so and how to run them.
const { relative } = require('node:path');

/** Where local/browser.ts looks for chromium: keep the two in step. */
const chromium = () => process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** The line to print when the process exits (a watch run prints the latest once). */
let line = '';
let waiting = false;

class SkippedBrowserTests {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    this.skipped = [];
  }

  onTestResult(test, result) {
    const total = result.numPassingTests + result.numFailingTests + result.numPendingTests + result.numTodoTests;
    if (/\.browser\.test\.[cm]?[jt]s$/.test(test.path) && total > 0 && result.numPendingTests === total) {
      this.skipped.push({ file: relative(this.rootDir, test.path), tests: total });
    }
  }

  onRunComplete() {
    if (this.skipped.length === 0) return;
    const tests = this.skipped.reduce((n, s) => n + s.tests, 0);
    line = `Browser tests skipped (${tests} in ${this.skipped.map((s) => s.file).join(', ')}): no chromium at ${chromium()}. `
      + 'To run them: apt-get install -y chromium, or set CHROMIUM_PATH to a chromium binary.\n';
    // Last, after the coverage table and the summary, where it is seen.
    if (!waiting) process.once('exit', () => process.stderr.write(line));
    waiting = true;
  }
}

module.exports = SkippedBrowserTests;
