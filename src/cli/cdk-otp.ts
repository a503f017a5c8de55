// `cdk-otp`: the links API from the command line (mint, upload-link, status, revoke).
//
// Shipped pre-bundled as assets/cli/cdk-otp/index.js (the package's `bin`), outside the
// jsii API: src/index.ts does not export it. Requests are signed with the AWS SDK's own
// SigV4 signer (service execute-api) and credentials from the SDK's default chain, the
// whole chain (unlike the handler bundles, whose alias keeps only the environment).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { isLinkId, isMediaType } from '../shared/link';

/** Exit codes, one per kind of failure (documented in `--help`). */
export const EXIT = {
  ok: 0,
  /** Network failure, timeout, server error, an answer we do not understand. */
  other: 1,
  /** Bad usage or bad input, found here (nothing sent) or by the API (400). */
  usage: 2,
  /** The credential chain found no credentials (nothing sent). */
  credentials: 3,
  /** The API refused the caller (401, 403). */
  refused: 4,
  /** No such object or link (404). */
  notFound: 5,
} as const;

const REQUEST_TIMEOUT_MS = 30_000;

const EXIT_CODES_HELP = `exit codes:
  0  success: the API's JSON is on stdout
  1  other failure: network error, timeout, server error (5xx), an unexpected answer
  2  bad usage or bad input: unknown command or option, missing or invalid argument,
     a plain http API URL to a host that is not loopback (nothing is sent), or the
     API's 400 (its message is shown)
  3  no credentials: the credential chain found none (nothing is sent)
  4  refused (401/403): the signature was not accepted or the caller may not do this
     (not granted, a key outside the allowed prefixes, another caller's link)
  5  not found (404): no such object (mint) or no such link (status, revoke)`;

const COMMON_HELP = `options:
  --api URL          the links API: the construct's apiEndpoint        env OTP_API_URL
                     (https; plain http only to a loopback host: 127.0.0.0/8,
                     localhost, [::1], such as the local deployment)
  --region REGION    the API's region, signed into every request: this flag, else the
                     region in an execute-api host name, else env AWS_REGION, then
                     AWS_DEFAULT_REGION
  --profile NAME     a profile of the shared config and credentials files   env AWS_PROFILE
  -h, --help         this help

credentials: the AWS SDK's default chain: environment (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the profile's entry in the shared files
(AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE; static keys, assumed roles, IAM Identity
Center (SSO), credential_process), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), container
credentials, EC2 instance metadata (AWS_EC2_METADATA_DISABLED=true skips it).
mint and upload-link need the construct's grantMint; status and revoke need grantManage.`;

const ID_HELP = `<id> is the "id" mint printed: 22 characters of A-Z a-z 0-9 _ -. An id that begins
with - (as some minted by earlier versions do) is taken as the id, not as an option;
after -- every argument is.`;

const HELP: Record<'main' | Command, string> = {
  'main': `usage: cdk-otp <command> [arguments] [options]

Calls the links API of a OneTimePresignedDistribution (cdk-one-time-presigned-url),
signing each request with SigV4 (service execute-api). Prints the API's JSON on stdout;
explains failures on stderr.

commands:
  mint <key>         issue a link to the object <key>                  POST /urls
  upload-link <key>  issue a link that takes one file, stored as <key> POST /uploads
  status <id>        a link's uses, expiry, revocation and downloads   GET /urls/{id}
  revoke <id>        revoke a link at once                             DELETE /urls/{id}

Run \`cdk-otp <command> --help\` for a command's options.

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  'mint': `usage: cdk-otp mint <key> [--expires SECONDS] [--max-uses N] [--download-window SECONDS]
                        [--landing-page | --no-landing-page]
                        [--passphrase VALUE | --passphrase-file PATH | --generate-passphrase] [options]

Issues a link to the object <key> (POST /urls) and prints
{"url","id","expiresAt","maxUses","downloadWindowSeconds","landingPage","passphraseProtected"}
(and "passphrase" with --generate-passphrase: shown this once, never again).

  --expires SECONDS          lifetime of the link, at least 1 (default and maximum: the
                             construct's defaultLinkLifetime and maxLinkLifetime)
  --max-uses N               downloads the link allows, at least 1 (default: defaultMaxUses;
                             at most maxUsesLimit)
  --download-window SECONDS  how long a use's download session lasts, 0 for none (default:
                             the construct's downloadWindow)
  --landing-page             open a landing page whose button downloads
  --no-landing-page          download directly (when the construct's landingPage is on)
  --passphrase VALUE         protect the link with this passphrase (8 to 128 characters):
                             its landing page asks for it, and only the right one downloads;
                             pass it on another channel than the link. Other users of this
                             machine may see command lines: prefer --passphrase-file or
                             --generate-passphrase
  --passphrase-file PATH     the same, read from a file (- for standard input) without its
                             trailing line break: nothing shows it in a command line
  --generate-passphrase      protect the link with a new random passphrase, printed once

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  'upload-link': `usage: cdk-otp upload-link <key> [--max-bytes N] [--content-type TYPE] [--expires SECONDS]
                               [--landing-page | --no-landing-page] [options]

Issues an upload link (POST /uploads): whoever holds it may send one file, stored as the
object <key>, with \`curl -T FILE URL\` or from the upload page a browser opens. Prints
{"url","id","expiresAt","maxBytes"} (and "contentType" when one is required).

  --max-bytes N          the largest file the link takes, in bytes, at least 1 (default
                         and maximum: the construct's upload limit)
  --content-type TYPE    the media type the file must be sent as, type/subtype without
                         parameters (such as application/pdf); default: any
  --expires SECONDS      lifetime of the link, at least 1 (default and maximum: the
                         construct's defaultLinkLifetime and maxLinkLifetime)
  --landing-page         a browser opening the link gets the upload page
  --no-landing-page      no upload page: only a PUT of the file (curl -T) uploads

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  'status': `usage: cdk-otp status <id> [options]
       cdk-otp status [options] -- <id>

Prints a link's status (GET /urls/{id}):
{"id","key","maxUses","uses","expiresAt","revoked","owner","redemptions":[...]}.

${ID_HELP}

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
  'revoke': `usage: cdk-otp revoke <id> [options]
       cdk-otp revoke [options] -- <id>

Revokes a link at once (DELETE /urls/{id}); every later download is refused. The API
answers 204 without a body; cdk-otp prints {"id","revoked":true}. Revoking twice is harmless.

${ID_HELP}

${COMMON_HELP}

${EXIT_CODES_HELP}
`,
};

type Command = 'mint' | 'upload-link' | 'status' | 'revoke';
const COMMANDS: readonly Command[] = ['mint', 'upload-link', 'status', 'revoke'];

const OPTIONS = {
  'api': { type: 'string' },
  'region': { type: 'string' },
  'profile': { type: 'string' },
  'help': { type: 'boolean', short: 'h' },
  'expires': { type: 'string' },
  'max-uses': { type: 'string' },
  'download-window': { type: 'string' },
  'landing-page': { type: 'boolean' },
  'no-landing-page': { type: 'boolean' },
  'passphrase': { type: 'string' },
  'passphrase-file': { type: 'string' },
  'generate-passphrase': { type: 'boolean' },
  'max-bytes': { type: 'string' },
  'content-type': { type: 'string' },
} as const;
type Option = keyof typeof OPTIONS;
/** The options only some commands take; every command takes the others (--api, --region, ...). */
const OPTIONS_OF: Record<Command, readonly Option[]> = {
  'mint': ['expires', 'max-uses', 'download-window', 'landing-page', 'no-landing-page', 'passphrase', 'passphrase-file', 'generate-passphrase'],
  'upload-link': ['expires', 'max-bytes', 'content-type', 'landing-page', 'no-landing-page'],
  'status': [],
  'revoke': [],
};

/** A failure with its exit code; the message goes to stderr. */
class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/**
 * The passphrase in a file (`-`: standard input): its content without one trailing line break,
 * so `echo`, an editor or a secrets manager can write it. Nothing of it is ever printed.
 */
function passphraseFromFile(path: string, command: Command): string {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read --passphrase-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, command);
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(passphrase)) throw usageError(`--passphrase-file ${path} holds more than one line: put the passphrase alone on its line`, command);
  return passphrase;
}

const usageError = (message: string, command?: Command): CliError =>
  new CliError(`${message}\nRun \`cdk-otp ${command ? `${command} ` : ''}--help\` for usage.`, EXIT.usage);

interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

type Invocation =
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'call'; readonly command: Command; readonly request: ApiCall; readonly target: Target };

interface ApiCall {
  readonly method: 'POST' | 'GET' | 'DELETE';
  readonly path: string;
  readonly body?: string;
  readonly linkId?: string;
}

interface Target {
  readonly api: URL;
  readonly region: string;
  readonly profile?: string;
}

/** Reads the command line and the environment; throws a usage CliError before anything is sent. */
export function parseInvocation(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation {
  const { values, positionals } = parseCommandLine(argv);
  const [name, ...rest] = positionals;
  if (name === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { kind: 'help', text: HELP.main };
    if (!isCommand(topic)) throw usageError(`unknown command "${topic}"`);
    return { kind: 'help', text: HELP[topic] };
  }
  if (name === undefined) {
    if (values.help) return { kind: 'help', text: HELP.main };
    throw usageError(`no command given: cdk-otp ${COMMANDS.join('|')}`);
  }
  if (!isCommand(name)) throw usageError(`unknown command "${name}": the commands are ${COMMANDS.join(', ')}`);
  const command = name;
  if (values.help) return { kind: 'help', text: HELP[command] };

  const misplaced = optionsOutside(command, values);
  if (misplaced) {
    const owners = COMMANDS.filter((c) => OPTIONS_OF[c].includes(misplaced));
    throw usageError(`--${misplaced} is an option of ${owners.join(' and ')}, not of ${command}`, command);
  }
  const argument = command === 'mint' || command === 'upload-link' ? 'key' : 'id';
  if (rest.length === 0) throw usageError(`${command} needs the link's ${argument === 'key' ? 'object key' : 'id'}: cdk-otp ${command} <${argument}>`, command);
  if (rest.length > 1) throw usageError(`${command} takes one ${argument}; got ${rest.length} arguments: ${rest.join(' ')}`, command);
  const [subject] = rest;

  let request: ApiCall;
  if (command === 'upload-link') {
    request = { method: 'POST', path: '/uploads', body: JSON.stringify(uploadLinkBody(subject, values)) };
  } else if (command === 'mint') {
    if (values['landing-page'] && values['no-landing-page']) throw usageError('--landing-page and --no-landing-page contradict each other', command);
    const body: Record<string, unknown> = { key: subject };
    if (values.expires !== undefined) body.expiresInSeconds = integer('--expires', values.expires, 1, command);
    if (values['max-uses'] !== undefined) body.maxUses = integer('--max-uses', values['max-uses'], 1, command);
    if (values['download-window'] !== undefined) body.downloadWindowSeconds = integer('--download-window', values['download-window'], 0, command);
    if (values['landing-page']) body.landingPage = true;
    if (values['no-landing-page']) body.landingPage = false;
    const given = (['passphrase', 'passphrase-file', 'generate-passphrase'] as const).filter((option) => values[option] !== undefined);
    if (given.length > 1) throw usageError(`--${given[0]} and --${given[1]} contradict each other`, command);
    // Checked by the API (8 to 128 characters), whose message never repeats the value.
    if (values.passphrase !== undefined) body.passphrase = values.passphrase;
    if (values['passphrase-file'] !== undefined) body.passphrase = passphraseFromFile(String(values['passphrase-file']), command);
    if (values['generate-passphrase']) body.generatePassphrase = true;
    request = { method: 'POST', path: '/urls', body: JSON.stringify(body) };
  } else {
    // Link ids are 22 base64url characters: anything else cannot name a link (and must not
    // become another path of the API).
    if (!isLinkId(subject)) throw usageError(`"${subject}" is not a link id (22 characters of A-Z a-z 0-9 _ -, the "id" mint printed)`, command);
    request = { method: command === 'status' ? 'GET' : 'DELETE', path: `/urls/${subject}`, linkId: subject };
  }
  return { kind: 'call', command, request, target: targetOf(values, env, command) };
}

/** The first option given that `command` does not take. */
function optionsOutside(command: Command, values: Partial<Record<Option, unknown>>): Option | undefined {
  const specific = new Set(Object.values(OPTIONS_OF).flat());
  return (Object.keys(OPTIONS) as Option[]).find((o) => specific.has(o) && !OPTIONS_OF[command].includes(o) && values[o] !== undefined);
}

/** The body of POST /uploads: the key, and only the limits the caller set (the API defaults the rest). */
function uploadLinkBody(key: string, values: Partial<Record<Option, string | boolean>>): Record<string, unknown> {
  const command = 'upload-link';
  if (values['landing-page'] && values['no-landing-page']) throw usageError('--landing-page and --no-landing-page contradict each other', command);
  const body: Record<string, unknown> = { key };
  if (values['max-bytes'] !== undefined) body.maxBytes = integer('--max-bytes', String(values['max-bytes']), 1, command);
  if (values['content-type'] !== undefined) {
    const type = String(values['content-type']);
    // The same rule as the link's x-link-type: one media type, which the edge compares with the PUT's.
    if (!isMediaType(type)) throw usageError(`--content-type expects a media type, type/subtype without parameters (such as application/pdf); got "${type}"`, command);
    body.contentType = type;
  }
  if (values.expires !== undefined) body.expiresInSeconds = integer('--expires', String(values.expires), 1, command);
  if (values['landing-page']) body.landingPage = true;
  if (values['no-landing-page']) body.landingPage = false;
  return body;
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({ args: arrangeArgs(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs explains unknown options and missing values well; its first line suffices.
    throw usageError((err as Error).message.split('\n')[0]);
  }
}

const OPTION_NAMES = new Set(Object.keys(OPTIONS).map((name) => `--${name}`));
/** Options that take a value (`--api URL`): the argument after one is its value, whatever it looks like. */
const VALUED = new Set(Object.entries(OPTIONS).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
/** Options whose value is a number, which may be negative (and is refused, as a value). */
const NUMERIC = new Set(['--expires', '--max-uses', '--download-window', '--max-bytes']);

/**
 * Hands parseArgs the options first and every positional after a `--`, so that:
 * - `--` ends the options, as usual: `cdk-otp revoke -- -pT-KZx...`;
 * - the argument in the id's place (right after `status` or `revoke`) is the id when it has
 *   a link id's shape, even if it begins with `-` (`cdk-otp status -pT-KZx...`): the mint
 *   issued such ids (1 in 64, some beginning with `--`) until it stopped, and they stay
 *   valid. No option has that shape (22 characters of A-Z a-z 0-9 _ -); the check is kept
 *   anyway, should an option ever get one;
 * - `--expires -1` is handed over as `--expires=-1`, so it is judged as a value.
 */
function arrangeArgs(argv: readonly string[]): string[] {
  const options: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const next = argv[i + 1];
    if (VALUED.has(arg)) {
      // parseArgs would take the `--` added below for the value.
      if (next === undefined) throw new TypeError(`Option '${arg} <value>' argument missing`);
      // A passphrase may start with `-`: it is always the value.
      options.push(...((NUMERIC.has(arg) && /^-\d/.test(next)) || arg === '--passphrase' ? [`${arg}=${next}`] : [arg, next]));
      i++;
    } else if (!arg.startsWith('-') || arg === '-' || (isIdPosition(positionals) && isLinkId(arg) && !OPTION_NAMES.has(arg))) {
      positionals.push(arg);
    } else {
      options.push(arg);
    }
  }
  return [...options, '--', ...positionals];
}

/** Whether the next positional is the id of `status` or `revoke`. */
function isIdPosition(positionals: readonly string[]): boolean {
  return positionals.length === 1 && (positionals[0] === 'status' || positionals[0] === 'revoke');
}

function targetOf(values: { api?: string; region?: string; profile?: string }, env: NodeJS.ProcessEnv, command: Command): Target {
  const raw = values.api ?? env.OTP_API_URL;
  if (!raw) throw usageError('no API URL: pass --api URL or set OTP_API_URL (the construct\'s apiEndpoint)', command);
  let api: URL;
  try {
    api = new URL(raw);
  } catch {
    throw usageError(`--api is not a URL: ${raw}`, command);
  }
  if (api.protocol !== 'https:' && api.protocol !== 'http:') throw usageError(`--api must be an http(s) URL; got ${raw}`, command);
  // Plain http would show every signed request (and the links mint returns) to the network:
  // only a loopback host, such as the local deployment, may be called without TLS.
  if (api.protocol === 'http:' && !isLoopback(api.hostname)) {
    throw usageError(
      `refusing to send signed requests over plain http to ${api.hostname}: use an https:// URL `
      + `(http:// is for loopback hosts only: 127.0.0.0/8, localhost, [::1]); got ${raw}`,
      command,
    );
  }
  if (api.search || api.hash || api.username || api.password) throw usageError(`--api must not carry a query, fragment or user info; got ${raw}`, command);
  // The signature covers the region: an execute-api host names the only one that can be right.
  const hostRegion = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(api.hostname)?.[1];
  const region = values.region ?? hostRegion ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined);
  if (!region) throw usageError('no region: pass --region or set AWS_REGION (the region the API is deployed in)', command);
  if (!/^[a-z0-9-]+$/.test(region)) throw usageError(`--region is not a region name: ${region}`, command);
  const profile = values.profile ?? (env.AWS_PROFILE || undefined);
  return { api, region, profile };
}

/**
 * Whether a URL's host name (as URL normalizes it: lower case, IPv4 in dotted decimal, IPv6
 * in brackets) is a loopback address: 127.0.0.0/8, `localhost` or `[::1]`.
 */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** What a numeric option counts, as its refusal says it. */
const UNIT_OF: Record<string, string> = { '--max-uses': '', '--max-bytes': ' of bytes' };

function integer(flag: string, value: string, min: number, command: Command): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw usageError(`${flag} expects a whole number${UNIT_OF[flag] ?? ' of seconds'}, at least ${min}; got "${value}"`, command);
  }
  return n;
}

function isCommand(name: string): name is Command {
  return (COMMANDS as readonly string[]).includes(name);
}

/** Runs one invocation; returns the exit code. */
export async function run(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  try {
    const invocation = parseInvocation(argv, env);
    if (invocation.kind === 'help') {
      io.stdout(invocation.text);
      return EXIT.ok;
    }
    const output = await call(invocation.request, invocation.target);
    io.stdout(`${output}\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`cdk-otp: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`cdk-otp: unexpected failure: ${(err as Error).message}\n`);
    return EXIT.other;
  }
}

async function call(request: ApiCall, target: Target): Promise<string> {
  // Credentials first: without them nothing is sent.
  let credentials;
  try {
    credentials = await defaultProvider(target.profile ? { profile: target.profile } : {})();
  } catch (err) {
    throw new CliError(
      `no AWS credentials found${target.profile ? ` for profile ${target.profile}` : ''} (${(err as Error).message}); nothing was sent.\n`
      + 'Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --profile (run `aws sso login` for an SSO profile).',
      EXIT.credentials,
    );
  }

  const url = new URL(`${target.api.pathname.replace(/\/+$/, '')}${request.path}`, target.api);
  const headers: Record<string, string> = { host: url.host };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  const signer = new SignatureV4({ service: 'execute-api', region: target.region, credentials, sha256: Sha256 });
  const signed = await signer.sign(new HttpRequest({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    headers,
    body: request.body,
  }));
  // fetch sets Host itself, from the URL: the same value that was signed.
  const { host: _host, ...sendable } = signed.headers;

  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: request.method,
      headers: sendable,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const e = err as Error & { cause?: Error & { code?: string } };
    const reason = e.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : e.cause?.message ?? e.message;
    throw new CliError(`could not reach the API at ${url.origin}: ${reason}`, EXIT.other);
  }
  return answer(status, text, request, target);
}

/** The output of a successful call, or a CliError that explains the API's refusal. */
function answer(status: number, text: string, request: ApiCall, target: Target): string {
  if (status === 204 && request.method === 'DELETE') return JSON.stringify({ id: request.linkId, revoked: true });
  const body = parseJson(text);
  if (status >= 200 && status < 300 && body !== undefined) return text.trim();

  const said = messageOf(body) ?? (text.trim() ? text.trim().slice(0, 300) : '(no body)');
  const field = typeof body?.field === 'string' ? ` (field ${body.field})` : '';
  switch (status) {
    case 400:
      throw new CliError(`bad input (400): ${said}${field}`, EXIT.usage);
    case 401:
    case 403: {
      // API Gateway's own refusals carry only "Forbidden" / "Unauthorized": say what it checks.
      const gateway = said === 'Forbidden' || said === 'Unauthorized';
      const hint = !gateway ? ''
        : status === 401
          ? '\nThis API wants a bearer token (a JWT or Lambda authorizer), not a SigV4 signature: cdk-otp speaks IAM authorization only.'
          : `\nThe API did not accept the SigV4 signature (service execute-api, region ${target.region}) or the caller is not allowed this route: `
            + `check the credentials, the region, and that the caller was granted ${request.method === 'POST' ? 'grantMint' : 'grantManage'}.`;
      throw new CliError(`refused (${status}): ${said}${field}${hint}`, EXIT.refused);
    }
    case 404: {
      const key = typeof body?.key === 'string' ? ` (key ${JSON.stringify(body.key)})` : '';
      const gateway = said === 'Not Found' ? `\nThe API has no route ${request.method} ${request.path}: is --api the construct's apiEndpoint?` : '';
      throw new CliError(`not found (404): ${said}${key}${gateway}`, EXIT.notFound);
    }
    default:
      throw new CliError(`the API answered ${status}: ${said}${field}`, EXIT.other);
  }
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

function messageOf(body: Record<string, unknown> | undefined): string | undefined {
  const message = body?.error ?? body?.message;
  return typeof message === 'string' ? message : undefined;
}

if (require.main === module) {
  void run(process.argv.slice(2), process.env, {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}
