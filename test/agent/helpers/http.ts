// A minimal unix-socket HTTP client for tests and benches of the agent (what the CNI does).
import { request, Agent } from 'node:http';

export interface Reply {
  status: number;
  body: unknown;
}

/**
 * One request; without `agent` on a connection of its own, as the CNI makes them. (Node's global agent
 * keeps connections alive, and reusing one just as the agent's keep-alive timeout closes it is a reset
 * that the slow UML guest hit.)
 */
export function call(socketPath: string, method: string, path: string, body?: unknown, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = request({ socketPath, method, path, agent: agent ?? false, headers: text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = raw;
        try {
          parsed = JSON.parse(raw);
        } catch {
          /* keep text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}
