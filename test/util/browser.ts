// Browser tests run wherever chromium is (local/browser.ts says where it looks). Without it they
// are skipped, and test/util/skipped-browser-tests.js says so in one line at the end of the run;
// in CI (CI set) they run anyway and fail on the missing browser, so CI never passes without them.
import { chromiumMissing } from '../../local/browser';

const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/** `describe` for tests that drive chromium: `describe.skip` on a machine without it, outside CI. */
export const describeInBrowser: jest.Describe = chromiumMissing() && !inCi ? describe.skip : describe;
