// Runnable stand-in: `node dist/lab/apiserver/main.js [--port N] [--host H] [--kubeconfig PATH]
// [--no-seed]`. Prints the URL on stdout once listening; exits 0 on SIGTERM/SIGINT after closing
// every connection. --no-seed starts without the namespaces a fresh cluster has (default, kube-system, ...).
import { parseArgs } from 'node:util';
import { writeKubeconfig } from '../kubeconfig.js';
import { startApiServer } from './server.js';

const USAGE = 'usage: main.js [--port N] [--host ADDR] [--kubeconfig PATH] [--no-seed]';

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        kubeconfig: { type: 'string' },
        'no-seed': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`invalid --port "${values.port}": must be an integer 0-65535\n${USAGE}\n`);
    process.exit(2);
  }
  const server = await startApiServer({ port, host: values.host, ...(values['no-seed'] ? { namespaces: [] } : {}) });
  if (values.kubeconfig) await writeKubeconfig(values.kubeconfig, server.url);
  process.stdout.write(`${server.url}\n`);
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(4),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`apiserver: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(e && typeof e === 'object' && 'code' in e && e.code === 'EADDRINUSE' ? 3 : 4);
});
