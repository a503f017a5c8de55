/// <reference path="./vendor.d.ts" />
import type { IncomingHttpHeaders, IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import {
  applyFault,
  BodyTooLargeError,
  CallCounter,
  closeServer,
  deliverServed,
  FaultInjector,
  Lifecycle,
  listenLocal,
  LOCAL_HOST,
  readBody,
} from './common';

export interface LocalTableSpec {
  readonly name: string;
  /** String partition key attribute. */
  readonly hashKey: string;
  /** Optional string sort key attribute. */
  readonly rangeKey?: string;
}

export interface StartDynamoDBOptions {
  /** Tables created (PAY_PER_REQUEST, ACTIVE) before startDynamoDB resolves. */
  readonly tables?: readonly LocalTableSpec[];
}

export interface LocalDynamoDB {
  /** `http://127.0.0.1:PORT`, for the client's `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  /** Requests per operation (from `X-Amz-Target`), counted before faults apply. Table setup is not counted. */
  readonly calls: CallCounter;
  /** Supports every FaultMode, including the post-serve `commit-then-reset` and `commit-then-delay`. */
  readonly fault: FaultInjector;
  close(): Promise<void>;
}

/** Values DynamoDB accepts for ReturnValuesOnConditionCheckFailure. */
export type ReturnValuesOnConditionCheckFailureValue = 'ALL_OLD' | 'NONE';

const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
/** The region dynalite pretends to be in; it ignores the signature and its scope. */
const SETUP_REGION = 'us-east-1';
/** dynalite's own request size limit. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const RETURN_ON_FAILURE = 'ReturnValuesOnConditionCheckFailure';
const RETURN_ON_FAILURE_VALUES: readonly ReturnValuesOnConditionCheckFailureValue[] = ['ALL_OLD', 'NONE'];
/** The single-item writes that take ReturnValuesOnConditionCheckFailure. */
const SINGLE_WRITES: ReadonlySet<string> = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
/** dynalite answers both API versions with the same actions. */
const API_VERSIONS: ReadonlySet<string> = new Set(['DynamoDB_20120810', 'DynamoDB_20111205']);

type Json = Record<string, unknown>;

/** A response dynalite produced, held by the front before it reaches the client. */
interface Answer {
  readonly status: number;
  /** Header name as dynalite set it, and its value. */
  readonly headers: ReadonlyArray<readonly [string, number | string | readonly string[]]>;
  readonly body: Buffer;
}

/** What dynalite's handler reads from a request. */
interface RequestHead {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * An in-memory DynamoDB (dynalite) on 127.0.0.1 with call counting and fault injection.
 *
 * Every request passes through a front in this process that buffers it, replays it into
 * dynalite's handler and holds dynalite's answer before sending it. The front adds:
 *
 * - ReturnValuesOnConditionCheckFailure (`ALL_OLD` | `NONE`) on PutItem, UpdateItem and
 *   DeleteItem, which dynalite 4 does not implement (its type check silently drops unknown
 *   request members, even an invalid value; see architect/dynalite#182). The front validates
 *   the value as DynamoDB does, strips it before dynalite sees it, and when dynalite answers
 *   ConditionalCheckFailedException to an `ALL_OLD` request, adds the item as it was:
 *   `{"__type": "...#ConditionalCheckFailedException", "message": "...", "Item": {...}}`,
 *   which AWS SDK v3 exposes as `err.Item`. DynamoDB API reference:
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html
 *   (request parameter ReturnValuesOnConditionCheckFailure: "An optional parameter that
 *   returns the item attributes for an UpdateItem operation that failed a condition check",
 *   valid values ALL_OLD | NONE; error ConditionalCheckFailedException, HTTP 400), likewise
 *   API_PutItem.html and API_DeleteItem.html, and API_Update.html ("Valid Values: ALL_OLD |
 *   NONE"). The error's `Item` member, "Item which caused the ConditionalCheckFailedException",
 *   is in the DynamoDB service model as shipped in @aws-sdk/client-dynamodb (models/errors.d.ts)
 *   and shown in the error body syntax of
 *   https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/ConditionalCheckFailedException.html
 *   No `Item` when the item does not exist (for example attribute_exists failed on a
 *   missing item), as DynamoDB does.
 *
 * - Post-serve faults (`commit-then-reset`, `commit-then-delay`): dynalite executes the
 *   request, then the answer is dropped or held, so the write is committed although the
 *   client sees a network error or a timeout.
 *
 * How exact the ALL_OLD item is: every write that can change an item (PutItem, UpdateItem,
 * DeleteItem, BatchWriteItem) holds a per-(table, primary key) lock in the front from before
 * dynalite sees it until dynalite's answer is complete; a conditional write that failed with
 * `ALL_OLD` reads the item (strongly consistent GetItem, straight into dynalite, not counted)
 * before it releases the lock. dynalite evaluates the condition under its own per-item lock,
 * so no write can land between the failed condition check and that read: the item returned
 * is the item the condition was evaluated against. What this relies on (the non-atomic
 * remainder): (1) the check and the read are two dynalite operations, exact only because
 * every writer goes through this front (dynalite has no other listener, no TTL deletion, no
 * streams, and no TransactWriteItems: it answers UnknownOperationException); (2) the lock key
 * comes from the table's key schema, read once with DescribeTable and cached until a
 * CreateTable or DeleteTable for that name passes through; writes racing a delete-and-recreate
 * of the same table with another key schema could be locked under the stale schema; (3) number
 * key values are compared as JavaScript numbers, which may put distinct high-precision keys
 * under one lock (more serialization, never less).
 *
 * Other gaps: no TTL, transactions or PartiQL (dynalite). An invalid
 * ReturnValuesOnConditionCheckFailure is reported alone, before dynalite validates the other
 * members (DynamoDB would list every invalid member in one ValidationException). A request body
 * over 16 MiB is dropped (connection destroyed) rather than answered 413 as dynalite does.
 */
export async function startDynamoDB(opts: StartDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const life = new Lifecycle();
  life.track(server);
  const calls = new CallCounter();
  const fault = new FaultInjector({ postServe: true });

  // Put the front (counting, faults, ReturnValuesOnConditionCheckFailure, item locks) in front
  // of dynalite's own handler on the same server.
  const dynaliteHandlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const front = new Front(dynaliteHandlers);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const operation = operationOf(req);
    calls.record(operation);
    const spec = fault.take(operation);
    const handled = await applyFault(spec, req, res, life, {
      error: (status, code) => sendJsonError(res, status ?? 500, code ?? 'InternalServerError', 'Internal server error'),
      throttle: (status, code) => sendJsonError(res, status ?? 400, code ?? 'ThrottlingException',
        'Rate of requests exceeds the allowed throughput.'),
    });
    if (handled) return;
    let body: Buffer;
    try {
      body = await readBody(req, MAX_REQUEST_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return; // readBody destroyed the connection
      throw err;
    }
    const answer = await front.serve(operation, { method: req.method, url: req.url, headers: req.headers }, body);
    await deliverServed(spec, req, res, life, () => sendAnswer(res, answer));
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });

  const port = await listenLocal(server);
  const endpoint = `http://${LOCAL_HOST}:${port}`;
  const close = (): Promise<void> => closeServer(server, life);

  try {
    await createTables(endpoint, opts.tables ?? []);
  } catch (err) {
    await close();
    throw err;
  }
  calls.reset();

  return { endpoint, calls, fault, close };
}

/**
 * Serves requests through dynalite's handler with per-item write locks, the
 * ReturnValuesOnConditionCheckFailure emulation and the key-schema cache they need.
 */
class Front {
  private readonly locks = new KeyedLock();
  /** Key attribute names (hash, then range) per table name. */
  private readonly keySchemas = new Map<string, readonly string[]>();

  constructor(private readonly dynaliteHandlers: readonly RequestListener[]) {}

  public async serve(operation: string, head: RequestHead, body: Buffer): Promise<Answer> {
    if (!isDynamoDBCall(head)) return this.dynalite(head, body);
    if (SINGLE_WRITES.has(operation)) {
      const data = parseObject(body);
      if (data) return this.serveSingleWrite(operation, head, body, data);
    } else if (operation === 'BatchWriteItem') {
      const data = parseObject(body);
      if (data) return this.serveBatchWrite(head, body, data);
    } else if (operation === 'CreateTable' || operation === 'DeleteTable') {
      const table = parseObject(body)?.TableName;
      const answer = await this.dynalite(head, body);
      if (typeof table === 'string') this.keySchemas.delete(table);
      return answer;
    }
    return this.dynalite(head, body);
  }

  private async serveSingleWrite(operation: string, head: RequestHead, body: Buffer, data: Json): Promise<Answer> {
    let forward = body;
    let returnOld = false;
    if (Object.prototype.hasOwnProperty.call(data, RETURN_ON_FAILURE)) {
      const value = data[RETURN_ON_FAILURE];
      // null counts as absent, as in dynalite's (and DynamoDB's) type check.
      if (value !== null) {
        const invalid = validateReturnOnFailure(value);
        if (invalid) return invalid;
        returnOld = value === 'ALL_OLD';
      }
      // Strip it: dynalite 4 drops unknown members itself, but a later version might refuse them.
      const stripped: Json = { ...data };
      delete stripped[RETURN_ON_FAILURE];
      forward = Buffer.from(JSON.stringify(stripped));
    }

    const table = data.TableName;
    const source = operation === 'PutItem' ? data.Item : data.Key;
    const key = typeof table === 'string' ? await this.primaryKey(table, source) : undefined;
    // No key: the table does not exist or the request lacks the key, so dynalite refuses it without writing.
    if (!key || typeof table !== 'string') return this.dynalite(head, forward);

    return this.locks.run([lockName(table, key)], async () => {
      const answer = await this.dynalite(head, forward);
      if (!returnOld || !isConditionalCheckFailure(answer)) return answer;
      // Still under the item's lock: no other write to this item can have landed since
      // dynalite evaluated the condition. (dynalite's own item lock hands over on setImmediate
      // and this read runs in promise/nextTick callbacks, so without the front lock the read
      // would usually, not always, come first; the front lock makes it independent of that.)
      const read = await this.dynalite(internalHead('GetItem'),
        Buffer.from(JSON.stringify({ TableName: table, Key: key, ConsistentRead: true })));
      const got = read.status === 200 ? parseObject(read.body) : undefined;
      if (!got) {
        return jsonAnswer(500, { __type: `${ERROR_PREFIX}InternalServerError`, message: 'local DynamoDB front could not read the item for ReturnValuesOnConditionCheckFailure' });
      }
      if (got.Item === undefined) return answer; // no such item: DynamoDB sends no Item either
      const failure = parseObject(answer.body) ?? {};
      return withBody(answer, { ...failure, Item: got.Item });
    });
  }

  private async serveBatchWrite(head: RequestHead, body: Buffer, data: Json): Promise<Answer> {
    const names: string[] = [];
    const requestItems = asObject(data.RequestItems);
    for (const [table, requests] of Object.entries(requestItems ?? {})) {
      if (!Array.isArray(requests)) continue;
      for (const request of requests) {
        const put = asObject(asObject(request)?.PutRequest);
        const del = asObject(asObject(request)?.DeleteRequest);
        const key = await this.primaryKey(table, put ? put.Item : del?.Key);
        if (key) names.push(lockName(table, key));
      }
    }
    return this.locks.run(names, () => this.dynalite(head, body));
  }

  /** The item's primary key picked from `source` (a Key or an Item), or undefined when it cannot be. */
  private async primaryKey(table: string, source: unknown): Promise<Json | undefined> {
    const attrs = asObject(source);
    if (!attrs) return undefined;
    const schema = await this.keySchema(table);
    if (!schema) return undefined;
    const key: Json = {};
    for (const name of schema) {
      const value = asObject(attrs[name]);
      if (!value) return undefined;
      key[name] = value;
    }
    return key;
  }

  private async keySchema(table: string): Promise<readonly string[] | undefined> {
    const cached = this.keySchemas.get(table);
    if (cached) return cached;
    const answer = await this.dynalite(internalHead('DescribeTable'), Buffer.from(JSON.stringify({ TableName: table })));
    if (answer.status !== 200) return undefined; // not cached: the table may be created later
    const described = asObject(parseObject(answer.body)?.Table);
    const elements = Array.isArray(described?.KeySchema) ? described.KeySchema as unknown[] : [];
    const hash = elements.map(asObject).find((e) => e?.KeyType === 'HASH')?.AttributeName;
    const range = elements.map(asObject).find((e) => e?.KeyType === 'RANGE')?.AttributeName;
    if (typeof hash !== 'string') return undefined;
    const schema = typeof range === 'string' ? [hash, range] : [hash];
    this.keySchemas.set(table, schema);
    return schema;
  }

  /** Runs a request through dynalite's own handler and captures its answer. */
  private dynalite(head: RequestHead, body: Buffer): Promise<Answer> {
    const req = Object.assign(Readable.from(body.length > 0 ? [body] : []), {
      method: head.method,
      url: head.url,
      headers: head.headers,
    });
    const res = new CapturedResponse();
    for (const handler of this.dynaliteHandlers) {
      handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    }
    return res.answer;
  }
}

/**
 * FIFO locks by name. A holder of several names enqueues on all of them in one synchronous
 * step, so a request only ever waits for requests that arrived before it: no deadlock.
 */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  public async run<T>(names: readonly string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(names)];
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const before = unique.map((name) => this.tails.get(name));
    for (const name of unique) this.tails.set(name, mine);
    try {
      await Promise.all(before);
      return await fn();
    } finally {
      release();
      for (const name of unique) {
        if (this.tails.get(name) === mine) this.tails.delete(name);
      }
    }
  }
}

/** Collects what dynalite's handler writes (it only uses setHeader, statusCode and end). */
class CapturedResponse {
  public statusCode = 200;
  /** dynalite stores the response content type here. */
  public contentType: string | undefined;
  public readonly answer: Promise<Answer>;
  private readonly headers = new Map<string, [string, number | string | readonly string[]]>();
  private readonly chunks: Buffer[] = [];
  private resolve!: (answer: Answer) => void;

  constructor() {
    this.answer = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  public setHeader(name: string, value: number | string | readonly string[]): this {
    this.headers.set(name.toLowerCase(), [name, value]);
    return this;
  }

  public getHeader(name: string): number | string | readonly string[] | undefined {
    return this.headers.get(name.toLowerCase())?.[1];
  }

  public removeHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }

  public writeHead(status: number, headers?: Record<string, number | string | readonly string[]>): this {
    this.statusCode = status;
    for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
    return this;
  }

  public write(chunk: string | Buffer): boolean {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8'));
    return true;
  }

  public end(chunk?: string | Buffer): this {
    if (chunk !== undefined) this.write(chunk);
    this.resolve({ status: this.statusCode, headers: [...this.headers.values()], body: Buffer.concat(this.chunks) });
    return this;
  }
}

/** A DynamoDB validation or serialization answer for an invalid value, or undefined when valid. */
function validateReturnOnFailure(value: unknown): Answer | undefined {
  if (typeof value === 'string') {
    if ((RETURN_ON_FAILURE_VALUES as readonly string[]).includes(value)) return undefined;
    // DynamoDB's (and dynalite's) enum constraint message.
    return jsonAnswer(400, {
      __type: 'com.amazon.coral.validate#ValidationException',
      message: `1 validation error detected: Value '${value}' at 'returnValuesOnConditionCheckFailure' `
        + `failed to satisfy constraint: Member must satisfy enum value set: [${RETURN_ON_FAILURE_VALUES.join(', ')}]`,
    });
  }
  // Not a string at all: the type error dynalite gives for any String member.
  let message: string;
  if (typeof value === 'boolean') message = `${value ? 'TRUE' : 'FALSE'}_VALUE cannot be converted to String`;
  else if (typeof value === 'number') message = `${value % 1 === 0 ? 'NUMBER' : 'DECIMAL'}_VALUE cannot be converted to String`;
  else if (Array.isArray(value)) message = 'Unrecognized collection type class java.lang.String';
  else message = 'Start of structure or map found where not expected';
  return jsonAnswer(400, { __type: 'com.amazon.coral.service#SerializationException', Message: message });
}

/**
 * Whether dynalite would get past its envelope checks (POST, JSON content type, a known
 * target, some SigV4 authentication) and look at the body. Requests that fail them go to
 * dynalite untouched, so it answers its envelope error before any body validation, as
 * DynamoDB does; they never write, so they need no lock.
 */
function isDynamoDBCall(head: RequestHead): boolean {
  if (head.method !== 'POST') return false;
  const contentType = (head.headers['content-type'] ?? '').split(';')[0].trim();
  if (contentType !== 'application/json' && contentType !== 'application/x-amz-json-1.0') return false;
  const target = head.headers['x-amz-target'];
  const parts = typeof target === 'string' ? target.split('.') : [];
  if (parts.length !== 2 || !API_VERSIONS.has(parts[0])) return false;
  const auth = head.headers.authorization;
  return (typeof auth === 'string' && auth.trim().startsWith('AWS4-')) || /[?&]X-Amz-Algorithm=/.test(head.url ?? '');
}

function internalHead(operation: string): RequestHead {
  return {
    method: 'POST',
    url: '/',
    headers: {
      'host': LOCAL_HOST,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `DynamoDB_20120810.${operation}`,
      'x-amz-date': '20200101T000000Z',
      // dynalite checks that these parts exist, not the signature.
      'authorization': `AWS4-HMAC-SHA256 Credential=local/20200101/${SETUP_REGION}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=local`,
    },
  };
}

/** A lock name for one item: the table and its key values in key-schema order. */
function lockName(table: string, key: Json): string {
  return JSON.stringify([table, ...Object.values(key).map(canonicalKeyValue)]);
}

function canonicalKeyValue(value: unknown): string {
  const v = asObject(value) ?? {};
  // Numbers: "1", "1.0" and "1e0" are one key in DynamoDB. Float rounding can only merge distinct keys.
  if (typeof v.N === 'string') return `N:${String(Number(v.N))}`;
  if (typeof v.B === 'string') return `B:${Buffer.from(v.B, 'base64').toString('base64')}`;
  if (typeof v.S === 'string') return `S:${v.S}`;
  return `?:${JSON.stringify(v)}`;
}

function isConditionalCheckFailure(answer: Answer): boolean {
  if (answer.status !== 400) return false;
  const type = parseObject(answer.body)?.__type;
  return typeof type === 'string' && type.endsWith('#ConditionalCheckFailedException');
}

function parseObject(body: Buffer): Json | undefined {
  try {
    return asObject(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Json : undefined;
}

/** `answer` with a new JSON body; Content-Length and x-amz-crc32 recomputed. */
function withBody(answer: Answer, data: Json): Answer {
  const body = Buffer.from(JSON.stringify(data), 'utf8');
  const crc = crc32(body);
  const headers: Array<readonly [string, number | string | readonly string[]]> = [];
  for (const [name, value] of answer.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      headers.push([name, body.length]);
    } else if (lower === 'x-amz-crc32') {
      if (crc !== undefined) headers.push([name, crc]);
    } else {
      headers.push([name, value]);
    }
  }
  return { status: answer.status, headers, body };
}

function jsonAnswer(status: number, data: Json): Answer {
  const body = Buffer.from(JSON.stringify(data), 'utf8');
  const crc = crc32(body);
  return {
    status,
    headers: [
      ['Content-Type', 'application/x-amz-json-1.0'],
      ['Content-Length', body.length],
      ...(crc === undefined ? [] : [['x-amz-crc32', crc] as const]),
      ['x-amzn-RequestId', `local-${Date.now().toString(36)}`],
    ],
    body,
  };
}

function sendAnswer(res: ServerResponse, answer: Answer): void {
  if (res.headersSent) return;
  res.statusCode = answer.status;
  for (const [name, value] of answer.headers) res.setHeader(name, value);
  res.end(answer.body);
}

/**
 * CRC-32 of a body, as DynamoDB sends in x-amz-crc32 (AWS SDK v3 does not check it).
 * zlib.crc32 exists from Node 20.15; on older Nodes the header is left out.
 */
function crc32(body: Buffer): number | undefined {
  return typeof zlib.crc32 === 'function' ? zlib.crc32(body) : undefined;
}

function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || target.length === 0) return 'Unknown';
  const dot = target.lastIndexOf('.');
  return dot >= 0 ? target.slice(dot + 1) : target;
}

function sendJsonError(res: ServerResponse, status: number, code: string, message: string): void {
  const type = code.includes('#') ? code : `${ERROR_PREFIX}${code}`;
  const body = JSON.stringify({ __type: type, message });
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': `local-${Date.now().toString(36)}`,
  });
  res.end(body);
}

async function createTables(endpoint: string, tables: readonly LocalTableSpec[]): Promise<void> {
  if (tables.length === 0) return;
  const client = new DynamoDBClient({
    endpoint,
    region: SETUP_REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  try {
    for (const table of tables) {
      const keys: KeySchemaElement[] = [{ AttributeName: table.hashKey, KeyType: 'HASH' }];
      const attributes: AttributeDefinition[] = [{ AttributeName: table.hashKey, AttributeType: 'S' }];
      if (table.rangeKey) {
        keys.push({ AttributeName: table.rangeKey, KeyType: 'RANGE' });
        attributes.push({ AttributeName: table.rangeKey, AttributeType: 'S' });
      }
      await client.send(new CreateTableCommand({
        TableName: table.name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: keys,
        AttributeDefinitions: attributes,
      }));
      // createTableMs: 0 still flips CREATING -> ACTIVE on a later tick.
      for (let attempt = 0; ; attempt++) {
        const described = await client.send(new DescribeTableCommand({ TableName: table.name }));
        if (described.Table?.TableStatus === 'ACTIVE') break;
        if (attempt >= 200) throw new Error(`table ${table.name} did not become ACTIVE`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } finally {
    client.destroy();
  }
}
