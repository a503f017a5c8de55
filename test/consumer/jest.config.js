// Consumer tests: install the packaged library (dist/js tarball, dist/python wheel)
// into fresh apps and synthesize them. Run after `npx projen package:js` and
// `npx projen package:python`: `npx jest --config test/consumer/jest.config.js`.
const path = require('path');

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.consumer.ts'],
  testEnvironment: 'node',
  preset: 'ts-jest',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: path.join(__dirname, '..', '..', 'tsconfig.dev.json') }],
  },
  testTimeout: 15 * 60 * 1000,
  collectCoverage: false,
  // The TypeScript, Python and Java consumers mostly wait on npm, pip and synth child processes: run them side by side.
  maxWorkers: 2,
  testPathIgnorePatterns: ['/node_modules/'],
  watchPathIgnorePatterns: ['/node_modules/'],
  reporters: [
    'default',
    ['jest-junit', { outputDirectory: path.join(__dirname, '..', '..', 'test-reports'), outputName: 'junit-consumer.xml' }],
  ],
};
