// The passphrase KDF's cost (src/shared/passphrase.ts): what a protected link's button press
// adds before its ledger write, measured here, once in this process and once in a worker
// thread whose heap is bounded like a 128 MB viewer-request function's. scrypt's 16 MiB live
// outside the JS heap (OpenSSL allocates them), so the worker's resourceLimits bound only the
// JS heap beside it; the memory a hash takes is reported from the process's RSS instead.
//
// Lambda gives a function CPU in proportion to its memory (a full vCPU at 1,769 MB, "Lambda
// memory and computing power" in the Lambda developer guide), so at the edge's 128 MB a hash
// takes about 1769 / 128 = 13.8 times this machine's single-core time, if one vCPU were as
// fast as one core here. That estimate is printed beside the measurement, marked as one.
import { Worker } from 'node:worker_threads';
import { median, msSince, quantile } from './stats';
import { hashPassphrase, PASSPHRASE_KDF } from '../src/shared/passphrase';

/** Memory at which Lambda allocates one full vCPU. */
export const LAMBDA_MB_PER_VCPU = 1769;
/** The viewer-request function's memory (Lambda@Edge's limit for viewer triggers). */
export const EDGE_MEMORY_MB = 128;

export interface KdfResult {
  readonly params: typeof PASSPHRASE_KDF;
  readonly samples: number;
  /** Milliseconds per hash in this process. */
  readonly inProcess: number[];
  /** Milliseconds per hash in a worker with a bounded heap. */
  readonly inWorker: number[];
  /** The worker's heap bound (maxOldGenerationSizeMb + maxYoungGenerationSizeMb). */
  readonly workerHeapMb: number;
  /** Largest growth of this process's RSS over one hash, in bytes (the KDF's own memory, roughly). */
  readonly rssGrowth: number;
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { scrypt } = require('node:crypto');
const { N, r, p, keyLength, maxmem, samples } = workerData;
(async () => {
  const times = [];
  for (let i = 0; i < samples + 3; i++) {
    const start = process.hrtime.bigint();
    await new Promise((ok, fail) => scrypt('correct horse battery staple ' + i, 'otp-passphrase\\nAAAAAAAAAAAAAAAAAAAAAA', keyLength, { N, r, p, maxmem },
      (err) => (err ? fail(err) : ok())));
    if (i >= 3) times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  parentPort.postMessage(times);
})().catch((err) => parentPort.postMessage({ error: err.message }));
`;

export async function measureKdf(samples: number): Promise<KdfResult> {
  const inProcess: number[] = [];
  let rssGrowth = 0;
  for (let i = 0; i < samples + 3; i++) {
    const rss = process.memoryUsage.rss();
    const start = process.hrtime.bigint();
    await hashPassphrase(`correct horse battery staple ${i}`, 'AAAAAAAAAAAAAAAAAAAAAA');
    const ms = msSince(start);
    rssGrowth = Math.max(rssGrowth, process.memoryUsage.rss() - rss);
    if (i >= 3) inProcess.push(ms);
  }
  // A 128 MB function holds the runtime, the bundle and the SDK clients besides: bound the
  // worker's JS heap well below 128 MB.
  const resourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };
  const inWorker = await new Promise<number[]>((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { ...PASSPHRASE_KDF, samples }, resourceLimits });
    worker.once('message', (m: number[] | { error: string }) => {
      void worker.terminate();
      if (Array.isArray(m)) resolve(m);
      else reject(new Error(m.error));
    });
    worker.once('error', reject);
  });
  return {
    params: PASSPHRASE_KDF,
    samples,
    inProcess,
    inWorker,
    rssGrowth,
    workerHeapMb: resourceLimits.maxOldGenerationSizeMb + resourceLimits.maxYoungGenerationSizeMb,
  };
}

/** The report's lines for the KDF (Markdown). */
export function renderKdf(k: KdfResult, fmtMs: (ms: number) => string): string[] {
  const scale = LAMBDA_MB_PER_VCPU / EDGE_MEMORY_MB;
  const p50 = median(k.inWorker);
  const { N, r, p } = k.params;
  return [
    `scrypt N=2^${Math.log2(N)}, r=${r}, p=${p} (${(128 * N * r) / 2 ** 20} MiB of state per hash), ${k.samples} hashes each after 3 unmeasured:`,
    '',
    '| where | p50 | p90 | max |',
    '|---|---|---|---|',
    `| this process | ${fmtMs(median(k.inProcess))} | ${fmtMs(quantile(k.inProcess, 0.9))} | ${fmtMs(Math.max(...k.inProcess))} |`,
    `| worker thread, JS heap bounded to ${k.workerHeapMb} MB | ${fmtMs(p50)} | ${fmtMs(quantile(k.inWorker, 0.9))} | ${fmtMs(Math.max(...k.inWorker))} |`,
    `| **estimate** for a 128 MB Lambda (× ${scale.toFixed(1)}, not measured) | ${fmtMs(p50 * scale)} | ${fmtMs(quantile(k.inWorker, 0.9) * scale)} | |`,
    '',
    `Largest RSS growth over one hash: ${(k.rssGrowth / 2 ** 20).toFixed(1)} MiB. scrypt's state is allocated outside the JS heap, so the`,
    'worker\'s resourceLimits do not bound it; a viewer-request container serves one request at a time, so one hash at a time.',
    `The estimate scales the worker's time by ${LAMBDA_MB_PER_VCPU} MB / ${EDGE_MEMORY_MB} MB: Lambda gives a function CPU in proportion to its memory`,
    `(one vCPU at ${LAMBDA_MB_PER_VCPU} MB, so about 1/${scale.toFixed(0)} of one at 128 MB), assuming one Lambda vCPU is as fast as one core`,
    'here. Only a button press of a protected link pays it (opening the page, downloads and range requests do not); it counts against',
    'the edge\'s 3.5 s budget, well inside the 5 s viewer-request limit. Measure it in a real deployment before relying on the estimate.',
  ];
}
