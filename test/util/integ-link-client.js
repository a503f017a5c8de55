// The client of test/deployed.integ.ts: a Lambda function (inline code, so the snapshot holds it
// whole) that its assertions invoke for what integ-tests-alpha cannot do itself.
// - `mint`: POST /urls, SigV4-signed (service execute-api) with this function's role credentials,
//   which grantMint allows (`maxUses` when given, else 1). httpApiCall sends unsigned requests only.
// - `fetch`: GET a URL and answer a summary. A landing page or S3's SignatureDoesNotMatch body
//   would not fit the 4 KB a custom resource may answer, which is all an httpApiCall answers.
// - `upload-link`: POST /uploads, signed the same way: an upload link for `key`.
// - `put`: PUT `size` bytes (a repeated line) with `contentType` to a URL, as `curl -T` does, and
//   answer its status and message (the edge's plain text).
// - `press`: POST a landing page's form (with `passphrase` in the body when given), as a
//   browser or `curl -d` does, and, on a 303, follow it with the session cookie: answers the
//   press's status and message, and the download's status and body.
// Each answer carries `result`, a JSON string: the assertions match it with objectLike (the
// integ-tests-alpha handler cannot match a bare number).
// test/integ-link-client.test.ts runs it against the local deployment.
'use strict';
const { createHash, createHmac } = require('node:crypto');

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
/** RFC 3986 encoding, as SigV4 wants it. */
const encode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A fetch signed with SigV4 for execute-api, with the credentials Lambda gives the function. */
async function signedFetch(url, method, body) {
  const u = new URL(url);
  const region = process.env.AWS_REGION;
  const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/execute-api/aws4_request`;
  const headers = { 'host': u.host, 'x-amz-date': amzDate };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (process.env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
  const names = Object.keys(headers).sort();
  const query = [...u.searchParams].map(([k, v]) => `${encode(k)}=${encode(v)}`).sort().join('&');
  // Every service but S3 encodes each path segment twice (pathname holds them encoded once).
  const path = u.pathname.split('/').map(encode).join('/');
  const canonical = [method, path, query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), sha256(body ?? '')].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = `AWS4${process.env.AWS_SECRET_ACCESS_KEY}`;
  for (const part of scope.split('/')) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  sent.authorization = `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return fetch(url, { method, headers: sent, body });
}

/** A signed POST to the links API: its status and its JSON answer (or the start of its text). */
async function post(path, body) {
  const res = await signedFetch(`${process.env.MINT_API}${path}`, 'POST', JSON.stringify(body));
  const text = await res.text();
  try {
    return { status: res.status, answer: JSON.parse(text) };
  } catch {
    return { status: res.status, answer: { text: text.slice(0, 500) } };
  }
}

async function mint(event) {
  const { status, answer } = await post('/urls', {
    key: event.key, maxUses: event.maxUses ?? 1, downloadWindowSeconds: 0,
    // A protected link is always a landing page: the API refuses landingPage false with a passphrase.
    ...(event.passphrase === undefined ? { landingPage: event.landingPage === true } : { passphrase: event.passphrase }),
  });
  const url = status === 201 ? answer.url : '';
  // The same path and query, sent straight to the bucket instead of the distribution.
  const directUrl = url ? `${process.env.BUCKET_ORIGIN}${new URL(url).pathname}${new URL(url).search}` : '';
  return { url, id: answer.id ?? '', directUrl, result: JSON.stringify({ status, ...answer }) };
}

async function fetchSummary(event) {
  const res = await fetch(event.url, { headers: event.headers ?? {} });
  const text = await res.text();
  const summary = { status: res.status, contentType: res.headers.get('content-type') ?? '' };
  const title = /<title>([^<]*)<\/title>/.exec(text);
  if (title) summary.title = title[1];
  const code = /<Code>([^<]*)<\/Code>/.exec(text);
  if (code) summary.code = code[1];
  return { result: JSON.stringify(summary) };
}

async function press(event) {
  const body = event.passphrase === undefined ? '' : new URLSearchParams({ passphrase: event.passphrase }).toString();
  const res = await fetch(event.url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const summary = { status: res.status, message: (await res.text()).slice(0, 300) };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  if (res.status === 303 && cookie) {
    const download = await fetch(new URL(res.headers.get('location'), event.url), { headers: { cookie } });
    summary.download = { status: download.status, body: (await download.text()).slice(0, 1000) };
  }
  return { result: JSON.stringify(summary) };
}

async function uploadLink(event) {
  const { status, answer } = await post('/uploads', { key: event.key });
  return { url: status === 201 ? answer.url : '', id: answer.id ?? '', result: JSON.stringify({ status, ...answer }) };
}

async function put(event) {
  const line = 'These bytes were uploaded once through a one-time upload link.\n';
  const body = line.repeat(Math.ceil(event.size / line.length)).slice(0, event.size);
  const res = await fetch(event.url, { method: 'PUT', headers: { 'content-type': event.contentType ?? 'text/plain' }, body });
  return { result: JSON.stringify({ status: res.status, message: (await res.text()).slice(0, 300) }) };
}

exports.handler = async (event) => {
  if (event.action === 'mint') return mint(event);
  if (event.action === 'upload-link') return uploadLink(event);
  if (event.action === 'put') return put(event);
  if (event.action === 'fetch') return fetchSummary(event);
  if (event.action === 'press') return press(event);
  throw new Error(`unknown action ${event.action}`);
};
