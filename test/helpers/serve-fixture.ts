// A running `catface serve` for tests: the tiny model, a gallery in a temporary folder, a known token, a
// free loopback port. In-process (startService) or as a real child process (`catface serve`, for kill -9).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenAuth } from '../../src/serve/http/auth.js';
import { type Service, startService } from '../../src/serve/http/service.js';
import type { PoolOptions } from '../../src/serve/inference-pool.js';
import { writeTinyModel } from './tiny-model.js';

export const TOKEN = 'test-token-0123456789';
export const auth = { authorization: `Bearer ${TOKEN}` };

export interface Fixture {
  work: string;
  modelDir: string;
  galleryFile: string;
  cleanup(): void;
}

export function makeFixture(prefix: string): Fixture {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const modelDir = join(work, 'model');
  writeTinyModel(modelDir);
  return { work, modelDir, galleryFile: join(work, 'gallery.sqlite'), cleanup: () => rmSync(work, { recursive: true, force: true }) };
}

export async function startTestService(
  fixture: Fixture,
  options: { tokens?: string[]; pool?: Partial<PoolOptions>; maxUploadBytes?: number } = {},
): Promise<Service> {
  const service = await startService({
    port: 0,
    galleryFile: fixture.galleryFile,
    auth: new TokenAuth(options.tokens ?? [TOKEN]),
    limits: { maxUploadBytes: options.maxUploadBytes ?? 2 * 1024 * 1024 },
    pool: { modelDir: fixture.modelDir, backend: 'libtorch', recognizer: { maxPixels: 20_000_000 }, ...options.pool },
  });
  await service.ready;
  return service;
}

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** `catface serve` as a child process; resolves with its URL once it prints "ready". */
export async function spawnService(fixture: Fixture): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--model', fixture.modelDir, '--gallery', fixture.galleryFile], {
    env: { ...process.env, CATFACE_TOKENS: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /ready at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`catface serve exited (${code}) before ready:\n${out}\n${err}`)));
  });
  return { child, url };
}

/** A multipart body with the given photos (field → bytes). */
export function form(photos: Record<string, Uint8Array<ArrayBuffer>>, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const [name, bytes] of Object.entries(photos)) body.append(name, new Blob([bytes]), `${name}.jpg`);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  return body;
}

export const readPhoto = (path: string) => new Uint8Array(readFileSync(path));
