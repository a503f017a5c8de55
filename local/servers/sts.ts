// STS on 127.0.0.1: AssumeRole over the Query protocol (form-encoded POST, XML answer),
// verifying the caller's SigV4 signature and the role's trust policy against the local
// identities, and handing out sessions that really end.
//
// Follows the STS API Reference, "AssumeRole"
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): DurationSeconds
// from 900 up to the role's MaxSessionDuration, and at most one hour when the caller is
// itself a role session (role chaining, IAM User Guide "Roles terms and concepts").
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { CallCounter, closeServer, Lifecycle, listenLocal, LOCAL_HOST, readBody } from './common';
import { LOCAL_ACCOUNT_ID, type LocalIdentities } from './identities';
import { S3AuthError, verifySigV4 } from './sigv4';

export interface StartStsOptions {
  readonly region: string;
  readonly identities: LocalIdentities;
  /**
   * Compressed clock: sessions last at most this many seconds, however long DurationSeconds
   * asked (which is still validated as STS does). Unset: DurationSeconds.
   */
  readonly sessionSeconds?: number;
  readonly now?: () => number;
}

export interface LocalSts {
  readonly endpoint: string;
  /** AssumeRole calls answered, successful or not. */
  readonly calls: CallCounter;
  close(): Promise<void>;
}

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const ROLE_CHAINING_MAX_SECONDS = 3600;

class StsError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string) {
    super(message);
  }
}

export async function startSts(opts: StartStsOptions): Promise<LocalSts> {
  const now = opts.now ?? Date.now;
  const calls = new CallCounter();
  const life = new Lifecycle();
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, errorXml('Receiver', 'InternalFailure', err.message)));
  });
  life.track(server);
  const port = await listenLocal(server);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, 1024 * 1024);
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '';
    calls.record(action);
    try {
      const caller = authenticate(req, body);
      if (action !== 'AssumeRole') throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? ''}`);
      send(res, 200, assumeRole(caller, params));
    } catch (err) {
      if (!(err instanceof StsError)) throw err;
      send(res, err.status, errorXml('Sender', err.code, err.message));
    }
  };

  /** The caller's principal ARN, once its signature checks out. */
  const authenticate = (req: IncomingMessage, body: Buffer): string => {
    const q = (req.url ?? '/').indexOf('?');
    try {
      const { accessKeyId } = verifySigV4(
        { method: req.method ?? 'POST', rawPath: q < 0 ? req.url ?? '/' : req.url!.slice(0, q), rawQuery: q < 0 ? '' : req.url!.slice(q + 1), rawHeaders: req.rawHeaders },
        { credentials: (id) => opts.identities.find(id), region: opts.region, service: 'sts', now: now(), bodySha256: createHash('sha256').update(body).digest('hex') },
      );
      return opts.identities.find(accessKeyId)!.principalArn;
    } catch (err) {
      if (!(err instanceof S3AuthError)) throw err;
      // STS words the same failures its own way (STS API Reference, "Common errors").
      if (err.code === 'ExpiredToken') throw new StsError(400, 'ExpiredToken', 'The security token included in the request is expired');
      if (err.code === 'InvalidAccessKeyId' || err.code === 'InvalidToken') {
        throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      }
      if (err.code === 'SignatureDoesNotMatch') {
        throw new StsError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
      }
      throw new StsError(400, 'IncompleteSignature', err.message);
    }
  };

  const assumeRole = (callerArn: string, params: URLSearchParams): string => {
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
      throw new StsError(400, 'ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: `
        + 'Member must satisfy regular expression pattern: [\\w+=,.@-]*');
    }
    const duration = Number(params.get('DurationSeconds') ?? 3600);
    if (!Number.isInteger(duration) || duration < 900) {
      throw new StsError(400, 'ValidationError', `1 validation error detected: Value '${params.get('DurationSeconds')}' at 'durationSeconds' failed to `
        + 'satisfy constraint: Member must have value greater than or equal to 900');
    }
    // The caller as STS names it: a role session is an assumed-role ARN.
    const callerName = opts.identities.isRole(callerArn)
      ? callerArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/') + '/session'
      : callerArn;
    if (!opts.identities.mayAssume(callerArn, roleArn)) {
      throw new StsError(403, 'AccessDenied', `User: ${callerName} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
    }
    if (opts.identities.isRole(callerArn) && duration > ROLE_CHAINING_MAX_SECONDS) {
      throw new StsError(400, 'ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    }
    const max = opts.identities.maxSessionSeconds(roleArn) ?? 3600;
    if (duration > max) {
      throw new StsError(400, 'ValidationError', 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }
    // The compressed clock shortens sessions; it never grants more than was asked.
    const session = opts.identities.createSession(roleArn, Math.min(opts.sessionSeconds ?? duration, duration));
    const roleName = roleArn.split('/').pop();
    return `<AssumeRoleResponse xmlns="${XMLNS}"><AssumeRoleResult>`
      + `<AssumedRoleUser><AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${sessionName}</AssumedRoleId>`
      + `<Arn>arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${roleName}/${sessionName}</Arn></AssumedRoleUser>`
      + `<Credentials><AccessKeyId>${session.accessKeyId}</AccessKeyId><SecretAccessKey>${session.secretAccessKey}</SecretAccessKey>`
      + `<SessionToken>${session.sessionToken}</SessionToken><Expiration>${new Date(session.sessionEndsAt).toISOString()}</Expiration></Credentials>`
      + `</AssumeRoleResult><ResponseMetadata><RequestId>${requestId()}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
  };

  return {
    endpoint: `http://${LOCAL_HOST}:${port}`,
    calls,
    close: () => closeServer(server, life),
  };
}

const requestId = () => randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

function errorXml(type: 'Sender' | 'Receiver', code: string, message: string): string {
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escaped}</Message></Error>`
    + `<RequestId>${requestId()}</RequestId></ErrorResponse>`;
}

function send(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml), 'x-amzn-requestid': requestId() });
  res.end(xml);
}
