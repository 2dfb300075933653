// Bearer tokens for the write endpoints (enrol, create, delete). Tokens come from CATFACE_TOKENS
// (comma-separated) or a file (one per line, `--token-file` / CATFACE_TOKEN_FILE). With none configured
// every write is refused (403): a gallery is never open to anyone by accident.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export class TokenAuth {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.filter((t) => t.length > 0).map(digest);
  }

  /** Tokens from the environment and/or a file (missing file: a clear error). */
  static fromEnvironment(env: NodeJS.ProcessEnv, tokenFile?: string): TokenAuth {
    const tokens = (env.CATFACE_TOKENS ?? '').split(',').map((t) => t.trim());
    const file = tokenFile ?? env.CATFACE_TOKEN_FILE;
    if (file) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`${file}: cannot read the token file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      tokens.push(
        ...text
          .split('\n')
          .map((t) => t.trim())
          .filter((t) => t && !t.startsWith('#')),
      );
    }
    return new TokenAuth(tokens);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Throws 401 (no or malformed credentials) or 403 (wrong token, or writes disabled). */
  check(request: FastifyRequest): void {
    if (!this.enabled)
      throw new ApiError(403, 'writes_disabled', 'writes are disabled: start the service with CATFACE_TOKENS or --token-file');
    const header = request.headers.authorization;
    if (!header) throw new ApiError(401, 'unauthorized', 'this endpoint needs "Authorization: Bearer <token>"');
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
    if (!match) throw new ApiError(401, 'unauthorized', 'malformed Authorization header: expected "Bearer <token>"');
    const given = digest(match[1]);
    // Compare digests in constant time, against every token, so timing says nothing about which one is close.
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new ApiError(403, 'forbidden', 'the token is not valid');
  }
}
