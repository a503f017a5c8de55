// A jest setup file. Property tests draw their inputs from one fixed seed, so every run tests
// the same inputs and a failure can be replayed; some tests also count how many draws passed
// and were refused, which a random seed makes a matter of luck. FC_SEED=<integer> draws another
// sample, FC_SEED=random a fresh one each run (fast-check prints the seed of any failure).
import * as fc from 'fast-check';

const FIXED_SEED = 24;

const wanted = process.env.FC_SEED;
if (wanted !== 'random') {
  const seed = wanted === undefined || wanted === '' ? FIXED_SEED : Number(wanted);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer or "random"; got ${wanted}`);
  fc.configureGlobal({ seed });
}
