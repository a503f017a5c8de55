// Lambda@Edge handler, associated twice with the distribution's behaviour:
// - viewer-request: redeems a one-time link atomically, or refuses;
// - origin-response: replaces every error answer of the origin, so nothing S3 says
//   about a refused request (its SignatureDoesNotMatch body spells out the canonical
//   request, origin secret included) ever reaches a viewer.
//
// Everything a redemption needs is staged beside the handler at synth (config.json):
// a warm or cold request costs exactly one DynamoDB call and no SSM call. The SSM
// parameter holds only operator switches, read in the background.
import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import { join } from 'path';
import { DynamoDBClient, UpdateItemCommand, type AttributeValue, type UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type {
  CloudFrontRequest,
  CloudFrontRequestEvent,
  CloudFrontRequestResult,
  CloudFrontResponse,
  CloudFrontResponseEvent,
  CloudFrontResultResponse,
} from 'aws-lambda';
import { afterRefusal, continueOnlyInput, redeemInput, reopenedBy, ticketInput, type ViewerRequest } from './download-session';
import { boundedHttpHandler } from './sdk';
import { EDGE_OPERATOR_REFRESH_SECONDS, EDGE_STAGED_CONFIG_FILE, EdgeOperatorConfig, EdgeStagedConfig } from '../shared/config';
import { renderLandingPage, renderRefusalPage, wantsHtml } from '../shared/landing-page';
import { LINK_TICKET_PARAM, parsePresentedLink, type PresentedLink } from '../shared/link';
import { previewMatcher, previewProbe } from '../shared/preview';

/** Whole-invocation budget: well inside the 5 s viewer-request limit, so we answer 503 ourselves. */
const BUDGET_MS = 3500;
/** After a failed operator-config read, wait this long before the next try. */
const OPERATOR_RETRY_MS = 30_000;

let staged: { config: EdgeStagedConfig; preview: RegExp | undefined } | undefined;
/** The operator switches: last good value, and when to read them again. */
let operator: { config: EdgeOperatorConfig; preview: RegExp | undefined; nextReadAt: number } = {
  config: {}, preview: undefined, nextReadAt: 0,
};
let operatorRead: Promise<void> | undefined;
let ssm: SSMClient | undefined;
let dynamo: DynamoDBClient | undefined;

export async function handler(event: CloudFrontRequestEvent | CloudFrontResponseEvent): Promise<CloudFrontRequestResult> {
  const cf = event.Records[0].cf;
  if ('response' in cf) return scrubOriginError(cf.response);
  return redeem(cf.request, cf.config.requestId);
}

async function redeem(request: CloudFrontRequest, requestId: string): Promise<CloudFrontRequestResult> {
  const deadline = Date.now() + BUDGET_MS;
  const { config, preview } = stagedConfig();
  refreshOperatorConfig();
  const say = responder(request);

  // Only GET redeems, and POST presses a landing page's button. HEAD, OPTIONS and the rest
  // are refused before any I/O, so they never burn a use.
  if (request.method !== 'GET' && request.method !== 'POST') return say.refuse('Only GET is allowed for one-time links.');

  const now = Math.floor(Date.now() / 1000);
  const parsed = parsePresentedLink(request.uri, request.querystring, now);
  if (!parsed.ok) return say.refuse(parsed.reason === 'link has expired' ? 'This link has expired.' : `Refused: ${parsed.reason}.`);
  const link = parsed.value;
  if (request.method === 'POST' && !link.landingPage) return say.refuse('Only GET is allowed for one-time links.');
  if (link.generation !== config.secretGeneration) {
    // CloudFront sends another origin secret than the one this link was signed with:
    // S3 would refuse it, so spend nothing.
    return say.refuse('This link was issued before the service rotated its keys. Ask the sender for a new link.');
  }
  if (operator.config.paused) return say.unavailable('Downloads are paused by the operator. Try again later.');

  // Speculative prefetch and prerender would spend a use before anyone clicks.
  if (isPrefetch(request.headers)) return say.refuse('Prefetched requests do not open one-time links.');

  const ranged = /^bytes=/i.test(request.headers.range?.[0]?.value ?? '');
  // A landing-page link opened without a ticket shows its page: no ledger I/O, whoever asks
  // (a person, a chat preview, a mail scanner). Only the button's POST spends a use.
  if (link.landingPage && request.method === 'GET' && link.ticket === undefined && !ranged) return landingPage(link);

  const userAgent = request.headers['user-agent']?.[0]?.value ?? '';
  const probe = previewProbe(userAgent);
  if (preview?.test(probe) || operator.preview?.test(probe)) {
    return say.refuse('Link previews are not served: this link works once. Open it in a browser.');
  }

  const who: ViewerRequest = { at: new Date().toISOString(), ip: request.clientIp, userAgent, requestId, ranged };
  const ledgerCall = ledgerCaller(config.tableRegion, deadline);
  let outcome: Outcome;
  if (!link.landingPage) {
    outcome = await redeemOnce(config.tableName, ledgerCall, link, who, now);
  } else if (request.method === 'POST') {
    outcome = await redeemOnce(config.tableName, ledgerCall, link, { ...who, ranged: false, newTicket: randomBytes(16).toString('base64url') }, now);
  } else {
    // The download the button's redirect asks for (with its ticket), or a Range request
    // continuing that download. Neither ever opens a use.
    const input = link.ticket !== undefined
      ? ticketInput(config.tableName, link, who, link.ticket, now)
      : continueOnlyInput(config.tableName, link, who, now);
    const result = await ledgerCall(input);
    outcome = result === 'failed' ? { kind: 'failed' } : result.refusedItem ? { kind: 'refused' } : { kind: 'pass' };
    if (outcome.kind === 'refused' && link.ticket === undefined) return landingPage(link);
  }
  switch (outcome.kind) {
    case 'failed': return say.unavailable('The link service is temporarily unavailable. Try again shortly.');
    case 'refused': return say.refuse('This link has already been used, has expired, or is not valid.');
    case 'ticket': return seeOther(link, outcome.ticket);
    case 'pass': break;
  }
  if (request.method === 'POST') return seeOther(link, outcome.newTicket!);
  // Forward exactly the canonical form of what was fingerprinted (without any ticket): S3
  // then computes the canonical request the mint signed, whatever encoding the viewer sent.
  request.uri = link.canonicalUri;
  request.querystring = link.canonicalQuery;
  return request;
}

type Outcome =
  | { readonly kind: 'pass'; readonly newTicket?: string }
  | { readonly kind: 'ticket'; readonly ticket: string }
  | { readonly kind: 'refused' }
  | { readonly kind: 'failed' };

type LedgerCall = (input: UpdateItemCommandInput) => Promise<{ refusedItem?: Record<string, AttributeValue> } | 'failed'>;

function ledgerCaller(region: string, deadline: number): LedgerCall {
  return async (input) => {
    try {
      await ledger(region).send(new UpdateItemCommand(input), { abortSignal: AbortSignal.timeout(remaining(deadline)) });
      return {};
    } catch (err) {
      const e = err as Error & { Item?: Record<string, AttributeValue> };
      if (e.name === 'ConditionalCheckFailedException') return { refusedItem: e.Item ?? {} };
      logFailure('ledger', err);
      return 'failed';
    }
  };
}

/**
 * One redemption: a single conditional write decides between a new use, a continuation
 * of this client's download session and a refusal; only a client starting another use
 * of a link while holding a session needs a second write (see download-session.ts).
 */
async function redeemOnce(tableName: string, send: LedgerCall, link: PresentedLink, who: ViewerRequest, now: number): Promise<Outcome> {
  const passed: Outcome = { kind: 'pass', newTicket: who.newTicket };
  const first = await send(redeemInput(tableName, link, who, now));
  if (first === 'failed') return { kind: 'failed' };
  if (!first.refusedItem) return passed;
  const next = afterRefusal(tableName, nonEmpty(first.refusedItem), link, who, now);
  if (next.action === 'refuse') return { kind: 'refused' };
  if (next.action === 'ticket') return { kind: 'ticket', ticket: next.ticket };
  if (next.action === 'pass') {
    // This request's own earlier attempt committed; its answer was lost and the SDK retried.
    log('info', { event: 'redeem-retry-recognized', id: link.id });
    return passed;
  }
  const second = await send(next.input);
  if (second === 'failed') return { kind: 'failed' };
  if (!second.refusedItem || reopenedBy(nonEmpty(second.refusedItem), link, who)) return passed;
  return { kind: 'refused' };
}

function landingPage(link: PresentedLink): CloudFrontResultResponse {
  const { landingPageTitle, landingPageShowsFileName } = stagedConfig().config;
  const page = renderLandingPage({
    title: landingPageTitle,
    ...(landingPageShowsFileName ? { fileName: link.key.slice(link.key.lastIndexOf('/') + 1) } : {}),
    expiresAt: new Date(link.signatureExpiresAt * 1000),
  });
  return { status: '200', statusDescription: 'OK', headers: cfHeaders(page.headers), body: page.html };
}

/** After the button's POST: a redirect to the link with its single-use download ticket (S3 only ever sees that GET). */
function seeOther(link: PresentedLink, ticket: string): CloudFrontResultResponse {
  return {
    status: '303',
    statusDescription: 'See Other',
    headers: {
      'location': [{ key: 'Location', value: `${link.canonicalUri}?${link.canonicalQuery}&${LINK_TICKET_PARAM}=${ticket}` }],
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
    },
  };
}

function nonEmpty(item: Record<string, AttributeValue>): Record<string, AttributeValue> | undefined {
  return Object.keys(item).length > 0 ? item : undefined;
}

/** Browsers mark speculative loads (Fetch Metadata's Sec-Purpose; older Purpose and X-Moz headers). */
function isPrefetch(headers: CloudFrontRequest['headers']): boolean {
  const value = (name: string) => (headers[name] ?? []).map((h) => h.value.toLowerCase()).join(',');
  return /prefetch|prerender/.test(value('sec-purpose')) || /prefetch|preview/.test(value('purpose'))
    || value('x-moz').includes('prefetch') || /prefetch|preview/.test(value('x-purpose'));
}

/**
 * Origin-response: S3's error bodies are for the signer, not for viewers. A
 * SignatureDoesNotMatch body carries the canonical request, which lists every signed
 * header with its value, the origin secret among them. Replace every answer but a
 * success, a partial success or a not-modified with a fixed one.
 */
function scrubOriginError(response: CloudFrontResponse): CloudFrontResultResponse {
  const status = Number(response.status);
  if ((status >= 200 && status < 300) || status === 304) return response;
  const [code, description, body] = ORIGIN_ERRORS[status] ?? (status >= 500 ? ORIGIN_ERRORS[503] : ORIGIN_ERRORS[403]);
  const headers = plainHeaders();
  // CloudFront forbids removing these read-only headers in origin-response triggers.
  for (const name of ['transfer-encoding', 'via']) {
    if (response.headers[name]) headers[name] = response.headers[name];
  }
  // S3's 416 says how long the object is (bytes */SIZE): a client needs it, and it is no secret.
  if (code === 416 && response.headers['content-range']) headers['content-range'] = response.headers['content-range'];
  if (status !== code) log('info', { event: 'origin-error', status });
  return { status: String(code), statusDescription: description, headers, body };
}

const ORIGIN_ERRORS: Record<number, [number, string, string]> = {
  403: [403, 'Forbidden', 'The file could not be delivered. Ask the sender for a new link.'],
  404: [404, 'Not Found', 'The file is no longer available.'],
  416: [416, 'Range Not Satisfiable', 'The requested range is not available.'],
  503: [503, 'Service Unavailable', 'The file service is temporarily unavailable. Try again shortly.'],
};

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

function stagedConfig(): { config: EdgeStagedConfig; preview: RegExp | undefined } {
  if (!staged) {
    const config = JSON.parse(readFileSync(join(__dirname, EDGE_STAGED_CONFIG_FILE), 'utf8')) as EdgeStagedConfig;
    staged = { config, preview: config.previewProtection ? previewMatcher(config.previewAgents) : undefined };
  }
  return staged;
}

/**
 * Starts a background read of the operator switches when they are due. Never awaited:
 * a throttled or unreachable SSM delays a switch, it never delays or refuses a download.
 * The read progresses while this container serves requests (Lambda freezes it between them).
 */
function refreshOperatorConfig(): void {
  if (operatorRead || Date.now() < operator.nextReadAt) return;
  const { parameterName, parameterRegion, previewProtection } = stagedConfig().config;
  ssm ??= new SSMClient({
    region: parameterRegion,
    maxAttempts: 2,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1000 }),
  });
  operatorRead = ssm.send(new GetParameterCommand({ Name: parameterName }), { abortSignal: AbortSignal.timeout(3000) })
    .then((out) => {
      const config = parseOperatorConfig(out.Parameter?.Value);
      const extra = config.previewAgents ?? [];
      operator = {
        config,
        preview: previewProtection && extra.length > 0 ? previewMatcher(extra, { builtIn: false }) : undefined,
        nextReadAt: Date.now() + EDGE_OPERATOR_REFRESH_SECONDS * 1000,
      };
    })
    .catch((err: unknown) => {
      // Keep the last good value.
      logFailure('operator-config', err);
      operator = { ...operator, nextReadAt: Date.now() + OPERATOR_RETRY_MS };
    })
    .finally(() => { operatorRead = undefined; });
}

/** Reads the operator parameter strictly: a malformed value throws and the last good one stays. */
function parseOperatorConfig(value: string | undefined): EdgeOperatorConfig {
  const parsed = JSON.parse(value ?? '') as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('operator config must be a JSON object');
  const { paused, previewAgents } = parsed as Record<string, unknown>;
  if (paused !== undefined && typeof paused !== 'boolean') throw new Error('operator config: paused must be a boolean');
  if (previewAgents !== undefined && !(Array.isArray(previewAgents) && previewAgents.every((p) => typeof p === 'string'))) {
    throw new Error('operator config: previewAgents must be an array of strings');
  }
  // Throws for invalid or empty-matching patterns, like the construct's synth-time check.
  if (previewAgents) previewMatcher(previewAgents as string[], { builtIn: false });
  return { paused: paused === true, previewAgents: previewAgents as string[] | undefined };
}

function ledger(region: string): DynamoDBClient {
  dynamo ??= new DynamoDBClient({
    region,
    maxAttempts: 2,
    requestHandler: boundedHttpHandler({ connectionTimeoutMs: 1000, requestTimeoutMs: 1500 }),
  });
  return dynamo;
}

function log(level: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level, ...fields }));
}

function logFailure(stage: string, err: unknown): void {
  const e = err as Error;
  console.error(JSON.stringify({ level: 'error', stage, error: e.name, message: e.message }));
}

function plainHeaders(): NonNullable<CloudFrontResultResponse['headers']> {
  return {
    'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
    'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
  };
}

function cfHeaders(headers: Record<string, string>): NonNullable<CloudFrontResultResponse['headers']> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [{ key: name, value }]]));
}

/**
 * Refusals in the form the viewer reads: a small page with the same status for a browser
 * (it asks for HTML), plain text for everything else (scripts, curl, download managers).
 */
interface Responder {
  refuse(reason: string): CloudFrontResultResponse;
  unavailable(reason: string): CloudFrontResultResponse;
}

function responder(request: CloudFrontRequest): Responder {
  const html = wantsHtml(request.headers.accept?.map((h) => h.value).join(','));
  const respond = (status: string, statusDescription: string, title: string, message: string): CloudFrontResultResponse => {
    if (!html) return { status, statusDescription, headers: plainHeaders(), body: message };
    const page = renderRefusalPage({ title, message });
    return { status, statusDescription, headers: cfHeaders(page.headers), body: page.html };
  };
  return {
    refuse: (reason) => respond('403', 'Forbidden', 'This link cannot be used', reason),
    unavailable: (reason) => respond('503', 'Service Unavailable', 'Try again shortly', reason),
  };
}
