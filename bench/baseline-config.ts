// Constants the baseline handler hard-codes, shared with the benchmark that sets up
// its parameter and table (so run.ts never loads the baseline's SDK clients itself).

/** The seed hard-codes its parameter and region (Lambda@Edge has no environment variables). */
export const BASELINE_PARAMETER_NAME = '/one-time-presigned-url/table-name';
export const BASELINE_REGION = 'us-east-1';
/** The seed's table, keyed by a hash of the raw URL. */
export const BASELINE_TABLE_NAME = 'otp-seed-used-urls';
export const BASELINE_HASH_KEY = 'urlHash';
