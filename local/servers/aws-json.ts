import { randomBytes, randomUUID } from 'node:crypto';
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
  /** Secrets Manager secret strings by name. */
  readonly secrets?: Record<string, string>;
  /** Region used in ARNs when a request carries no SigV4 scope (default us-east-1). */
  readonly region?: string;
  /** Account id used in ARNs (default 123456789012). */
  readonly accountId?: string;
}

export interface LocalAwsJson {
  /** `http://127.0.0.1:PORT`, for both `AWS_ENDPOINT_URL_SSM` and `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  readonly endpoint: string;
  /** Requests per operation (`GetParameter`, `GetSecretValue`, ...), counted before faults apply. */
  readonly calls: CallCounter;
  readonly fault: FaultInjector;
  /** Creates or overwrites a parameter (its Version goes up by one). */
  setParameter(name: string, value: string): void;
  deleteParameter(name: string): void;
  /** Creates or overwrites a secret (new VersionId, same ARN). */
  setSecret(name: string, value: string): void;
  deleteSecret(name: string): void;
  close(): Promise<void>;
}

interface StoredParameter {
  value: string;
  version: number;
  modified: Date;
}

interface StoredSecret {
  value: string;
  suffix: string;
  versionId: string;
  created: Date;
}

const JSON_11 = 'application/x-amz-json-1.1';
const MAX_BODY = 1024 * 1024;

/** Thrown by an operation to answer a modeled AWS JSON error. */
class AwsJsonError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

/**
 * SSM GetParameter and Secrets Manager GetSecretValue over the AWS JSON 1.1 protocol on
 * one 127.0.0.1 port, enough for the real SSMClient and SecretsManagerClient.
 * Signatures are not verified; the SigV4 scope only supplies the region for ARNs.
 */
export async function startAwsJsonServices(opts: StartAwsJsonOptions = {}): Promise<LocalAwsJson> {
  const defaultRegion = opts.region ?? 'us-east-1';
  const accountId = opts.accountId ?? '123456789012';
  const parameters = new Map<string, StoredParameter>();
  const secrets = new Map<string, StoredSecret>();

  const setParameter = (name: string, value: string): void => {
    const previous = parameters.get(name);
    parameters.set(name, { value, version: (previous?.version ?? 0) + 1, modified: new Date() });
  };
  const setSecret = (name: string, value: string): void => {
    const previous = secrets.get(name);
    secrets.set(name, {
      value,
      // Real secret ARNs end in '-' plus six random characters.
      suffix: previous?.suffix ?? randomBytes(6).toString('base64url').slice(0, 6),
      versionId: randomUUID(),
      created: previous?.created ?? new Date(),
    });
  };
  for (const [name, value] of Object.entries(opts.parameters ?? {})) setParameter(name, value);
  for (const [name, value] of Object.entries(opts.secrets ?? {})) setSecret(name, value);

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
    'secretsmanager.GetSecretValue': (input, region) => {
      const secretId = requireString(input, 'SecretId');
      const found = lookupSecret(secrets, secretId);
      if (!found) {
        throw new AwsJsonError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      }
      const [name, s] = found;
      return {
        ARN: `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${s.suffix}`,
        Name: name,
        SecretString: s.value,
        VersionId: s.versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: s.created.getTime() / 1000,
      };
    },
  };

  const calls = new CallCounter();
  const fault = new FaultInjector();
  const life = new Lifecycle();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = headerValue(req, 'x-amz-target') ?? '';
    const operation = target.slice(target.lastIndexOf('.') + 1) || 'Unknown';
    calls.record(operation);
    const handled = await applyFault(fault.take(operation), req, res, life, {
      error: (status, code) => sendError(res, status ?? 500, code ?? 'InternalServerError', 'Internal server error'),
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
    setSecret,
    deleteSecret: (name) => {
      secrets.delete(name);
    },
    close: () => closeServer(server, life),
  };
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

/** Matches a secret by name, by full ARN (`...:secret:NAME-abcdef`) or by partial ARN (`...:secret:NAME`). */
function lookupSecret(secrets: Map<string, StoredSecret>, secretId: string): [string, StoredSecret] | undefined {
  const marker = ':secret:';
  const at = secretId.startsWith('arn:') ? secretId.indexOf(marker) : -1;
  if (at < 0) {
    const s = secrets.get(secretId);
    return s ? [secretId, s] : undefined;
  }
  const tail = secretId.slice(at + marker.length);
  const exact = secrets.get(tail);
  if (exact) return [tail, exact];
  // A full ARN ends in the name plus '-' and six characters; accept any six (another run's ARN).
  for (const [name, s] of secrets) {
    if (tail.startsWith(`${name}-`) && tail.length === name.length + 7) return [name, s];
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
