/// <reference path="./vendor.d.ts" />
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { applyFault, CallCounter, closeServer, FaultInjector, Lifecycle, listenLocal, LOCAL_HOST } from './common';

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
  readonly fault: FaultInjector;
  close(): Promise<void>;
}

const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
/** The region dynalite pretends to be in; it ignores the signature and its scope. */
const SETUP_REGION = 'us-east-1';

/**
 * An in-memory DynamoDB (dynalite) on 127.0.0.1 with call counting and fault injection.
 * dynalite's conditional writes are atomic; it has no TTL, transactions or
 * ReturnValuesOnConditionCheckFailure.
 */
export async function startDynamoDB(opts: StartDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const life = new Lifecycle();
  life.track(server);
  const calls = new CallCounter();
  const fault = new FaultInjector();

  // Put counting and faults in front of dynalite's own handler on the same server.
  const dynaliteHandlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    for (const handler of dynaliteHandlers) handler(req, res);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const operation = operationOf(req);
    calls.record(operation);
    applyFault(fault.take(operation), req, res, life, {
      error: (status, code) => sendJsonError(res, status ?? 500, code ?? 'InternalServerError', 'Internal server error'),
      throttle: (status, code) => sendJsonError(res, status ?? 400, code ?? 'ThrottlingException',
        'Rate of requests exceeds the allowed throughput.'),
    }).then((handled) => {
      if (!handled) serve(req, res);
    }, (err: unknown) => {
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
