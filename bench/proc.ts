// Child processes for the benchmark: captured output, a hard timeout that kills the
// child's whole process group, and no leftovers when the benchmark itself exits.
import { spawn } from 'node:child_process';
import { msSince } from './stats';

export interface ProcResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit, measured by the parent. */
  readonly ms: number;
}

export interface ProcOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
}

const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Runs a command to completion. Never rejects on a non-zero exit. */
export function runProcess(cmd: string, args: readonly string[], opts: ProcOptions): Promise<ProcResult> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const pid of live) killGroup(pid, 'SIGKILL');
    });
  }
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) live.add(child.pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    }, opts.timeoutMs);
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.pid !== undefined) {
        // Grandchildren (npx, esbuild) must not outlive their parent.
        killGroup(child.pid, 'SIGKILL');
        live.delete(child.pid);
      }
      resolve({ code, signal, timedOut, stdout, stderr: error ? `${stderr}\n[spawn error] ${error.message}` : stderr, ms: msSince(started) });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Runs a command and throws with its output unless it exits 0 in time. */
export async function runOk(what: string, cmd: string, args: readonly string[], opts: ProcOptions): Promise<ProcResult> {
  const r = await runProcess(cmd, args, opts);
  if (r.code !== 0 || r.timedOut) {
    const status = r.timedOut ? `timed out after ${(r.ms / 1000).toFixed(1)} s` : `exited with ${r.code ?? r.signal}`;
    throw new Error(`${what} ${status}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`);
  }
  return r;
}

/** The environment for measured child processes: ours, minus anything that changes how node loads code. */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(NODE_OPTIONS|NODE_PATH|TS_NODE_.*|NODE_COMPILE_CACHE)$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
