// The kubelet plugin's durable record of prepared claims: <data-dir>/dra-prepared.json, written
// whole on every change (temp file, fsync, rename, fsync the directory), so a claim prepared before
// an agent restart is still known after it (the kubelet does not prepare it again, and the CNI ADD
// that follows reads it). Writes are serialised; readers see the latest committed state.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PreparedClaim } from '../../lib/dra/claim.js';

interface PreparedFile {
  apiVersion: 'v1';
  kind: 'PreparedClaims';
  claims: PreparedClaim[];
}

export class PreparedClaims {
  private readonly claims = new Map<string, PreparedClaim>();
  private writes: Promise<void> = Promise.resolve();

  private constructor(private readonly path: string, private readonly fsync: boolean) {}

  /** Opens (or creates on first write) the record at `path`. A corrupt file is an error, not an empty record. */
  static async open(path: string, opts: { fsync?: boolean } = {}): Promise<PreparedClaims> {
    const p = new PreparedClaims(path, opts.fsync ?? true);
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text !== undefined) {
      let body: PreparedFile;
      try {
        body = JSON.parse(text) as PreparedFile;
      } catch (e) {
        throw new Error(`failed to read prepared DRA claims "${path}": ${(e as Error).message}; move it aside to start with none (the kubelet prepares its claims again)`, { cause: e });
      }
      if (body.kind !== 'PreparedClaims' || !Array.isArray(body.claims)) throw new Error(`failed to read prepared DRA claims "${path}": not a PreparedClaims file`);
      for (const c of body.claims) p.claims.set(c.uid, c);
    }
    return p;
  }

  get(uid: string): PreparedClaim | undefined {
    return this.claims.get(uid);
  }

  all(): PreparedClaim[] {
    return [...this.claims.values()];
  }

  /** The prepared claims reserved for a pod, by pod UID. */
  forPod(podUid: string): PreparedClaim[] {
    return this.all().filter((c) => c.pods.some((p) => p.uid === podUid));
  }

  /** Records a prepared claim; resolves once it is on disk. */
  put(c: PreparedClaim): Promise<void> {
    this.claims.set(c.uid, c);
    return this.persist();
  }

  /** Forgets a claim; resolves true when it was known (false: already gone, nothing written). */
  async remove(uid: string): Promise<boolean> {
    if (!this.claims.delete(uid)) return false;
    await this.persist();
    return true;
  }

  private persist(): Promise<void> {
    const next = this.writes.then(() => this.write());
    this.writes = next.catch(() => undefined);
    return next;
  }

  private async write(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const body: PreparedFile = { apiVersion: 'v1', kind: 'PreparedClaims', claims: this.all().sort((a, b) => a.uid.localeCompare(b.uid)) };
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(body, null, 2)}\n`);
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    if (this.fsync) {
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
  }
}
