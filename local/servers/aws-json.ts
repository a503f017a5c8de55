import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  applyFault,
  BodyTooLargeError,
  CallCounter,
  closeServer,
  FaultInjector,
  Lifecycle,
  listenLocal,
  LOCAL_HOST,
  readBody,
} from './common';
import { parseCredentialScope } from './sigv4';

export interface StartAwsJsonOptions {
  /** SSM String parameters by name. */
  readonly parameters?: Record<string, string>;
  /** Region used in ARNs when a request carries no SigV4 scope (default us-east-1). */
  readonly region?: string;
  /** Account id used in ARNs and events (default 123456789012). */
  readonly accountId?: string;
  /**
   * EventBridge PutEvents: the total entry size of one request must be less than this many
   * bytes (default 256 KiB = 262144, the limit the brief and the size-calculation page state;
   * AWS raised it to 1 MiB in January 2026, so pass 1048576 to match that).
   */
  readonly putEventsMaxBytes?: number;
}

/** An event EventBridge PutEvents accepted (got an EventId for), as the local bus recorded it. */
export interface LocalEvent {
  /** The EventId PutEvents answered for the entry. */
  readonly eventId: string;
  readonly source: string;
  readonly detailType: string;
  /** The entry's Detail, parsed: always a JSON object. */
  readonly detail: Record<string, unknown>;
  /** The bus the entry named ('default' when it named none; the name when it gave an ARN). */
  readonly eventBusName: string;
  /** The entry's Time, else when PutEvents received it. */
  readonly time: Date;
  readonly resources: readonly string[];
  /** The request's SigV4 region (else the default region) and the account id, as EventBridge puts them in an event. */
  readonly region: string;
  readonly account: string;
}

export interface LocalAwsJson {
  /**
   * `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_SSM` and
   * `AWS_ENDPOINT_URL_EVENTBRIDGE` alike.
   */
  readonly endpoint: string;
  /** Requests per operation (`GetParameter`, `PutEvents`, ...), counted before faults apply. */
  readonly calls: CallCounter;
  /**
   * `error` answers PutEvents with EventBridge's InternalException (500), the others with
   * InternalServerError; `throttle` answers ThrottlingException (400).
   */
  readonly fault: FaultInjector;
  /** Events PutEvents accepted, in the order accepted (a copy; the events are frozen). */
  readonly events: ReadonlyArray<LocalEvent>;
  /** Calls `listener` synchronously with each accepted event, in order. Returns a function that removes it. */
  onEvent(listener: (event: LocalEvent) => void): () => void;
  /** Forgets the recorded events (listeners stay). */
  clearEvents(): void;
  /** Creates or overwrites a parameter (its Version goes up by one). */
  setParameter(name: string, value: string): void;
  deleteParameter(name: string): void;
  close(): Promise<void>;
}

interface StoredParameter {
  value: string;
  version: number;
  modified: Date;
}

const JSON_11 = 'application/x-amz-json-1.1';
/** Above any valid request: ten entries under PutEvents' 1 MiB limit, with JSON overhead. */
const MAX_BODY = 4 * 1024 * 1024;
/** PutEvents takes 1 to 10 entries. */
const MAX_PUT_EVENTS_ENTRIES = 10;
const DEFAULT_PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** Thrown by an operation to answer a modeled AWS JSON error. */
class AwsJsonError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

/**
 * SSM GetParameter and EventBridge PutEvents over the AWS JSON
 * 1.1 protocol on one 127.0.0.1 port, enough for the real SSMClient and
 * EventBridgeClient. Signatures are not verified; the SigV4 scope only supplies the region for
 * ARNs and events.
 *
 * PutEvents (`X-Amz-Target: AWSEvents.PutEvents`) follows the EventBridge API reference
 * (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html, entries
 * PutEventsRequestEntry and PutEventsResultEntry), "Sending events with PutEvents"
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html) and "Calculating
 * PutEvents event entry size" (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html):
 * - The whole request fails (HTTP 400 ValidationException, nothing recorded) with no entries,
 *   more than 10 entries, or a total entry size not under `putEventsMaxBytes` (Time counts 14
 *   bytes; Source, DetailType, Detail and each Resources member their UTF-8 bytes). Messages as
 *   AWS words them (recorded against AWS in LocalStack's validated snapshots); the >10 message
 *   lists the entries as EventBridge's Java toString does, approximately.
 * - Otherwise every entry gets a result, in request order: an `EventId` when accepted, else
 *   `ErrorCode` and `ErrorMessage` (counted in `FailedEntryCount`), and the other entries still
 *   go through. Source, DetailType and Detail are required ("If you include event entries in a
 *   request that do not include each of those properties, EventBridge fails that entry"):
 *   InvalidArgument "Parameter X is not valid. Reason: X is a required argument."; Detail must be
 *   a JSON object ("A valid JSON object"): MalformedDetail "Detail is malformed." for anything
 *   else, including valid JSON that is not an object. When every entry fails the answer is still
 *   200 with every entry failed, as AWS answers it (the API reference calls that failing the
 *   entire request).
 * - EventBusName is optional (the default bus when omitted); a name or ARN is accepted as is:
 *   EventBridge answers an EventId for a bus that does not exist and drops the event.
 * Gaps: no rules, targets or buses (accepted events are only recorded); DetailType's 128-character
 * limit, the `aws.` source prefix, EndpointId and TraceHeader are not checked.
 */
export async function startAwsJsonServices(opts: StartAwsJsonOptions = {}): Promise<LocalAwsJson> {
  const defaultRegion = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '123456789012';
  const putEventsMaxBytes = opts.putEventsMaxBytes ?? DEFAULT_PUT_EVENTS_MAX_BYTES;
  const parameters = new Map<string, StoredParameter>();
  const events: LocalEvent[] = [];
  const eventListeners = new Set<(event: LocalEvent) => void>();

  const setParameter = (name: string, value: string): void => {
    const previous = parameters.get(name);
    parameters.set(name, { value, version: (previous?.version ?? 0) + 1, modified: new Date() });
  };
  for (const [name, value] of Object.entries(opts.parameters ?? {})) setParameter(name, value);

  const operations: Record<string, (input: Record<string, unknown>, region: string) => unknown> = {
    'AmazonSSM.GetParameter': (input, region) => {
      const requested = requireString(input, 'Name');
      const name = ssmNameOf(requested);
      const found = lookupParameter(parameters, name);
      if (!found) {
        throw new AwsJsonError(400, 'ParameterNotFound', `Parameter ${requested} not found.`);
      }
      const [storedName, p] = found;
      const arnPath = storedName.startsWith('/') ? storedName : `/${storedName}`;
      return {
        Parameter: {
          Name: storedName,
          Type: 'String',
          Value: p.value,
          Version: p.version,
          LastModifiedDate: p.modified.getTime() / 1000,
          ARN: `arn:aws:ssm:${region}:${accountId}:parameter${arnPath}`,
          DataType: 'text',
        },
      };
    },
    'AWSEvents.PutEvents': (input, region) => {
      const entries = input.Entries;
      if (entries === undefined || entries === null) {
        throw new AwsJsonError(400, 'ValidationException',
          "1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
      }
      if (!Array.isArray(entries)) {
        throw new AwsJsonError(400, 'SerializationException', 'Entries must be a list of PutEventsRequestEntry');
      }
      if (entries.length < 1) {
        throw new AwsJsonError(400, 'ValidationException',
          "1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1");
      }
      if (entries.length > MAX_PUT_EVENTS_ENTRIES) {
        throw new AwsJsonError(400, 'ValidationException',
          `1 validation error detected: Value '[${entries.map(javaEntryString).join(', ')}]' at 'entries' `
          + `failed to satisfy constraint: Member must have length less than or equal to ${MAX_PUT_EVENTS_ENTRIES}`);
      }
      const totalSize = entries.reduce((sum: number, entry: unknown) => sum + putEventsEntrySize(entry), 0);
      if (totalSize >= putEventsMaxBytes) {
        throw new AwsJsonError(400, 'ValidationException', 'Total size of the entries in the request is over the limit.');
      }

      const received = new Date();
      const results: Array<Record<string, string>> = [];
      const accepted: LocalEvent[] = [];
      for (const raw of entries) {
        const entry = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw as Record<string, unknown> : {};
        const checked = checkPutEventsEntry(entry);
        if ('ErrorCode' in checked) {
          results.push(checked);
          continue;
        }
        const eventId = randomUUID();
        results.push({ EventId: eventId });
        accepted.push(deepFreeze({
          eventId,
          source: entry.Source as string,
          detailType: entry.DetailType as string,
          detail: checked.detail,
          eventBusName: busNameOf(entry.EventBusName),
          time: timeOf(entry.Time) ?? received,
          resources: Array.isArray(entry.Resources) ? entry.Resources.filter((r): r is string => typeof r === 'string') : [],
          region,
          account: accountId,
        }));
      }
      for (const event of accepted) {
        events.push(event);
        for (const listener of eventListeners) {
          try {
            listener(event);
          } catch (err) {
            process.emitWarning(`local EventBridge event listener threw: ${String(err)}`);
          }
        }
      }
      return { Entries: results, FailedEntryCount: results.filter((r) => r.ErrorCode !== undefined).length };
    },
  };

  const calls = new CallCounter();
  const fault = new FaultInjector();
  const life = new Lifecycle();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = headerValue(req, 'x-amz-target') ?? '';
    const operation = target.slice(target.lastIndexOf('.') + 1) || 'Unknown';
    calls.record(operation);
    // EventBridge's modeled 500 is InternalException; SSM's InternalServerError.
    const internalError = target.startsWith('AWSEvents.') ? 'InternalException' : 'InternalServerError';
    const handled = await applyFault(fault.take(operation), req, res, life, {
      error: (status, code) => sendError(res, status ?? 500, code ?? internalError, 'Internal server error'),
      throttle: (status, code) => sendError(res, status ?? 400, code ?? 'ThrottlingException', 'Rate exceeded'),
    });
    if (handled) return;

    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        sendError(res, 413, 'RequestEntityTooLarge', err.message);
        return;
      }
      throw err;
    }

    const op = operations[target];
    if (req.method !== 'POST' || !op) {
      sendError(res, 400, 'UnknownOperationException', `Unknown operation ${target || '(no X-Amz-Target)'}`);
      return;
    }
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      sendError(res, 400, 'SerializationException', 'Request body is not valid JSON');
      return;
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      sendError(res, 400, 'SerializationException', 'Request body must be a JSON object');
      return;
    }
    const region = regionOf(req) ?? defaultRegion;
    try {
      sendJson(res, 200, op(input as Record<string, unknown>, region));
    } catch (err) {
      if (err instanceof AwsJsonError) {
        sendError(res, err.status, err.code, err.message);
        return;
      }
      throw err;
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        sendError(res, 500, 'InternalServerError', err instanceof Error ? err.message : String(err));
      } else {
        res.destroy();
      }
    });
  });
  life.track(server);
  const port = await listenLocal(server);

  return {
    endpoint: `http://${LOCAL_HOST}:${port}`,
    calls,
    fault,
    setParameter,
    deleteParameter: (name) => {
      parameters.delete(name);
    },
    get events(): ReadonlyArray<LocalEvent> {
      return [...events];
    },
    onEvent: (listener) => {
      const own = (event: LocalEvent): void => listener(event);
      eventListeners.add(own);
      return () => {
        eventListeners.delete(own);
      };
    },
    clearEvents: () => {
      events.length = 0;
    },
    close: () => closeServer(server, life),
  };
}

/** Why EventBridge fails an entry (PutEventsResultEntry ErrorCode and ErrorMessage), or its parsed Detail. */
function checkPutEventsEntry(entry: Record<string, unknown>): { ErrorCode: string; ErrorMessage: string } | { detail: Record<string, unknown> } {
  for (const field of ['Source', 'DetailType', 'Detail']) {
    const value = entry[field];
    if (typeof value !== 'string' || value.length === 0) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.` };
    }
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    detail = undefined;
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  return { detail: detail as Record<string, unknown> };
}

/** An entry's size as EventBridge calculates it (eb-putevent-size). */
function putEventsEntrySize(raw: unknown): number {
  const entry = typeof raw === 'object' && raw !== null ? raw as Record<string, unknown> : {};
  const bytes = (value: unknown): number => (typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 0);
  let size = entry.Time !== undefined && entry.Time !== null ? 14 : 0;
  size += bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail);
  if (Array.isArray(entry.Resources)) for (const resource of entry.Resources) size += bytes(resource);
  return size;
}

/** An entry as EventBridge's Java toString prints it in the >10 entries message (approximately). */
function javaEntryString(raw: unknown): string {
  const entry = typeof raw === 'object' && raw !== null ? raw as Record<string, unknown> : {};
  const text = (value: unknown): string => {
    if (value === undefined || value === null) return 'null';
    return Array.isArray(value) ? `[${value.map(String).join(', ')}]` : String(value);
  };
  const time = timeOf(entry.Time);
  return `PutEventsRequestEntry(time=${time ? time.toUTCString() : 'null'}, source=${text(entry.Source)}, `
    + `resources=${text(entry.Resources)}, detailType=${text(entry.DetailType)}, detail=${text(entry.Detail)}, `
    + `eventBusName=${text(entry.EventBusName)}, traceHeader=${text(entry.TraceHeader)}, kmsKeyIdentifier=null, internalMetadata=null)`;
}

/** The bus name of an EventBusName (a name, or an ARN `arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME`). */
function busNameOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) return 'default';
  const arn = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(value);
  return arn ? arn[1] : value;
}

/** A Time member: epoch seconds in AWS JSON 1.1 (an RFC 3339 string is accepted too). */
function timeOf(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value * 1000);
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return new Date(value);
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !(value instanceof Date) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function requireString(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new AwsJsonError(400, 'ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

/** Accepts a parameter name or its ARN (`arn:aws:ssm:REGION:ACCOUNT:parameter/NAME`). */
function ssmNameOf(requested: string): string {
  const match = /^arn:[^:]+:ssm:[^:]*:[^:]*:parameter(\/.*)$/.exec(requested);
  return match ? match[1] : requested;
}

function lookupParameter(parameters: Map<string, StoredParameter>, name: string): [string, StoredParameter] | undefined {
  const direct = parameters.get(name);
  if (direct) return [name, direct];
  // An ARN always carries a leading '/', even for a name without one.
  if (name.startsWith('/')) {
    const bare = parameters.get(name.slice(1));
    if (bare && !name.slice(1).includes('/')) return [name.slice(1), bare];
  }
  return undefined;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function regionOf(req: IncomingMessage): string | undefined {
  const auth = headerValue(req, 'authorization');
  const credential = auth ? /Credential=([^,\s]+)/.exec(auth)?.[1] : undefined;
  return credential ? parseCredentialScope(credential)?.region : undefined;
}

function sendJson(res: ServerResponse, status: number, payload: unknown, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': JSON_11,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
    ...extraHeaders,
  });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { __type: code, message }, { 'x-amzn-errortype': code });
}
