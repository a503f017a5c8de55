// The README's TypeScript examples compile against the library as it is. Blocks marked
// with a `<!-- fragment ... -->` comment just above them are excerpts and are skipped.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const OUT = join(ROOT, 'test', '.tmp', 'readme');

function readmeBlocks(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks: string[] = [];
  for (const m of readme.matchAll(/(<!-- fragment[^>]*-->\s*)?```ts\n([\s\S]*?)```/g)) {
    if (!m[1]) blocks.push(m[2]);
  }
  return blocks;
}

describe('README', () => {
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it('has TypeScript examples, and every complete one compiles', () => {
    const blocks = readmeBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const library = relative(OUT, join(ROOT, 'src', 'index')).replace(/\\/g, '/');
    const files = blocks.map((code, i) => {
      const file = join(OUT, `example-${i}.ts`);
      // Each block is its own module, importing the package the way users do.
      writeFileSync(file, `${code.replace(/from 'cdk-one-time-presigned-url'/g, `from '${library}'`)}\nexport {};\n`);
      return file;
    });
    writeFileSync(join(OUT, 'tsconfig.json'), JSON.stringify({
      extends: relative(OUT, join(ROOT, 'tsconfig.dev.json')),
      compilerOptions: { noEmit: true, noUnusedLocals: false, lib: ['es2022', 'dom'] },
      include: files.map((f) => relative(OUT, f)),
    }));
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(OUT, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      throw new Error(`README examples do not compile:\n${(err as { stdout: string }).stdout}`);
    }
  });
});
