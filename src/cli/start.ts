import type { Command } from 'commander';
import { loadResources } from '../resources/index.js';
import { createSluiceKinds } from '../kinds.js';
import { createLogger } from '../observability/logger.js';
import { SluiceServer } from '../server/sluice-server.js';
import { parseByteSize, parseDurationFlag, parseLogLevel, parsePort, parsePositiveInt } from './options.js';
import { ConfigFileError } from '../errors.js';

interface StartFlags {
  file: string[];
  port: string;
  adminPort: string;
  host: string;
  adminHost: string;
  dataDir: string;
  logLevel: string;
  maxBody: string;
  drainTimeout: string;
  channelCapacity: string;
  publicUrl?: string;
  strict?: boolean;
  logFormat?: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the broker with the resources in the given YAML files or folders')
    .option('-f, --file <path>', 'YAML file or folder of resources (repeatable; folders are read recursively)', collect, [])
    .option('--port <port>', 'public ingress port (channels, brokers, sources)', '8080')
    .option('--admin-port <port>', 'admin port (health, readiness, metrics, resource API)', '9090')
    .option('--host <host>', 'address the ingress listens on', '0.0.0.0')
    .option('--admin-host <host>', 'address the admin port listens on (keep it private)', '127.0.0.1')
    .option('--public-url <url>', 'base URL others use to reach the ingress (default http://<host>:<port>)')
    .option('--data-dir <dir>', 'folder for state Sluice keeps across restarts', './.sluice')
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent', 'info')
    .option('--log-format <format>', 'json or pretty (default: pretty on a terminal, json otherwise)')
    .option('--max-body <size>', 'largest request body accepted; 413 beyond (e.g. 1MiB)', '1MiB')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long to keep delivering accepted events', '30s')
    .option('--channel-capacity <n>', 'events an InMemoryChannel holds before answering 429', '10000')
    .option('--strict', 'exit when any resource document is invalid instead of serving the valid ones')
    .action(async (flags: StartFlags) => {
      process.exitCode = await start(flags);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function start(flags: StartFlags): Promise<number> {
  const logger = createLogger({
    level: parseLogLevel(flags.logLevel),
    ...(flags.logFormat ? { pretty: flags.logFormat === 'pretty' } : {}),
  });
  const port = parsePort(flags.port, '--port');
  const adminPort = parsePort(flags.adminPort, '--admin-port');
  const maxBodyBytes = parseByteSize(flags.maxBody);
  const drainTimeoutMs = parseDurationFlag(flags.drainTimeout, '--drain-timeout');
  const channelCapacity = parsePositiveInt(flags.channelCapacity, '--channel-capacity');
  if (flags.file.length === 0) throw new ConfigFileError('no resources given: pass -f <file-or-folder> (e.g. sluice start -f config/)');

  const loaded = await loadResources(flags.file, { registry: createSluiceKinds() });
  for (const e of loaded.errors) process.stderr.write(`error: ${e.message}\n`);
  if (loaded.errors.length && (flags.strict || loaded.resources.length === 0)) {
    process.stderr.write(`sluice: ${loaded.errors.length} invalid resource document(s); nothing started\n`);
    return 1;
  }

  const server = new SluiceServer({
    logger,
    port,
    adminPort,
    host: flags.host,
    adminHost: flags.adminHost,
    ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
    maxBodyBytes,
    drainTimeoutMs,
    channelCapacity,
    defaultMetrics: true,
  });
  await server.listen();
  server.runtime.recordInvalid(loaded.errors);
  await server.runtime.apply(loaded.resources, loaded.secrets);

  logger.info({ ingress: server.ingressUrl, admin: server.adminUrl }, 'sluice is running');
  for (const r of server.runtime.listResources()) {
    const st = r.status as { address?: { url?: string }; conditions?: Array<{ status: string; reason?: string; message?: string }> };
    const ready = st.conditions?.[0];
    if (st.address?.url) logger.info(`${r.kind} ${r.metadata.namespace}/${r.metadata.name}: send events with POST ${st.address.url}`);
    else if (ready && ready.status !== 'True') logger.warn(`${r.kind} ${r.metadata.namespace}/${r.metadata.name} is not ready: ${ready.reason}${ready.message ? ': ' + ready.message : ''}`);
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down: draining accepted events');
      server.close().then(resolve, (err) => {
        logger.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  logger.info('stopped');
  logger.flush?.();
  return 0;
}
