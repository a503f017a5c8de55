// `npm run demo`: starts `npm run local`'s program as a child process, reads its JSON
// line, and walks through the one-time flow over HTTP, as a user's client would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { callApi } from './api-client';

interface LocalInfo {
  apiUrl: string;
  distributionUrl: string;
  originUrl: string;
  originHost: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin'), '--transpile-only', '-P', join(__dirname, '..', 'tsconfig.dev.json'), join(__dirname, 'cli.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  const exited = once(child, 'exit');
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const local = JSON.parse(line) as LocalInfo;
    say(`local deployment up: mint API ${local.apiUrl}, distribution ${local.distributionUrl}`);

    const s3 = new S3Client({
      region: local.region,
      endpoint: local.originUrl,
      forcePathStyle: true,
      credentials: { accessKeyId: local.accessKeyId, secretAccessKey: local.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const content = `Quarterly numbers, for your eyes only (${new Date().toISOString()})\n`;
    await s3.send(new PutObjectCommand({ Bucket: local.bucket, Key: 'reports/q4.txt', Body: content }));
    s3.destroy();
    say(`1. uploaded s3://${local.bucket}/reports/q4.txt (${content.length} bytes)`);

    const minted = await callApi(`${local.apiUrl}/get-url?key=reports%2Fq4.txt`, local.region, local);
    if (minted.status !== 200) throw new Error(`mint failed: ${minted.status} ${minted.body}`);
    const { url, expiresAt } = minted.json<{ url: string; expiresAt: string }>();
    say(`2. minted a one-time link (SigV4-signed call), valid until ${expiresAt}:\n   ${url}`);

    const first = await fetch(url);
    const firstBody = await first.text();
    say(`3. first download:  ${first.status} ${firstBody === content ? '(exact bytes)' : '(UNEXPECTED BODY)'}`);
    // A use is a download session of the client that started it (resumes and retries
    // continue it for 30 minutes); anyone else holding the link is refused.
    const second = await fetch(url, { headers: { 'user-agent': 'someone-else/1.0' } });
    say(`4. the link from someone else: ${second.status} "${(await second.text()).trim()}"`);

    // The bypass: the same URL straight at the bucket's regional host, skipping CloudFront.
    const { pathname, search } = new URL(url);
    const direct = await fetch(`${local.originUrl}/${local.bucket}${pathname}${search}`);
    const code = /<Code>([^<]+)<\/Code>/.exec(await direct.text())?.[1];
    say(`5. same URL straight at S3: ${direct.status} ${code} (a link is no signature: only the edge's role reads the bucket)`);

    const ok = first.status === 200 && firstBody === content && second.status === 403 && direct.status === 403;
    say(ok ? 'demo: the link worked for its recipient only.' : 'demo: something did not behave as expected.');
    process.exitCode = ok ? 0 : 1;
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`demo: ${err.message}\n`);
  process.exit(1);
});
