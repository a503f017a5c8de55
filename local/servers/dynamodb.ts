/// <reference path="./vendor.d.ts" />
import { randomBytes } from 'node:crypto';
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
import type { AttributeValue as StreamAttributeValue, DynamoDBStreamEvent } from 'aws-lambda';
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
  /**
   * Enables a DynamoDB stream on the table with this view type, as
   * `StreamSpecification: { StreamEnabled: true, StreamViewType }` in CreateTable does.
   * Read it with {@link LocalDynamoDB.stream}. No stream when omitted.
   */
  readonly stream?: LocalStreamViewType;
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
  /**
   * Write capacity units consumed so far by every PutItem, UpdateItem, DeleteItem and
   * BatchWriteItem through the endpoint (table setup is not counted), as on-demand DynamoDB
   * bills them ("Capacity unit consumption for write operations", DynamoDB Developer Guide,
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html#write-operation-consumption:
   * one write unit per write of an item up to 1 KB, one more per further started KB; an
   * UpdateItem is charged for "the larger of the item sizes before and after the update", a
   * PutItem that replaces an item and a DeleteItem likewise for the larger of the two items).
   * Refused conditional writes count too, as DynamoDB charges them ("Condition expressions",
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html:
   * a failed condition "still consumes write capacity units"): 1 per started KB of the item as
   * it was, at least 1. Writes refused before any item is read (validation errors, a missing
   * table, faults injected before serving) count nothing. Read the difference around a request
   * for what it cost.
   *
   * The front asks dynalite for `ReturnConsumedCapacity: TOTAL` on every such write and takes
   * its `ConsumedCapacity` out again before answering a caller that did not ask for it (or
   * asked for `NONE`), so callers get exactly the answer they would have got otherwise.
   */
  writeUnits(): number;
  /**
   * The current stream of a table created with one ({@link LocalTableSpec.stream}, or
   * `StreamSpecification` in a CreateTable through the endpoint). Throws when the table has
   * no stream. Deleting the table ends its stream; creating it again starts a new one.
   */
  stream(tableName: string): LocalTableStream;
  /** Stops every stream consumer (without waiting for an invocation in flight) and the server. */
  close(): Promise<void>;
}

/** DynamoDB's StreamViewType values. */
export type LocalStreamViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';

/** An item (or key) in DynamoDB JSON, as stream records carry it. */
export type StreamAttributeMap = Record<string, StreamAttributeValue>;

/**
 * One DynamoDB stream record, in the shape Lambda's DynamoDB event source puts in
 * `event.Records` (assignable to `DynamoDBRecord` of `aws-lambda`). Shape and values follow
 * the example event in "Using AWS Lambda with Amazon DynamoDB"
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html) and the DynamoDB Streams API
 * reference: Record (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_Record.html)
 * and StreamRecord (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html).
 */
export interface LocalStreamRecord {
  /** A globally unique identifier for the event (32 hex characters, as in the Lambda example). */
  readonly eventID: string;
  /** INSERT: a new item was added; MODIFY: one or more attributes changed; REMOVE: the item was deleted. */
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  /** `1.1`, as in the Lambda example event. */
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  /** The table's region (from the table ARN that the local DynamoDB reports). */
  readonly awsRegion: string;
  readonly dynamodb: {
    /** Epoch seconds, rounded down to the closest second (StreamRecord.ApproximateCreationDateTime). */
    readonly ApproximateCreationDateTime: number;
    /** The primary key attributes of the item that was modified. */
    readonly Keys: StreamAttributeMap;
    /** The item after the write (NEW_IMAGE, NEW_AND_OLD_IMAGES; absent for REMOVE). */
    readonly NewImage?: StreamAttributeMap;
    /** The item before the write (OLD_IMAGE, NEW_AND_OLD_IMAGES; absent for INSERT). */
    readonly OldImage?: StreamAttributeMap;
    /** Increasing decimal string (28 digits here; the API allows 21 to 40). */
    readonly SequenceNumber: string;
    /** Keys plus the images in the record, sized with DynamoDB's item size rules. */
    readonly SizeBytes: number;
    readonly StreamViewType: LocalStreamViewType;
  };
  /** `<table ARN>/stream/<label>`, as Lambda sets it. */
  readonly eventSourceARN: string;
}

/** A table's stream: its records in commit order, a listener hook and Lambda-like consumers. */
export interface LocalTableStream {
  readonly tableName: string;
  readonly viewType: LocalStreamViewType;
  /** `<table ARN>/stream/<label>`: the table's LatestStreamArn. */
  readonly streamArn: string;
  /** The stream label (creation time, ISO 8601 without zone, as DynamoDB forms it). */
  readonly streamLabel: string;
  /** Every record so far (copies), in commit order. Records are kept until close(), not 24 hours. */
  records(): LocalStreamRecord[];
  /**
   * Calls `listener` synchronously with each new record (a copy), in commit order, as the
   * write that produced it commits. Returns a function that removes the listener.
   */
  onRecord(listener: (record: LocalStreamRecord) => void): () => void;
  /**
   * Feeds `handler` batches the way a Lambda event source mapping on a DynamoDB stream does:
   * `{ Records: [...] }`, in order, one invocation at a time, a failed batch retried before
   * anything after it. See {@link StreamConsumerOptions}.
   */
  consume(handler: LocalStreamHandler, options?: StreamConsumerOptions): LocalStreamConsumer;
}

/** A Lambda handler for DynamoDB stream events; a thrown error (or rejection) fails the whole batch. */
export type LocalStreamHandler = (event: DynamoDBStreamEvent) => unknown;

/**
 * Event source mapping settings, after Lambda's CreateEventSourceMapping parameters
 * (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html) and
 * "Using AWS Lambda with Amazon DynamoDB" (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).
 */
export interface StreamConsumerOptions {
  /** Records per invocation at most (BatchSize; Lambda's default 100, 1 to 10000). */
  readonly batchSize?: number;
  /**
   * TRIM_HORIZON (default here): every record the stream holds; LATEST: only records
   * committed after consume() was called.
   */
  readonly startingPosition?: 'TRIM_HORIZON' | 'LATEST';
  /**
   * Retries of a failed batch before its records are discarded (MaximumRetryAttempts, 0 to
   * 10000). -1 (the default, as Lambda's): retry until the consumer stops; Lambda retries
   * until the records expire.
   */
  readonly maximumRetryAttempts?: number;
  /** Wait before a failed batch is retried (default 100 ms; Lambda backs off on its own schedule). */
  readonly retryDelayMs?: number;
  /**
   * FunctionResponseTypes: ['ReportBatchItemFailures']: a `{ batchItemFailures: [{ itemIdentifier }] }`
   * answer checkpoints before the lowest reported sequence number and retries from there
   * (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
   * Off by default, as in Lambda: the answer is then ignored.
   */
  readonly reportBatchItemFailures?: boolean;
  /** Called with the records discarded after the last retry (the mapping's on-failure destination). */
  readonly onDiscard?: (records: LocalStreamRecord[]) => void;
}

export interface LocalStreamConsumer {
  /** Handler invocations so far (every attempt of a batch counts). */
  readonly invocations: number;
  /** Errors the handler threw (or rejected with), in order. */
  readonly errors: readonly unknown[];
  /** Records discarded after maximumRetryAttempts, in order. */
  readonly discarded: readonly LocalStreamRecord[];
  /**
   * Resolves once every record committed before the call has been handled successfully or
   * discarded, or the consumer stopped. While a batch keeps failing with unlimited retries it
   * waits (bound it with a timeout, or read `errors`).
   */
  drain(): Promise<void>;
  /** Starts no further invocation; resolves once the invocation in flight, if any, has settled. */
  stop(): Promise<void>;
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
const RETURN_CAPACITY = 'ReturnConsumedCapacity';
/** ReturnConsumedCapacity values with which dynalite (and DynamoDB) report ConsumedCapacity. */
const CAPACITY_REPORTED: ReadonlySet<unknown> = new Set(['TOTAL', 'INDEXES']);
/** One write unit per started KB of an item (see LocalDynamoDB.writeUnits for the page). */
const WRITE_UNIT_BYTES = 1024;
/** The single-item writes that take ReturnValuesOnConditionCheckFailure. */
const SINGLE_WRITES: ReadonlySet<string> = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
/** dynalite answers both API versions with the same actions. */
const API_VERSIONS: ReadonlySet<string> = new Set(['DynamoDB_20120810', 'DynamoDB_20111205']);
/** StreamSpecification.StreamViewType values, in the order DynamoDB lists them. */
const STREAM_VIEW_TYPES: readonly LocalStreamViewType[] = ['NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES', 'KEYS_ONLY'];
/** Stream sequence numbers are this plus a counter: 28 digits, like the Lambda example's. */
const SEQUENCE_BASE = 10n ** 27n;
/** Lambda's BatchSize bounds for DynamoDB streams, and its default. */
const MAX_BATCH_SIZE = 10_000;
const DEFAULT_BATCH_SIZE = 100;
const DEFAULT_RETRY_DELAY_MS = 100;

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
 * - Write-unit accounting ({@link LocalDynamoDB.writeUnits}): every PutItem, UpdateItem,
 *   DeleteItem and BatchWriteItem is forwarded with `ReturnConsumedCapacity: TOTAL` (unless the
 *   caller asked for `TOTAL` or `INDEXES` itself), and the ConsumedCapacity dynalite reports,
 *   computed as DynamoDB's (the larger of the item before and after the write, 1 unit per
 *   started KB), is added up, then taken out of the answer again if the caller did not ask for
 *   it. dynalite reports nothing for a conditional write it refused; DynamoDB charges it, so
 *   the front does, from the item the condition was evaluated against (read under the item's
 *   lock, as below): 1 unit per started KB of that item, at least 1. Sizes: dynalite counts
 *   strings and names in UTF-16 code units, the front's charge for a refusal in UTF-8 bytes
 *   ("DynamoDB item sizes and formats"); they agree on ASCII.
 *
 * How exact the ALL_OLD item is: every write that can change an item (PutItem, UpdateItem,
 * DeleteItem, BatchWriteItem) holds a per-(table, primary key) lock in the front from before
 * dynalite sees it until dynalite's answer is complete; a conditional write that failed reads
 * the item (strongly consistent GetItem, straight into dynalite, not counted) before it
 * releases the lock. dynalite evaluates the condition under its own per-item lock,
 * so no write can land between the failed condition check and that read: the item returned
 * is the item the condition was evaluated against. What this relies on (the non-atomic
 * remainder): (1) the check and the read are two dynalite operations, exact only because
 * every writer goes through this front (dynalite has no other listener, no TTL deletion, and
 * no TransactWriteItems: it answers UnknownOperationException); (2) the lock key
 * comes from the table's key schema, read once with DescribeTable and cached until a
 * CreateTable or DeleteTable for that name passes through; writes racing a delete-and-recreate
 * of the same table with another key schema could be locked under the stale schema; (3) number
 * key values are compared as JavaScript numbers, which may put distinct high-precision keys
 * under one lock (more serialization, never less).
 *
 * - DynamoDB Streams, which dynalite lacks. A table created with a stream ({@link LocalTableSpec.stream},
 *   or `StreamSpecification: { StreamEnabled: true, StreamViewType }` in a CreateTable through the
 *   endpoint; DescribeTable then shows StreamSpecification, LatestStreamLabel and LatestStreamArn)
 *   gets exactly one record per successful item-level write that changes the item: PutItem,
 *   UpdateItem, DeleteItem, and each put or delete request of a BatchWriteItem. INSERT when the
 *   item did not exist, MODIFY when it did and changed, REMOVE when it was deleted. A write that
 *   changes nothing (a PutItem of the same item, an UpdateItem that sets the values it already
 *   has, a DeleteItem of a missing item) gives no record, as DynamoDB: "If you perform a PutItem
 *   or UpdateItem operation that does not change any data in an item, DynamoDB Streams does not
 *   write a stream record for that operation"
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html). A write that
 *   fails (a failed condition, a validation error, a fault injected before serving) gives none.
 *   How the images are exact: for a streamed table the front reads the item (strongly consistent
 *   GetItem into dynalite, not counted) before forwarding the write and again after dynalite's
 *   answer, both under the item's lock described below, and appends the record before releasing
 *   the lock; so OldImage and NewImage are the item just before and just after this write, and
 *   one item's records are in commit order. Sequence numbers increase across the whole local
 *   DynamoDB (DynamoDB only orders records of one item; consumers here see one total order, one
 *   shard). Unstreamed tables pay none of this. Record shape and values: see {@link LocalStreamRecord}.
 *   Stream gaps: the stream lives as long as the table (no 24-hour trim); no UpdateTable of
 *   StreamSpecification (dynalite drops the member); no userIdentity (it marks TTL deletions,
 *   and dynalite has no TTL); the DynamoDB Streams API (DescribeStream, GetShardIterator,
 *   GetRecords) is not served: read records with {@link LocalDynamoDB.stream}.
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
  const close = (): Promise<void> => {
    front.stopStreams();
    return closeServer(server, life);
  };

  try {
    await createTables(endpoint, opts.tables ?? []);
  } catch (err) {
    await close();
    throw err;
  }
  calls.reset();

  return { endpoint, calls, fault, writeUnits: () => front.writeUnits, stream: (tableName) => front.stream(tableName), close };
}

/**
 * Serves requests through dynalite's handler with per-item write locks, the
 * ReturnValuesOnConditionCheckFailure emulation, the key-schema cache they need, and the
 * streams of streamed tables.
 */
class Front {
  private readonly locks = new KeyedLock();
  /** Key attribute names (hash, then range) per table name. */
  private readonly keySchemas = new Map<string, readonly string[]>();
  /** The current stream per streamed table name. */
  private readonly streams = new Map<string, TableStream>();
  /** Every stream ever opened, so close() can stop their consumers. */
  private readonly allStreams = new Set<TableStream>();
  private sequence = 0n;
  /** Write capacity units consumed so far (see LocalDynamoDB.writeUnits). */
  private consumedWriteUnits = 0;

  public get writeUnits(): number {
    return this.consumedWriteUnits;
  }

  constructor(private readonly dynaliteHandlers: readonly RequestListener[]) {}

  public async serve(operation: string, head: RequestHead, body: Buffer): Promise<Answer> {
    if (!isDynamoDBCall(head)) return this.dynalite(head, body);
    if (SINGLE_WRITES.has(operation)) {
      const data = parseObject(body);
      if (data) return this.serveSingleWrite(operation, head, body, data);
    } else if (operation === 'BatchWriteItem') {
      const data = parseObject(body);
      if (data) return this.serveBatchWrite(head, body, data);
    } else if (operation === 'CreateTable') {
      return this.serveCreateTable(head, body);
    } else if (operation === 'DeleteTable') {
      const table = parseObject(body)?.TableName;
      const answer = await this.dynalite(head, body);
      if (typeof table === 'string') {
        this.keySchemas.delete(table);
        if (answer.status === 200) this.streams.delete(table); // the table's stream ends with it
      }
      return answer;
    } else if (operation === 'DescribeTable') {
      const table = parseObject(body)?.TableName;
      const answer = await this.dynalite(head, body);
      const stream = typeof table === 'string' ? this.streams.get(table) : undefined;
      const described = answer.status === 200 ? parseObject(answer.body) : undefined;
      const description = asObject(described?.Table);
      if (!stream || !described || !description) return answer;
      return withBody(answer, { ...described, Table: { ...description, ...stream.description() } });
    }
    return this.dynalite(head, body);
  }

  /** The current stream of a table; throws when it has none. */
  public stream(tableName: string): LocalTableStream {
    const stream = this.streams.get(tableName);
    if (!stream) throw new Error(`table ${tableName} has no stream (create it with LocalTableSpec.stream or StreamSpecification)`);
    return stream;
  }

  public stopStreams(): void {
    for (const stream of this.allStreams) stream.stopConsumers();
  }

  /**
   * CreateTable with the StreamSpecification dynalite drops: validated here, and on success the
   * table gets a new stream, shown in the answer's TableDescription as DynamoDB shows it.
   */
  private async serveCreateTable(head: RequestHead, body: Buffer): Promise<Answer> {
    const data = parseObject(body);
    const table = data?.TableName;
    const spec = asObject(data?.StreamSpecification);
    let viewType: LocalStreamViewType | undefined;
    if (spec?.StreamEnabled === true) {
      const value = spec.StreamViewType;
      if (typeof value !== 'string' || !(STREAM_VIEW_TYPES as readonly string[]).includes(value)) {
        // DynamoDB's enum constraint message; for a missing value the wording is the front's own.
        return jsonAnswer(400, {
          __type: 'com.amazon.coral.validate#ValidationException',
          message: typeof value === 'string'
            ? `1 validation error detected: Value '${value}' at 'streamSpecification.streamViewType' `
              + `failed to satisfy constraint: Member must satisfy enum value set: [${STREAM_VIEW_TYPES.join(', ')}]`
            : 'StreamSpecification: StreamViewType is required when StreamEnabled is true',
        });
      }
      viewType = value as LocalStreamViewType;
    }
    const answer = await this.dynalite(head, body);
    if (typeof table === 'string') this.keySchemas.delete(table);
    const created = answer.status === 200 ? parseObject(answer.body) : undefined;
    const description = asObject(created?.TableDescription);
    if (!viewType || typeof table !== 'string' || !created || !description) return answer;

    const tableArn = typeof description.TableArn === 'string'
      ? description.TableArn
      : `arn:aws:dynamodb:${SETUP_REGION}:000000000000:table/${table}`;
    const stream = new TableStream(table, viewType, tableArn, () => this.nextSequenceNumber());
    this.streams.set(table, stream);
    this.allStreams.add(stream);
    return withBody(answer, { ...created, TableDescription: { ...description, ...stream.description() } });
  }

  private async serveSingleWrite(operation: string, head: RequestHead, body: Buffer, data: Json): Promise<Answer> {
    let returnOld = false;
    const forwarded: Json = { ...data };
    if (Object.prototype.hasOwnProperty.call(data, RETURN_ON_FAILURE)) {
      const value = data[RETURN_ON_FAILURE];
      // null counts as absent, as in dynalite's (and DynamoDB's) type check.
      if (value !== null) {
        const invalid = validateReturnOnFailure(value);
        if (invalid) return invalid;
        returnOld = value === 'ALL_OLD';
      }
      // Strip it: dynalite 4 drops unknown members itself, but a later version might refuse them.
      delete forwarded[RETURN_ON_FAILURE];
    }
    const capacity = this.askCapacity(forwarded);
    const changed = capacity.injected || Object.prototype.hasOwnProperty.call(data, RETURN_ON_FAILURE);
    const forward = changed ? Buffer.from(JSON.stringify(forwarded)) : body;

    const table = data.TableName;
    const source = operation === 'PutItem' ? data.Item : data.Key;
    const key = typeof table === 'string' ? await this.primaryKey(table, source) : undefined;
    // No key: the table does not exist or the request lacks the key, so dynalite refuses it without writing.
    if (!key || typeof table !== 'string') return this.accountWrite(await this.dynalite(head, forward), capacity.injected);

    return this.locks.run([lockName(table, key)], async () => {
      // Looked up under the lock, so a stream opened while this write waited is not half-fed.
      const stream = this.streams.get(table);
      let before: ReadItem | undefined;
      if (stream) {
        before = await this.readItem(table, key);
        if (!before) return frontFailure('could not read the item before the write for its stream record');
      }
      const answer = this.accountWrite(await this.dynalite(head, forward), capacity.injected);
      if (stream && before && answer.status === 200) {
        const after = await this.readItem(table, key);
        // The write is committed; without its after-image there is no exact record to append.
        if (!after) return frontFailure('could not read the item after the write for its stream record');
        this.appendChange(stream, table, before.item, after.item);
      }
      if (!isConditionalCheckFailure(answer)) return answer;
      // Still under the item's lock: no other write to this item can have landed since
      // dynalite evaluated the condition. (dynalite's own item lock hands over on setImmediate
      // and this read runs in promise/nextTick callbacks, so without the front lock the read
      // would usually, not always, come first; the front lock makes it independent of that.)
      // A streamed table's before-image, read under the same lock, is that item already.
      const read = before ?? await this.readItem(table, key);
      if (!read) return frontFailure('could not read the item for a refused write\'s capacity');
      // dynalite reports no ConsumedCapacity with ConditionalCheckFailedException (and neither
      // does DynamoDB), but DynamoDB charges the refused write: the front computes it from the
      // item the condition was evaluated against, 1 unit per started KB, at least 1.
      this.consumedWriteUnits += writeUnitsOf(read.item);
      if (!returnOld) return answer;
      if (read.item === undefined) return answer; // no such item: DynamoDB sends no Item either
      const failure = parseObject(answer.body) ?? {};
      return withBody(answer, { ...failure, Item: read.item });
    });
  }

  /**
   * Makes `request` (a write about to be forwarded) ask dynalite for its ConsumedCapacity, unless
   * the caller asked already; `injected`: the answer's ConsumedCapacity is the front's, to take
   * out again. An invalid value is left for dynalite to refuse, as DynamoDB would.
   */
  private askCapacity(request: Json): { readonly injected: boolean } {
    const asked = request[RETURN_CAPACITY];
    if (CAPACITY_REPORTED.has(asked)) return { injected: false };
    if (asked !== undefined && asked !== null && asked !== 'NONE') return { injected: false };
    request[RETURN_CAPACITY] = 'TOTAL';
    return { injected: true };
  }

  /**
   * Adds the write units a successful write's answer reports (one ConsumedCapacity, or a list of
   * them for BatchWriteItem) and, when the front asked for them, takes them out of the answer.
   */
  private accountWrite(answer: Answer, injected: boolean): Answer {
    if (answer.status !== 200) return answer;
    const data = parseObject(answer.body);
    if (!data || data.ConsumedCapacity === undefined) return answer;
    for (const consumed of [data.ConsumedCapacity].flat()) {
      const units = asObject(consumed)?.CapacityUnits;
      if (typeof units === 'number') this.consumedWriteUnits += units;
    }
    if (!injected) return answer;
    const rest: Json = { ...data };
    delete rest.ConsumedCapacity;
    return withBody(answer, rest);
  }

  private async serveBatchWrite(head: RequestHead, original: Buffer, asked: Json): Promise<Answer> {
    const data: Json = { ...asked };
    const capacity = this.askCapacity(data);
    const body = capacity.injected ? Buffer.from(JSON.stringify(data)) : original;
    const names: string[] = [];
    const writes: Array<{ readonly table: string; readonly key: Json }> = [];
    const requestItems = asObject(data.RequestItems);
    for (const [table, requests] of Object.entries(requestItems ?? {})) {
      if (!Array.isArray(requests)) continue;
      for (const request of requests) {
        const put = asObject(asObject(request)?.PutRequest);
        const del = asObject(asObject(request)?.DeleteRequest);
        const key = await this.primaryKey(table, put ? put.Item : del?.Key);
        if (key) {
          names.push(lockName(table, key));
          writes.push({ table, key });
        }
      }
    }
    return this.locks.run(names, async () => {
      // Each put or delete request is its own item-level write with its own record. DynamoDB
      // refuses a batch naming one item twice, so one read before and one after per item is exact.
      const streamed = writes.flatMap((w) => {
        const stream = this.streams.get(w.table);
        return stream ? [{ ...w, stream }] : [];
      });
      const before = await Promise.all(streamed.map((w) => this.readItem(w.table, w.key)));
      if (before.some((b) => !b)) return frontFailure('could not read the items before the write for their stream records');
      const answer = this.accountWrite(await this.dynalite(head, body), capacity.injected);
      if (answer.status !== 200 || streamed.length === 0) return answer;
      const after = await Promise.all(streamed.map((w) => this.readItem(w.table, w.key)));
      if (after.some((a) => !a)) return frontFailure('could not read the items after the write for their stream records');
      // Items left in UnprocessedItems are unchanged, so they append nothing.
      streamed.forEach((w, i) => this.appendChange(w.stream, w.table, before[i]?.item, after[i]?.item));
      return answer;
    });
  }

  /** Appends the record of one item-level write, unless the write changed nothing. */
  private appendChange(stream: TableStream, table: string, before: Json | undefined, after: Json | undefined): void {
    if (before === undefined && after === undefined) return; // deleted an item that did not exist
    if (before !== undefined && after !== undefined && canonicalItem(before) === canonicalItem(after)) return;
    const image = (after ?? before) as Json;
    const keys: Json = {};
    for (const name of this.keySchemas.get(table) ?? []) keys[name] = image[name];
    stream.append(keys, before, after);
  }

  private nextSequenceNumber(): string {
    this.sequence += 1n;
    return (SEQUENCE_BASE + this.sequence).toString();
  }

  /** A strongly consistent read of one item straight into dynalite (not counted); undefined when it failed. */
  private async readItem(table: string, key: Json): Promise<ReadItem | undefined> {
    const read = await this.dynalite(internalHead('GetItem'),
      Buffer.from(JSON.stringify({ TableName: table, Key: key, ConsistentRead: true })));
    const got = read.status === 200 ? parseObject(read.body) : undefined;
    return got ? { item: asObject(got.Item) } : undefined;
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

/** An item as read under the lock: undefined when there is no such item. */
interface ReadItem {
  readonly item: Json | undefined;
}

/** A 500 from the front itself (an internal read into dynalite failed). */
function frontFailure(what: string): Answer {
  return jsonAnswer(500, { __type: `${ERROR_PREFIX}InternalServerError`, message: `local DynamoDB front ${what}` });
}

/** One table's stream: the records, in commit order, and who listens to them. */
class TableStream implements LocalTableStream {
  public readonly streamLabel: string;
  public readonly streamArn: string;
  private readonly awsRegion: string;
  private readonly log: LocalStreamRecord[] = [];
  private readonly listeners = new Set<(record: LocalStreamRecord) => void>();
  private readonly consumers = new Set<StreamConsumer>();

  constructor(
    public readonly tableName: string,
    public readonly viewType: LocalStreamViewType,
    tableArn: string,
    private readonly nextSequenceNumber: () => string,
  ) {
    // DynamoDB labels a stream with its creation time, ISO 8601 without the zone ("2015-06-27T00:48:05.899").
    this.streamLabel = new Date().toISOString().slice(0, -1);
    this.streamArn = `${tableArn}/stream/${this.streamLabel}`;
    this.awsRegion = tableArn.split(':')[3] || SETUP_REGION;
  }

  public get length(): number {
    return this.log.length;
  }

  /** The members DescribeTable and CreateTable show for a table with a stream. */
  public description(): Json {
    return {
      StreamSpecification: { StreamEnabled: true, StreamViewType: this.viewType },
      LatestStreamLabel: this.streamLabel,
      LatestStreamArn: this.streamArn,
    };
  }

  public records(): LocalStreamRecord[] {
    return this.log.map((r) => structuredClone(r));
  }

  /** Records `from` (inclusive) to `to` (exclusive), as copies. */
  public slice(from: number, to: number): LocalStreamRecord[] {
    return this.log.slice(from, to).map((r) => structuredClone(r));
  }

  public onRecord(listener: (record: LocalStreamRecord) => void): () => void {
    const own = (record: LocalStreamRecord): void => listener(record);
    this.listeners.add(own);
    return () => {
      this.listeners.delete(own);
    };
  }

  public consume(handler: LocalStreamHandler, options: StreamConsumerOptions = {}): LocalStreamConsumer {
    const consumer = new StreamConsumer(this, handler, options, () => this.consumers.delete(consumer));
    this.consumers.add(consumer);
    consumer.kick();
    return consumer;
  }

  public stopConsumers(): void {
    for (const consumer of this.consumers) void consumer.stop();
  }

  /** Appends the record of a write that changed the item (called under the item's lock). */
  public append(keys: Json, oldImage: Json | undefined, newImage: Json | undefined): void {
    const withNew = this.viewType === 'NEW_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES';
    const withOld = this.viewType === 'OLD_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES';
    const newPart = withNew && newImage ? { NewImage: newImage as StreamAttributeMap } : {};
    const oldPart = withOld && oldImage ? { OldImage: oldImage as StreamAttributeMap } : {};
    const record: LocalStreamRecord = {
      eventID: randomBytes(16).toString('hex'),
      eventName: oldImage === undefined ? 'INSERT' : newImage === undefined ? 'REMOVE' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.awsRegion,
      dynamodb: {
        // "in UNIX epoch time format and rounded down to the closest second" (StreamRecord).
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: keys as StreamAttributeMap,
        ...newPart,
        ...oldPart,
        SequenceNumber: this.nextSequenceNumber(),
        // The Lambda example's SizeBytes (26, 59, 38) are exactly Keys plus the images in the
        // record sized with DynamoDB's item size rules; see itemSize.
        SizeBytes: itemSize(keys) + (newPart.NewImage ? itemSize(newImage as Json) : 0) + (oldPart.OldImage ? itemSize(oldImage as Json) : 0),
        StreamViewType: this.viewType,
      },
      eventSourceARN: this.streamArn,
    };
    this.log.push(record);
    for (const listener of this.listeners) {
      try {
        listener(structuredClone(record));
      } catch (err) {
        // A listener must not fail the write that committed; say so loudly instead.
        process.emitWarning(`local DynamoDB stream listener of ${this.tableName} threw: ${String(err)}`);
      }
    }
    for (const consumer of this.consumers) consumer.kick();
  }
}

/**
 * A Lambda event source mapping on one stream: one invocation at a time, batches in order from
 * a checkpoint, a failed batch retried (from the lowest reported failure with
 * ReportBatchItemFailures) before anything after it, discarded after maximumRetryAttempts.
 * Lambda processes a stream's shards in parallel (one batch per shard at a time) and keeps
 * order only per shard, that is per item; here the whole stream is one ordered shard.
 */
class StreamConsumer implements LocalStreamConsumer {
  public invocations = 0;
  public readonly errors: unknown[] = [];
  public readonly discarded: LocalStreamRecord[] = [];
  private position: number;
  /** Failed attempts since the checkpoint last moved. */
  private attempts = 0;
  private stopped = false;
  private running: Promise<void> | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  private pauseTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly waiters: Array<{ readonly target: number; readonly resolve: () => void }> = [];
  private readonly batchSize: number;
  private readonly maximumRetryAttempts: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly stream: TableStream,
    private readonly handler: LocalStreamHandler,
    private readonly options: StreamConsumerOptions,
    private readonly onStop: () => void,
  ) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BATCH_SIZE) {
      throw new Error(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${this.batchSize}`);
    }
    this.maximumRetryAttempts = options.maximumRetryAttempts ?? -1;
    if (!Number.isInteger(this.maximumRetryAttempts) || this.maximumRetryAttempts < -1 || this.maximumRetryAttempts > 10_000) {
      throw new Error(`maximumRetryAttempts must be an integer from -1 to 10000, got ${this.maximumRetryAttempts}`);
    }
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    if (!(this.retryDelayMs >= 0)) throw new Error(`retryDelayMs must be >= 0, got ${this.retryDelayMs}`);
    this.position = options.startingPosition === 'LATEST' ? stream.length : 0;
  }

  /**
   * Starts the loop if records wait, on a later turn: never inside the write that appended
   * them, and records committed together go out in one batch.
   */
  public kick(): void {
    if (this.stopped || this.running || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      if (this.stopped || this.running || this.position >= this.stream.length) return;
      this.running = this.run().finally(() => {
        this.running = undefined;
        this.kick();
      });
    });
  }

  public drain(): Promise<void> {
    const target = this.stream.length;
    if (this.stopped || this.position >= target) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ target, resolve }));
  }

  public async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.onStop();
      if (this.scheduled) clearImmediate(this.scheduled);
      this.scheduled = undefined;
      if (this.pauseTimer) clearTimeout(this.pauseTimer);
      this.wake?.();
      this.settle();
    }
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.position < this.stream.length) {
      const batch = this.stream.slice(this.position, this.position + this.batchSize);
      this.invocations += 1;
      let failedAt: number | undefined;
      try {
        // Records: copies, as Lambda hands the function JSON; the handler cannot alter the stream.
        const response = await this.handler({ Records: structuredClone(batch) });
        failedAt = this.firstFailure(response, batch);
      } catch (err) {
        this.errors.push(err);
        failedAt = 0;
      }
      if (failedAt === undefined) {
        this.advance(batch.length);
        continue;
      }
      // Partial success: Lambda checkpoints before the lowest failed record and retries from it.
      if (failedAt > 0) this.advance(failedAt);
      this.attempts += 1;
      if (this.maximumRetryAttempts >= 0 && this.attempts > this.maximumRetryAttempts) {
        const dropped = batch.slice(failedAt);
        this.discarded.push(...dropped);
        try {
          this.options.onDiscard?.(dropped.map((r) => structuredClone(r)));
        } catch (err) {
          process.emitWarning(`local DynamoDB stream onDiscard of ${this.stream.tableName} threw: ${String(err)}`);
        }
        this.advance(dropped.length);
        continue;
      }
      await this.pause(this.retryDelayMs);
    }
  }

  /**
   * Index of the first record to retry, or undefined when the batch succeeded. Without
   * ReportBatchItemFailures any answer is success. With it (services-ddb-batchfailurereporting):
   * an empty or null batchItemFailures list, or an empty or null answer, is complete success; an
   * empty or null itemIdentifier, or one that is not a sequence number of the batch, is complete
   * failure; otherwise the lowest reported sequence number is where the retry starts.
   */
  private firstFailure(response: unknown, batch: readonly LocalStreamRecord[]): number | undefined {
    if (!this.options.reportBatchItemFailures) return undefined;
    if (typeof response !== 'object' || response === null) return undefined;
    const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
    if (failures === undefined || failures === null) return undefined;
    if (!Array.isArray(failures)) return 0;
    if (failures.length === 0) return undefined;
    let lowest = batch.length;
    for (const failure of failures) {
      const id = asObject(failure)?.itemIdentifier;
      const index = typeof id === 'string' && id !== '' ? batch.findIndex((r) => r.dynamodb.SequenceNumber === id) : -1;
      if (index < 0) return 0;
      lowest = Math.min(lowest, index);
    }
    return lowest;
  }

  private advance(count: number): void {
    this.position += count;
    this.attempts = 0;
    this.settle();
  }

  /** Resolves the drain() calls whose records are all handled (all of them once stopped). */
  private settle(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (this.stopped || this.position >= waiter.target) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        this.pauseTimer = undefined;
        resolve();
      };
      this.pauseTimer = setTimeout(() => this.wake?.(), ms);
    });
  }
}

/** Write units of a write refused against `item` (undefined: no such item): 1 per started KB, at least 1. */
function writeUnitsOf(item: Json | undefined): number {
  return Math.max(1, Math.ceil((item ? itemSize(item) : 0) / WRITE_UNIT_BYTES));
}

/**
 * The size DynamoDB gives an item, per "DynamoDB item sizes and formats"
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
 * each attribute is its name's UTF-8 bytes plus its value's size.
 */
function itemSize(item: Json): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += Buffer.byteLength(name, 'utf8') + valueSize(value);
  return size;
}

/**
 * A value's size: strings their UTF-8 bytes; numbers 1 byte per two significant digits plus 1;
 * binary its raw bytes; null and Boolean 1 byte; List and Map 3 bytes plus their elements, each
 * element 1 byte more. Sets (on which the page is silent) count their members.
 */
function valueSize(value: unknown): number {
  const v = asObject(value) ?? {};
  if (typeof v.S === 'string') return Buffer.byteLength(v.S, 'utf8');
  if (typeof v.N === 'string') return numberSize(v.N);
  if (typeof v.B === 'string') return Buffer.from(v.B, 'base64').length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (Array.isArray(v.SS)) return v.SS.reduce((n: number, s: unknown) => n + Buffer.byteLength(String(s), 'utf8'), 0);
  if (Array.isArray(v.NS)) return v.NS.reduce((n: number, s: unknown) => n + numberSize(String(s)), 0);
  if (Array.isArray(v.BS)) return v.BS.reduce((n: number, s: unknown) => n + Buffer.from(String(s), 'base64').length, 0);
  if (Array.isArray(v.L)) return 3 + v.L.reduce((n: number, e: unknown) => n + valueSize(e) + 1, 0);
  const map = asObject(v.M);
  if (map) return 3 + Object.entries(map).reduce((n, [k, e]) => n + Buffer.byteLength(k, 'utf8') + valueSize(e) + 1, 0);
  return 0;
}

function numberSize(n: string): number {
  return Math.ceil(decimalOf(n).digits.length / 2) + 1;
}

/** A DynamoDB number as significant digits (no leading or trailing zeros), exponent and sign. */
function decimalOf(n: string): { readonly negative: boolean; readonly digits: string; readonly exponent: number } {
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(n);
  if (!m) return { negative: false, digits: n, exponent: 0 };
  const fraction = m[3] ?? '';
  let digits = `${m[2]}${fraction}`.replace(/^0+/, '');
  let exponent = Number(m[4] ?? '0') - fraction.length;
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === '') return { negative: false, digits: '0', exponent: 0 };
  return { negative: m[1] === '-', digits, exponent };
}

/**
 * A canonical text of an item, equal for two items exactly when DynamoDB holds them as the same
 * data: attribute order ignored, numbers compared as decimals ("1.0" is "1"), sets as sets.
 */
function canonicalItem(item: Json): string {
  return canonicalValue({ M: item });
}

function canonicalValue(value: unknown): string {
  const v = asObject(value) ?? {};
  const number = (n: unknown): string => {
    const d = decimalOf(String(n));
    return `${d.negative ? '-' : ''}${d.digits}e${d.exponent}`;
  };
  const binary = (b: unknown): string => Buffer.from(String(b), 'base64').toString('base64');
  const set = (members: unknown[], canon: (m: unknown) => string): string => JSON.stringify([...new Set(members.map(canon))].sort());
  if (typeof v.S === 'string') return `S${JSON.stringify(v.S)}`;
  if (typeof v.N === 'string') return `N${number(v.N)}`;
  if (typeof v.B === 'string') return `B${binary(v.B)}`;
  if (v.BOOL !== undefined) return `BOOL${String(v.BOOL)}`;
  if (v.NULL !== undefined) return 'NULL';
  if (Array.isArray(v.SS)) return `SS${set(v.SS, String)}`;
  if (Array.isArray(v.NS)) return `NS${set(v.NS, number)}`;
  if (Array.isArray(v.BS)) return `BS${set(v.BS, binary)}`;
  if (Array.isArray(v.L)) return `L[${v.L.map(canonicalValue).join(',')}]`;
  const map = asObject(v.M);
  if (map) {
    const entries = Object.keys(map).sort().map((k) => `${JSON.stringify(k)}:${canonicalValue(map[k])}`);
    return `M{${entries.join(',')}}`;
  }
  return JSON.stringify(v);
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
        // The front opens the stream; dynalite never sees StreamSpecification.
        ...(table.stream ? { StreamSpecification: { StreamEnabled: true, StreamViewType: table.stream } } : {}),
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
