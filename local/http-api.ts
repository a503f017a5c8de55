// A local API Gateway HTTP API: routes requests to the real mint handler with the
// HTTP API payload format 2.0 event, running each route's authorizer first and handing
// the identity it established to the integration at event.requestContext.authorizer
// (payload shape: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
//
// With a CORS configuration it answers browsers as "Configure CORS for HTTP APIs in API
// Gateway" says (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html):
// API Gateway itself answers preflight requests (OPTIONS with Origin and
// Access-Control-Request-Method; no route, authorizer or integration sees them), adds the
// configured CORS headers to the answer of a request whose Origin is allowed, and ignores
// CORS headers the integration returns. A request without Origin, or from an origin not
// configured, gets no CORS headers at all, preflight included (its answer is still 204).
// The page speaks of "the response from an integration"; this emulation also adds the header
// to API Gateway's own answers (an authorizer's 401/403, a 404), which is our reading, not a
// documented promise: a deployed API is the judge (test/local-http-api-cors.test.ts pins it).
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

/** The API's CORS configuration (CorsConfiguration of AWS::ApiGatewayV2::Api). */
export interface LocalCorsConfiguration {
  /** Origins, compared exactly with the request's Origin. */
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  /** Access-Control-Max-Age of preflight answers. Omitted: not sent. */
  readonly maxAgeSeconds?: number;
}

export interface LocalHttpApiOptions {
  readonly routes: readonly LocalRoute[];
  /** The authorizer of routes that do not set their own. Omitted: those routes are public. */
  readonly authorize?: ApiAuthorizer;
  /** CORS, answered by the API itself. Omitted: no CORS (browsers refuse cross-origin calls). */
  readonly cors?: LocalCorsConfiguration;
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

    const origin = opts.cors && typeof req.headers.origin === 'string' && opts.cors.allowOrigins.includes(req.headers.origin)
      ? req.headers.origin
      : undefined;
    if (opts.cors && method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
      return preflight(res, opts.cors, origin);
    }
    const cors: Record<string, string> = origin ? { 'access-control-allow-origin': origin } : {};

    const match = routes.map((r) => ({ route: r, params: r.method === method ? r.match(rawPath) : undefined })).find((m) => m.params);
    if (!match) return send(res, 404, { message: 'Not Found' }, cors);
    const route = match.route;
    const authorizer = route.authorizer === undefined ? opts.authorize : route.authorizer ?? undefined;
    const decision = authorizer
      ? await authorizer(req, body, { routeKey: route.routeKey, authorizationScopes: route.authorizationScopes ?? [] })
      : undefined;
    if (decision && 'status' in decision) return send(res, decision.status, { message: decision.message }, { ...decision.headers, ...cors });

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
    const integrationHeaders = Object.entries(result.headers ?? {})
      // With CORS configured, the integration's own CORS headers are ignored.
      .filter(([name]) => !(opts.cors && name.toLowerCase().startsWith('access-control-')));
    res.writeHead(result.statusCode ?? 200, { ...Object.fromEntries(integrationHeaders), ...cors, 'content-length': bytes.length });
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

/** A preflight request, answered by API Gateway: 204, with the configuration only for an allowed origin. */
function preflight(res: ServerResponse, cors: LocalCorsConfiguration, origin: string | undefined): void {
  res.writeHead(204, origin
    ? {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': cors.allowMethods.join(','),
      'access-control-allow-headers': cors.allowHeaders.join(','),
      ...(cors.maxAgeSeconds === undefined ? {} : { 'access-control-max-age': String(cors.maxAgeSeconds) }),
    }
    : {});
  res.end();
}

function send(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
