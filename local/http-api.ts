// A local API Gateway HTTP API: routes requests to the real mint handler with the
// HTTP API payload format 2.0 event.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { closeServer, Lifecycle, listenLocal, LOCAL_HOST, readBody } from './servers/common';

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route as the construct declares it, e.g. `GET /get-url` or `GET /urls/{id}`. */
export interface LocalRoute {
  readonly routeKey: string;
  readonly handler: HttpApiHandler;
}

export interface LocalHttpApiOptions {
  readonly routes: readonly LocalRoute[];
  /**
   * Decides whether a request may reach its route (the route's authorizer). Returns an
   * error status and message to refuse it.
   */
  readonly authorize?: (req: IncomingMessage, body: Buffer) => { status: number; message: string } | undefined;
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
    const refusal = opts.authorize?.(req, body);
    if (refusal) return send(res, refusal.status, { message: refusal.message });

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
    const event: APIGatewayProxyEventV2 = {
      version: '2.0',
      routeKey: match.route.routeKey,
      rawPath,
      rawQueryString,
      headers,
      queryStringParameters: rawQueryString ? queryStringParameters : undefined,
      pathParameters: Object.keys(match.params!).length ? match.params : undefined,
      requestContext: {
        accountId: '123456789012',
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

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
