// A rank of a loopback process group as a child process: started with torchrun's variables and one thread, its
// output collected, its last stdout line read as its JSON result.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function start(command: string, args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(command, args, { env: { ...process.env, OMP_NUM_THREADS: '1', CATFACE_THREADS: '1', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<Ran>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function rankEnv(port: number, rank: number, world = 2): Record<string, string> {
  return { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank) };
}

export function lastJson(ran: Ran, who: string): Record<string, unknown> {
  assert.equal(ran.code, 0, `${who} exited with ${ran.code ?? ran.signal}: ${ran.stderr.slice(-2000)}`);
  return JSON.parse(ran.stdout.trim().split('\n').at(-1) as string);
}
