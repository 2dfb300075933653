// torchrun's environment conventions: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK (and
// LOCAL_WORLD_SIZE), read with errors that name the variable and what was wrong.
export interface RankEnv {
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  localRank: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`distributed: environment variable ${name} is not set (torchrun convention; or pass it to initProcessGroup)`);
  }
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || n < min || n > max)
    throw new RangeError(`distributed: ${name}='${raw}' must be an integer in ${min}…${max}`);
  return n;
}

/** This process's place: RANK, WORLD_SIZE, LOCAL_RANK (`given` takes precedence). */
export function readWorld(env: NodeJS.ProcessEnv = process.env, given: Partial<RankEnv> = {}) {
  const worldSize = given.worldSize ?? integer(env, 'WORLD_SIZE', 1, 1 << 20);
  const rank = given.rank ?? integer(env, 'RANK', 0, worldSize - 1);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new RangeError(`distributed: rank ${rank} is not in a world of ${worldSize} (0…${worldSize - 1})`);
  return { rank, worldSize, localRank: given.localRank ?? integer(env, 'LOCAL_RANK', 0, worldSize - 1, 0) };
}

/** Where rank 0's TCPStore listens: MASTER_ADDR, MASTER_PORT. */
export function readMaster(env: NodeJS.ProcessEnv = process.env) {
  return { masterAddr: env.MASTER_ADDR || failUnset('MASTER_ADDR'), masterPort: integer(env, 'MASTER_PORT', 1, 65535) };
}

/** Every rendezvous variable; `given` takes precedence over the environment. */
export function readRankEnv(env: NodeJS.ProcessEnv = process.env, given: Partial<RankEnv> = {}): RankEnv {
  const master =
    given.masterAddr !== undefined && given.masterPort !== undefined
      ? { masterAddr: given.masterAddr, masterPort: given.masterPort }
      : readMaster(env);
  return { ...master, ...readWorld(env, given) };
}

function failUnset(name: string): never {
  throw new Error(`distributed: environment variable ${name} is not set (torchrun convention; or pass it to initProcessGroup)`);
}
