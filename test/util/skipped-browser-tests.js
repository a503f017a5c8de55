// A jest reporter (plain JavaScript: jest loads reporters without transforming them). When
// the browser tests were skipped for want of chromium (test/util/browser.ts), or the
// download-client tests for want of curl, wget, aria2c or ffmpeg (test/util/clients.ts), it
// prints one line each at the end of the run saying so and how to run them.
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
    /** Tools whose tests were skipped -> how many tests. */
    this.tools = new Map();
  }

  onTestResult(test, result) {
    const total = result.numPassingTests + result.numFailingTests + result.numPendingTests + result.numTodoTests;
    if (/\.browser\.test\.[cm]?[jt]s$/.test(test.path) && total > 0 && result.numPendingTests === total) {
      this.skipped.push({ file: relative(this.rootDir, test.path), tests: total });
    }
    for (const t of result.testResults) {
      const needs = t.status === 'pending' && /\[needs ([^\]]+)\]/.exec(t.ancestorTitles.join(' '));
      if (needs) this.tools.set(needs[1], (this.tools.get(needs[1]) ?? 0) + 1);
    }
  }

  onRunComplete() {
    line = '';
    if (this.skipped.length > 0) {
      const tests = this.skipped.reduce((n, s) => n + s.tests, 0);
      line += `Browser tests skipped (${tests} in ${this.skipped.map((s) => s.file).join(', ')}): no chromium at ${chromium()}. `
        + 'To run them: apt-get install -y chromium, or set CHROMIUM_PATH to a chromium binary.\n';
    }
    if (this.tools.size > 0) {
      const tools = [...new Set([...this.tools.keys()].flatMap((t) => t.split(', ')))];
      const tests = [...this.tools.values()].reduce((n, c) => n + c, 0);
      line += `Download-client tests skipped (${tests}): they run ${tools.join(', ')}, not all installed. `
        + 'To run them: apt-get install -y curl wget aria2 ffmpeg.\n';
    }
    if (line === '') return;
    // Last, after the coverage table and the summary, where it is seen.
    if (!waiting) process.once('exit', () => process.stderr.write(line));
    waiting = true;
  }
}

module.exports = SkippedBrowserTests;
