// `npm run local`: the local emulated deployment, until SIGINT or SIGTERM.
// stdout carries exactly one JSON line (the contract); everything else goes to stderr.
import { existsSync, readFileSync } from 'node:fs';
import { startLocalDeployment } from './deployment';
import { ORIGIN_FAULT_KINDS, type OriginFaultKind } from './servers';
import { MAX_UPLOAD_BYTES_LIMIT } from '../src/shared/config';
import { corsOriginProblem } from '../src/shared/cors';

const USAGE = `usage: npm run local -- [--object KEY=FILE]... [--public-api] [--region REGION] [--bucket NAME]
                       [--max-uses-limit N] [--allowed-prefix PREFIX]... [--no-preview-protection]
                       [--download-window SECONDS] [--events-file PATH] [--metrics-file PATH] [--landing-page]
                       [--session-seconds N] [--max-link-lifetime SECONDS] [--passphrase-attempts N]
                       [--origin-fault KEY=500|503|reset|timeout]... [--cors-origin ORIGIN]...
                       [--upload-prefix PREFIX]... [--no-uploads] [--max-upload-bytes N]

Starts the one-time link stack on 127.0.0.1 and prints one JSON line with its URLs
and local credentials. The mint API verifies SigV4 (service execute-api) signed with
those credentials, as the deployed API does by default; --public-api serves it open.

--session-seconds sets how long every role session lasts (default 3600): the mint's
and the edge function's own credentials really end (their containers are replaced
before), and S3 answers ExpiredToken to anything signed with an ended session. The
edge signs each request it sends to S3 when it sends it, so links outlive sessions.
--max-link-lifetime sets the longest link the API mints, in seconds (the construct's
maxLinkLifetime; default 3600, at most 31536000, a year).
--passphrase-attempts sets how many wrong passphrases a protected link takes before
it locks (the construct's passphraseAttempts; default 5, 1 to 100).

--origin-fault KEY=KIND makes S3 answer the first GET of object KEY with KIND
instead of the object: 500 (InternalError), 503 (SlowDown), reset (the connection
is dropped: CloudFront answers 502) or timeout (no answer: CloudFront waits its 30 s
origin response timeout and sends the GET again, as it does up to 3 times); later
GETs are served. Repeat it to fail several GETs, of one key or of several.

--cors-origin ORIGIN (repeatable) lets pages of ORIGIN (scheme://host[:port], e.g.
http://127.0.0.1:5173) call the mint API from a browser, as the construct's
corsAllowedOrigins does: the API answers CORS preflight requests itself and adds
access-control-allow-origin to its answers for those origins only.

--upload-prefix PREFIX (repeatable) sets the key prefixes upload links (POST /uploads)
may be minted for (default uploads/); the edge function's role may write objects under
them and nowhere else. A prefix must not be empty: uploads beside every download are
not offered. --no-uploads turns upload links off. --max-upload-bytes N sets the largest
file a link takes and its default (default 104857600, 100 MiB; at most 5368709120, S3's
largest single PUT).

--metrics-file PATH appends one JSON line per download metric datum the edge function
publishes (as CloudWatch extracts them from its embedded metric format records: uses
opened, session requests, refusals by reason, origin failures, ledger unavailable); the
totals are printed on stderr at shutdown either way.`;

interface CliOptions {
  readonly objects: Record<string, Buffer>;
  readonly publicApi: boolean;
  readonly region?: string;
  readonly bucket?: string;
  readonly maxUsesLimit?: number;
  readonly allowedKeyPrefixes?: string[];
  readonly previewProtection: boolean;
  readonly downloadWindowSeconds?: number;
  readonly eventsFile?: string;
  readonly metricsFile?: string;
  readonly landingPage?: boolean;
  readonly maxExpiresSeconds?: number;
  readonly sessionSeconds?: number;
  readonly originFaults?: Record<string, OriginFaultKind[]>;
  readonly corsAllowedOrigins?: string[];
  readonly passphraseAttempts?: number;
  readonly uploadKeyPrefixes?: string[];
  readonly maxUploadBytes?: number;
}

export function parseArgs(argv: readonly string[]): CliOptions {
  const objects: Record<string, Buffer> = {};
  let publicApi = false;
  let region: string | undefined;
  let bucket: string | undefined;
  let maxUsesLimit: number | undefined;
  let allowedKeyPrefixes: string[] | undefined;
  let previewProtection = true;
  let downloadWindowSeconds: number | undefined;
  let eventsFile: string | undefined;
  let metricsFile: string | undefined;
  let landingPage: boolean | undefined;
  let maxLinkLifetime: number | undefined;
  let sessionSeconds: number | undefined;
  let originFaults: Record<string, OriginFaultKind[]> | undefined;
  let corsAllowedOrigins: string[] | undefined;
  let passphraseAttempts: number | undefined;
  let uploadKeyPrefixes: string[] | undefined;
  let noUploads = false;
  let maxUploadBytes: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      return v;
    };
    if (arg === '--object') {
      const spec = value();
      const eq = spec.indexOf('=');
      if (eq <= 0 || eq === spec.length - 1) throw new Error(`--object expects KEY=FILE; got ${spec}`);
      objects[spec.slice(0, eq)] = readFileSync(spec.slice(eq + 1));
    } else if (arg === '--public-api') {
      publicApi = true;
    } else if (arg === '--region') {
      region = value();
    } else if (arg === '--bucket') {
      bucket = value();
    } else if (arg === '--max-uses-limit') {
      const n = value();
      if (!/^\d+$/.test(n) || +n < 1 || +n > 100) throw new Error(`--max-uses-limit expects an integer between 1 and 100; got ${n}`);
      maxUsesLimit = +n;
    } else if (arg === '--allowed-prefix') {
      (allowedKeyPrefixes ??= []).push(value());
    } else if (arg === '--download-window') {
      const n = value();
      if (!/^\d+$/.test(n) || +n > 86_400) throw new Error(`--download-window expects whole seconds between 0 and 86400; got ${n}`);
      downloadWindowSeconds = +n;
    } else if (arg === '--max-link-lifetime') {
      const n = value();
      if (!/^\d+$/.test(n) || +n < 1 || +n > 31_536_000) throw new Error(`--max-link-lifetime expects whole seconds between 1 and 31536000; got ${n}`);
      maxLinkLifetime = +n;
    } else if (arg === '--session-seconds') {
      const n = value();
      if (!/^\d+$/.test(n) || +n < 1 || +n > 43_200) throw new Error(`--session-seconds expects whole seconds between 1 and 43200; got ${n}`);
      sessionSeconds = +n;
    } else if (arg === '--passphrase-attempts') {
      const n = value();
      if (!/^\d+$/.test(n) || +n < 1 || +n > 100) throw new Error(`--passphrase-attempts expects an integer between 1 and 100; got ${n}`);
      passphraseAttempts = +n;
    } else if (arg === '--origin-fault') {
      // The kind never holds '=', the key may.
      const spec = value();
      const eq = spec.lastIndexOf('=');
      const kind = spec.slice(eq + 1);
      if (eq <= 0 || !(ORIGIN_FAULT_KINDS as readonly string[]).includes(kind)) {
        throw new Error(`--origin-fault expects KEY=${ORIGIN_FAULT_KINDS.join('|')}; got ${spec}`);
      }
      originFaults ??= {};
      (originFaults[spec.slice(0, eq)] ??= []).push(kind as OriginFaultKind);
    } else if (arg === '--cors-origin') {
      const origin = value();
      const problem = corsOriginProblem(origin);
      if (problem) throw new Error(`--cors-origin expects an origin, scheme://host[:port]; got ${origin} (${problem})`);
      (corsAllowedOrigins ??= []).push(origin);
    } else if (arg === '--upload-prefix') {
      const prefix = value();
      if (prefix === '') throw new Error('--upload-prefix expects a non-empty key prefix such as uploads/ (--no-uploads turns upload links off)');
      (uploadKeyPrefixes ??= []).push(prefix);
    } else if (arg === '--no-uploads') {
      noUploads = true;
    } else if (arg === '--max-upload-bytes') {
      const n = value();
      if (!/^\d+$/.test(n) || +n < 1 || +n > MAX_UPLOAD_BYTES_LIMIT) {
        throw new Error(`--max-upload-bytes expects an integer between 1 and ${MAX_UPLOAD_BYTES_LIMIT}; got ${n}`);
      }
      maxUploadBytes = +n;
    } else if (arg === '--landing-page') {
      landingPage = true;
    } else if (arg === '--events-file') {
      eventsFile = value();
    } else if (arg === '--metrics-file') {
      metricsFile = value();
    } else if (arg === '--no-preview-protection') {
      previewProtection = false;
    } else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    }
  }
  if (noUploads && uploadKeyPrefixes) throw new Error('--no-uploads and --upload-prefix contradict each other');
  return {
    objects,
    publicApi,
    region,
    bucket,
    maxUsesLimit,
    allowedKeyPrefixes,
    previewProtection,
    downloadWindowSeconds,
    eventsFile,
    metricsFile,
    landingPage,
    maxExpiresSeconds: maxLinkLifetime,
    sessionSeconds,
    originFaults,
    corsAllowedOrigins,
    passphraseAttempts,
    uploadKeyPrefixes: noUploads ? [] : uploadKeyPrefixes,
    maxUploadBytes,
  };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const deployment = await startLocalDeployment(opts);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`local: ${signal}, shutting down\n`);
    const totals = deployment.metrics.summary();
    process.stderr.write(`local: download metrics${totals.length ? `:\n${totals.map((t) => `  ${t}\n`).join('')}` : ': none\n'}`);
    deployment.close().then(() => process.exit(0), (err: Error) => {
      process.stderr.write(`local: shutdown failed: ${err.message}\n`);
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => shutdown('SIGHUP'));
  watchAncestors(() => shutdown('launcher exited'));

  process.stdout.write(JSON.stringify({
    apiUrl: deployment.apiUrl,
    mintUrlEndpoint: `${deployment.apiUrl}/get-url`,
    distributionUrl: deployment.distributionUrl,
    originUrl: deployment.originUrl,
    originHost: deployment.originHost,
    bucket: deployment.bucket,
    region: deployment.region,
    accessKeyId: deployment.accessKeyId,
    secretAccessKey: deployment.secretAccessKey,
    apiAuth: opts.publicApi ? 'none' : 'sigv4',
    objects: Object.keys(opts.objects),
  }) + '\n');
  process.stderr.write(`local: ready. mint API ${deployment.apiUrl}${opts.publicApi ? ' (no auth)' : ' (SigV4, service execute-api)'}, distribution ${deployment.distributionUrl}, origin ${deployment.originUrl}. Ctrl-C to stop.\n`);
}

/**
 * `npm run local` runs us under npm -> sh -> projen. A SIGTERM sent to npm alone does
 * not reach us, and the servers would outlive it. So watch the launching chain and
 * shut down when any process in it exits (Linux /proc; elsewhere signals only).
 */
function watchAncestors(onExit: () => void): void {
  const parentOf = (pid: number): number | undefined => {
    try {
      // Field 4 of /proc/PID/stat, after the parenthesised command name.
      return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
    } catch {
      return undefined;
    }
  };
  if (!existsSync('/proc/self/stat')) return;
  const chain: Array<[number, number]> = [];
  for (let pid = process.pid, depth = 0; depth < 4; depth++) {
    const ppid = parentOf(pid);
    if (ppid === undefined || ppid <= 1) break;
    chain.push([pid, ppid]);
    pid = ppid;
  }
  const timer = setInterval(() => {
    if (chain.some(([pid, ppid]) => parentOf(pid) !== ppid)) {
      clearInterval(timer);
      onExit();
    }
  }, 500);
  timer.unref();
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`local: ${err.message}\n`);
    process.exit(1);
  });
}
