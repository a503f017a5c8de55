// A local API Gateway HTTP API: routes requests to the real mint handler with the
// HTTP API payload format 2.0 event, running each route's authorizer first and handing
// the identity it established to the integration at event.requestContext.authorizer
// (payload shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { closeServer, Lifecycle, listenLocal, LOCAL_HOST, readBody } from './servers/common';

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** A refusal: API Gateway answers `status` with `{"message": message}` and never calls the integration. */
export interface AuthorizerRefusal {
  readonly status: number;
  readonly message: string;
  /** Extra response headers, e.g. a JWT authorizer's www-authenticate. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** `requestContext.authorizer` after an IAM (SigV4) authorizer let the request through. */
export interface IamAuthorizerContext {
  readonly iam: {
    readonly accessKey: string;
    readonly accountId: string;
    readonly callerId: string;
    readonly cognitoIdentity: null;
    readonly principalOrgId: string | null;
    readonly userArn: string;
    readonly userId: string;
  };
}

/** `requestContext.authorizer` after a JWT authorizer let the request through. */
export interface JwtAuthorizerContext {
  readonly jwt: {
    /** Every claim of the token, each as a string. */
    readonly claims: Readonly<Record<string, string>>;
    /** The token's scopes when the route requires scopes, otherwise null. */
    readonly scopes: readonly string[] | null;
  };
}

/** What an authorizer puts at `requestContext.authorizer` (a Lambda authorizer would add `{ lambda: ... }`). */
export type AuthorizerContext = IamAuthorizerContext | JwtAuthorizerContext | { readonly lambda: Readonly<Record<string, unknown>> };

/** Let the request through and hand `authorizer` to the integration. */
export interface AuthorizerGrant {
  readonly authorizer: AuthorizerContext;
}

/**
 * An authorizer's verdict: a refusal, a grant carrying the caller's identity, or
 * `undefined` (let through without an identity, as the first local authorizer did).
 */
export type AuthorizerDecision = AuthorizerRefusal | AuthorizerGrant | undefined;

/** The route being authorized. */
export interface AuthorizedRoute {
  readonly routeKey: string;
  /** The route's authorizationScopes (JWT authorizers). Empty when it sets none. */
  readonly authorizationScopes: readonly string[];
}

/**
 * Decides whether a request may reach its route. Gets the request as received, its body
 * and the route; an authorizer of the older `(req, body) => refusal | undefined` form fits.
 */
export type ApiAuthorizer = (req: IncomingMessage, body: Buffer, route: AuthorizedRoute) => AuthorizerDecision | Promise<AuthorizerDecision>;

/** The event the integration receives; `requestContext.authorizer` is absent on public routes. */
export type LocalHttpApiEvent = APIGatewayProxyEventV2 & { readonly requestContext: { readonly authorizer?: AuthorizerContext } };

/** A route as the construct declares it, e.g. `GET /get-url` or `GET /urls/{id}`. */
export interface LocalRoute {
  readonly routeKey: string;
  readonly handler: HttpApiHandler;
  /**
   * This route's authorizer. `null`: a public route (authorization type NONE), even when
   * the server has an `authorize` default. Omitted: the server's `authorize`.
   */
  readonly authorizer?: ApiAuthorizer | null;
  /** Scopes a JWT must carry at least one of (the route's authorizationScopes). */
  readonly authorizationScopes?: readonly string[];
}

export interface LocalHttpApiOptions {
  readonly routes: readonly LocalRoute[];
  /** The authorizer of routes that do not set their own. Omitted: those routes are public. */
  readonly authorize?: ApiAuthorizer;
}

export interface LocalHttpApi {
  readonly url: string;
  close(): Promise<void>;
}

const MAX_PAYLOAD = 10 * 1024 * 1024;

export async function startLocalHttpApi(opts: LocalHttpApiOptions): Promise<LocalHttpApi> {
  const life = new Lifecycle();
  const routes = opts.routes.map((r) => ({ ...r, ...compile(r.routeKey) }));
  let domainName = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      console.error(JSON.stringify({ level: 'error', component: 'local-http-api', message: err.message }));
      if (!res.headersSent) send(res, 500, { message: 'Internal Server Error' });
    });
  });
  life.track(server);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const rawQueryString = q < 0 ? '' : rawUrl.slice(q + 1);
    const method = req.method ?? 'GET';
    const body = await readBody(req, MAX_PAYLOAD);

    const match = routes.map((r) => ({ route: r, params: r.method === method ? r.match(rawPath) : undefined })).find((m) => m.params);
    if (!match) return send(res, 404, { message: 'Not Found' });
    const route = match.route;
    const authorizer = route.authorizer === undefined ? opts.authorize : route.authorizer ?? undefined;
    const decision = authorizer
      ? await authorizer(req, body, { routeKey: route.routeKey, authorizationScopes: route.authorizationScopes ?? [] })
      : undefined;
    if (decision && 'status' in decision) return send(res, decision.status, { message: decision.message }, decision.headers);

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const queryStringParameters: Record<string, string> = {};
    for (const [name, value] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
    }
    const now = new Date();
    const isText = /json|text|xml|form-urlencoded/.test(headers['content-type'] ?? '') || body.length === 0;
    const event: LocalHttpApiEvent = {
      version: '2.0',
      routeKey: match.route.routeKey,
      rawPath,
      rawQueryString,
      headers,
      queryStringParameters: rawQueryString ? queryStringParameters : undefined,
      pathParameters: Object.keys(match.params!).length ? match.params : undefined,
      requestContext: {
        accountId: '123456789012',
        ...(decision ? { authorizer: decision.authorizer } : {}),
        apiId: 'local',
        domainName,
        domainPrefix: 'local',
        http: { method, path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? LOCAL_HOST, userAgent: headers['user-agent'] ?? '' },
        requestId: randomUUID(),
        routeKey: match.route.routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      body: body.length ? (isText ? body.toString('utf8') : body.toString('base64')) : undefined,
      isBase64Encoded: body.length > 0 && !isText,
    };
    const result = await match.route.handler(event);
    const responseBody = result.body ?? '';
    const bytes = result.isBase64Encoded ? Buffer.from(responseBody, 'base64') : Buffer.from(responseBody, 'utf8');
    res.writeHead(result.statusCode ?? 200, { ...(result.headers as Record<string, string>), 'content-length': bytes.length });
    res.end(bytes);
  }

  const port = await listenLocal(server);
  domainName = `${LOCAL_HOST}:${port}`;
  return { url: `http://${domainName}`, close: () => closeServer(server, life) };
}

function compile(routeKey: string): { method: string; match: (path: string) => Record<string, string> | undefined } {
  const [method, template] = routeKey.split(' ');
  const names: string[] = [];
  const pattern = new RegExp('^' + template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  }) + '$');
  return {
    method,
    match: (path) => {
      const m = pattern.exec(path);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => { params[name] = decodeURIComponent(m[i + 1]); });
      return params;
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
