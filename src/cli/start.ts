import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { loadResources } from '../resources/index.js';
import { createSluiceKinds } from '../kinds.js';
import { createLogger } from '../observability/logger.js';
import { ContainerSupport, parseContainerRuntimeChoice } from '../container/index.js';
import { SluiceServer } from '../server/sluice-server.js';
import { parseByteSize, parseDurationFlag, parseLogLevel, parsePort, parsePositiveInt } from './options.js';
import { InvalidOptionError } from '../errors.js';
import { addBackendFlags, backendSettings, type BackendFlags } from './backend-flags.js';
import { loadKubeConfig } from '../sources/apiserver/kubeconfig.js';
import { resolveOtlpTracesUrl } from '../observability/otlp-endpoint.js';
import { loadTracing } from '../observability/tracing.js';

interface StartFlags extends BackendFlags {
  file: string[];
  port: string;
  adminPort: string;
  host: string;
  adminHost: string;
  adminAllowedHosts: string[];
  dataDir: string;
  logLevel: string;
  maxBody: string;
  headerTimeout: string;
  requestTimeout: string;
  idleTimeout: string;
  keepAliveTimeout: string;
  maxConnections?: string;
  drainTimeout: string;
  channelCapacity: string;
  channelCapacityBytes: string;
  maxBufferedBytes?: string;
  publicUrl?: string;
  kubeconfig?: string;
  strict?: boolean;
  logFormat?: string;
  adminToken?: string;
  adminTlsCert?: string;
  adminTlsKey?: string;
  watch: boolean;
  otlpEndpoint?: string;
  containerRuntime: string;
  /** Undefined unless --delivery-thread or --no-delivery-thread was given: the dispatcher decides by cores. */
  deliveryThread?: boolean;
}

export function registerStart(program: Command): void {
  const command = program
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
    .option('--header-timeout <duration>', 'ingress: time a client has to send a request\'s headers; 408 and closed beyond (0: none)', '10s')
    .option('--request-timeout <duration>', 'ingress: time a client has to send a whole request, headers and body; 408 and closed beyond (0: none)', '30s')
    .option('--idle-timeout <duration>', 'ingress: close a connection with no bytes moving for this long (service routes exempt; 0: none)', '60s')
    .option('--keep-alive-timeout <duration>', 'ingress: how long an idle keep-alive connection stays open between requests', '65s')
    .option('--max-connections <n>', 'ingress: open connections at most; new ones beyond are closed at once (default 10000, or half the open-file limit when lower)')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, how long to keep delivering accepted events', '30s')
    .option('--channel-capacity <n>', 'events an InMemoryChannel holds before answering 429', '10000')
    .option('--channel-capacity-bytes <size>', 'bytes an InMemoryChannel holds before answering 429 (spec.capacityBytes overrides it)', '64MiB')
    .option('--max-buffered-bytes <size>', 'bytes all in-memory channels together hold before ingress answers 429 (default: a quarter of the V8 heap limit)')
    .option('--kubeconfig <file>', 'Kubernetes config for ApiServerSources and Deployment sinks (default: KUBECONFIG, else in-cluster)')
    .option('--strict', 'exit when any resource document is invalid instead of serving the valid ones')
    .option('--no-watch', 'do not re-apply the -f files and folders when they change')
    .option('--otlp-endpoint <url>', 'OTLP/HTTP collector to export trace spans to, e.g. http://otel-collector:4318 (default: OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; none: no spans)')
    .option('--admin-allowed-hosts <names>', 'more names (comma-separated, repeatable) the admin port answers as Host besides loopback and --admin-host, e.g. a Service name; other Hosts get 403 (DNS rebinding)', collectList, [])
    .option('--container-runtime <runtime>', 'how Services and ContainerSources with an image run: docker, podman, auto (the first that works) or none', 'auto')
    .option('--admin-tls-cert <file>', 'serve the admin port over HTTPS with this PEM certificate (with --admin-tls-key); kubectl sends a kubeconfig token only over TLS')
    .option('--admin-tls-key <file>', 'the PEM private key of --admin-tls-cert')
    // --delivery-thread first: with both defined, commander leaves the value undefined unless one is given.
    .option('--delivery-thread', 'POST to subscribers from a delivery thread of their own (the default on machines with 3 cores or more)')
    .option('--no-delivery-thread', 'POST to subscribers from the main thread (the default on 1 or 2 cores)')
    .addOption(new Option('--admin-token <token>', 'bearer token the admin API (/api/...) requires; /healthz, /readyz and /metrics stay open').env('SLUICE_ADMIN_TOKEN'))
    .action(async (flags: StartFlags, cmd: Command) => {
      // An empty SLUICE_ADMIN_TOKEN means "unset"; an empty --admin-token is a mistake.
      if (flags.adminToken === '') {
        if (cmd.getOptionValueSource('adminToken') === 'env') delete flags.adminToken;
        else throw new InvalidOptionError('--admin-token: the token must not be empty');
      }
      process.exitCode = await start(flags);
    });
  addBackendFlags(command);
}

/** `--admin-tls-cert` and `--admin-tls-key`, both or neither, read now so a bad path stops the start naming the flag. */
function adminTlsOf(flags: StartFlags): { adminTls?: { cert: Buffer; key: Buffer } } {
  if (!flags.adminTlsCert && !flags.adminTlsKey) return {};
  if (!flags.adminTlsCert || !flags.adminTlsKey) throw new InvalidOptionError(flags.adminTlsCert ? '--admin-tls-cert needs --admin-tls-key' : '--admin-tls-key needs --admin-tls-cert');
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new InvalidOptionError(`${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  return { adminTls: { cert: read(flags.adminTlsCert, '--admin-tls-cert'), key: read(flags.adminTlsKey, '--admin-tls-key') } };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function positiveSize(text: string, flag: string): number {
  let n: number;
  try {
    n = parseByteSize(text);
  } catch (err) {
    throw new InvalidOptionError(`${flag}: ${(err as Error).message}`, { cause: err });
  }
  if (n < 1) throw new InvalidOptionError(`${flag}: the size must be at least 1 byte`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A repeatable flag whose values may also be comma-separated. */
function collectList(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

async function start(flags: StartFlags): Promise<number> {
  const logger = createLogger({
    level: parseLogLevel(flags.logLevel),
    ...(flags.logFormat ? { pretty: flags.logFormat === 'pretty' } : {}),
  });
  const port = parsePort(flags.port, '--port');
  const adminPort = parsePort(flags.adminPort, '--admin-port');
  const maxBodyBytes = parseByteSize(flags.maxBody);
  const ingressLimits = {
    headersTimeoutMs: parseDurationFlag(flags.headerTimeout, '--header-timeout'),
    requestTimeoutMs: parseDurationFlag(flags.requestTimeout, '--request-timeout'),
    idleTimeoutMs: parseDurationFlag(flags.idleTimeout, '--idle-timeout'),
    keepAliveTimeoutMs: parseDurationFlag(flags.keepAliveTimeout, '--keep-alive-timeout'),
    ...(flags.maxConnections !== undefined ? { maxConnections: parsePositiveInt(flags.maxConnections, '--max-connections') } : {}),
  };
  if (ingressLimits.headersTimeoutMs > 0 && ingressLimits.requestTimeoutMs > 0 && ingressLimits.headersTimeoutMs > ingressLimits.requestTimeoutMs) {
    throw new InvalidOptionError(`--header-timeout (${flags.headerTimeout}) must not be longer than --request-timeout (${flags.requestTimeout})`);
  }
  if (ingressLimits.keepAliveTimeoutMs === 0) throw new InvalidOptionError('--keep-alive-timeout: must be more than 0');
  const adminTls = adminTlsOf(flags);
  const drainTimeoutMs = parseDurationFlag(flags.drainTimeout, '--drain-timeout');
  const channelCapacity = parsePositiveInt(flags.channelCapacity, '--channel-capacity');
  const channelCapacityBytes = positiveSize(flags.channelCapacityBytes, '--channel-capacity-bytes');
  const maxBufferedBytes = flags.maxBufferedBytes === undefined ? undefined : positiveSize(flags.maxBufferedBytes, '--max-buffered-bytes');
  const otlpTracesUrl = resolveOtlpTracesUrl(flags.otlpEndpoint);
  const containerRuntime = parseContainerRuntimeChoice(flags.containerRuntime);

  const backends = backendSettings(flags);
  const loaded = await loadResources(flags.file, { registry: createSluiceKinds(), defaultChannelTemplate: backends.defaultChannelTemplate });
  for (const e of loaded.errors) process.stderr.write(`error: ${e.message}\n`);
  if (loaded.errors.length && (flags.strict || loaded.resources.length === 0)) {
    process.stderr.write(`sluice: ${loaded.errors.length} invalid resource document(s); nothing started\n`);
    return 1;
  }

  // Listen for signals before starting anything: a SIGTERM that arrives while resources
  // are still being applied must still end in a graceful drain and exit 0, not a kill.
  const stopRequested = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const containers = new ContainerSupport({
    choice: containerRuntime,
    logger,
    // A bridged container reaches the host's gateway address, where an ingress bound to loopback does not listen.
    network: isLoopback(flags.host) ? 'host' : 'bridge',
  });
  // A runtime named on the command line must work: say so now, not at the first Service.
  // With auto, detection (and the removal of a killed Sluice's leftover containers) runs meanwhile.
  const detecting = containerRuntime === 'none' ? undefined : containers.runtime();
  if (containerRuntime === 'docker' || containerRuntime === 'podman') {
    const d = await detecting!;
    if (!d.runtime) {
      process.stderr.write(`sluice: ${d.reason}\n`);
      return 1;
    }
  }
  const server = new SluiceServer({
    logger,
    port,
    adminPort,
    host: flags.host,
    adminHost: flags.adminHost,
    ...(flags.adminAllowedHosts.length ? { adminAllowedHosts: flags.adminAllowedHosts } : {}),
    ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
    ...(flags.kubeconfig ? { kubeconfigPath: flags.kubeconfig, kubeConfig: () => loadKubeConfig({ kubeconfigPath: flags.kubeconfig }) } : {}),
    maxBodyBytes,
    ingressLimits,
    drainTimeoutMs,
    channelCapacity,
    channelCapacityBytes,
    ...(maxBufferedBytes !== undefined ? { maxBufferedBytes } : {}),
    ...backends, // defaultChannelTemplate and each durable backend's options
    defaultMetrics: true,
    tracing: await loadTracing({ otlpTracesUrl, logger }),
    dataDir: flags.dataDir,
    ...(flags.adminToken !== undefined ? { adminToken: flags.adminToken } : {}),
    ...adminTls,
    containers,
    ...(flags.deliveryThread !== undefined ? { deliveryThread: flags.deliveryThread } : {}),
  });
  await server.listen();
  server.runtime.recordInvalid(loaded.errors);
  // The -f files plus what `sluice apply` saved under --data-dir; the files are watched.
  await server.liveConfig.start({ paths: flags.file, initial: loaded, watch: flags.watch });
  if (flags.file.length === 0) logger.info('no -f files given: serving what the admin API applied (add resources with `sluice apply -f <file>`)');
  if (flags.adminToken !== undefined && !flags.adminTlsCert) {
    logger.info('kubectl sends a kubeconfig token only over TLS: to use kubectl with --admin-token, add --admin-tls-cert and --admin-tls-key');
  }
  if (flags.adminToken === undefined && !isLoopback(flags.adminHost)) {
    logger.warn(`the admin API listens on ${flags.adminHost} without a token: anyone who reaches it can change resources (set --admin-token)`);
  }

  logger.info({ ingress: server.ingressUrl, admin: server.adminUrl, ...(otlpTracesUrl ? { otlpTracesUrl } : {}) }, 'sluice is running');
  for (const r of server.runtime.listResources()) {
    const st = r.status as { address?: { url?: string }; conditions?: Array<{ status: string; reason?: string; message?: string }> };
    const ready = st.conditions?.[0];
    // A durable channel whose server is unreachable has an address but answers 503: say why instead.
    if (st.address?.url && (!ready || ready.status === 'True')) logger.info(`${r.kind} ${r.metadata.namespace}/${r.metadata.name}: send events with POST ${st.address.url}`);
    else if (ready && ready.status !== 'True') logger.warn(`${r.kind} ${r.metadata.namespace}/${r.metadata.name} is not ready: ${ready.reason}${ready.message ? ': ' + ready.message : ''}`);
  }

  const signal = await stopRequested;
  logger.info({ signal }, 'shutting down: draining accepted events');
  await server.close().catch((err: unknown) => logger.error({ err }, 'shutdown failed'));
  logger.info('stopped');
  logger.flush?.();
  return 0;
}
