import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { InvalidOptionError } from '../../errors.js';
import type { ChannelBackendModule } from '../backend-module.js';
import { KNATIVE_MESSAGING_V1ALPHA1, NATS_JETSTREAM_CHANNEL_KIND } from './nats-channel-spec.js';
import { createNatsChannelFactory, NatsConnectionManager, type NatsConnectionOptions } from './index.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** Where NatsJetStreamChannels live (`--nats-url` and friends); servers default to DEFAULT_NATS_URL. */
export type NatsBackendOptions = Omit<NatsConnectionOptions, 'logger' | 'servers'> & { servers?: string | string[] };

/** commander's values of the `--nats-*` flags. */
interface NatsFlags {
  natsUrl?: string;
  natsCreds?: string;
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

/** NatsJetStreamChannel: NATS with JetStream, `--nats-*`. */
export const natsBackend: ChannelBackendModule<NatsBackendOptions, 'nats'> = {
  name: 'nats',
  kind: NATS_JETSTREAM_CHANNEL_KIND,
  template: { apiVersion: KNATIVE_MESSAGING_V1ALPHA1, kind: NATS_JETSTREAM_CHANNEL_KIND },
  flags: [
    { flags: '--nats-url <urls>', description: 'NATS server(s) of NatsJetStreamChannels, comma-separated; dialled only when such a channel exists', env: 'SLUICE_NATS_URL', default: DEFAULT_NATS_URL },
    { flags: '--nats-creds <file>', description: 'NATS credentials file (JWT and nkey seed)', env: 'SLUICE_NATS_CREDS' },
    { flags: '--nats-token <token>', description: 'NATS authentication token', env: 'SLUICE_NATS_TOKEN' },
    { flags: '--nats-user <user>', description: 'NATS user name (with --nats-password)', env: 'SLUICE_NATS_USER' },
    { flags: '--nats-password <password>', description: 'NATS password', env: 'SLUICE_NATS_PASSWORD' },
    { flags: '--nats-tls-ca <file>', description: 'CA certificate(s) to verify the NATS server with (turns TLS on)', env: 'SLUICE_NATS_TLS_CA' },
    { flags: '--nats-tls-cert <file>', description: 'client certificate for NATS TLS (with --nats-tls-key)', env: 'SLUICE_NATS_TLS_CERT' },
    { flags: '--nats-tls-key <file>', description: 'client key for NATS TLS', env: 'SLUICE_NATS_TLS_KEY' },
  ],

  options(values) {
    const flags = values as NatsFlags;
    const servers = (flags.natsUrl ?? DEFAULT_NATS_URL).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (servers.length === 0) throw new InvalidOptionError('--nats-url: give at least one server, e.g. nats://127.0.0.1:4222');
    for (const s of servers) {
      const scheme = /^([a-z]+):\/\//i.exec(s)?.[1]?.toLowerCase();
      if (scheme !== undefined && !['nats', 'tls'].includes(scheme)) throw new InvalidOptionError(`--nats-url: ${JSON.stringify(s)} must be nats://host:port or tls://host:port`);
    }
    if (flags.natsToken && (flags.natsUser || flags.natsCreds)) throw new InvalidOptionError('--nats-token cannot be combined with --nats-user or --nats-creds');
    if (flags.natsPassword && !flags.natsUser) throw new InvalidOptionError('--nats-password needs --nats-user');
    if (flags.natsTlsCert && !flags.natsTlsKey) throw new InvalidOptionError('--nats-tls-cert needs --nats-tls-key');
    if (flags.natsTlsKey && !flags.natsTlsCert) throw new InvalidOptionError('--nats-tls-key needs --nats-tls-cert');
    for (const [name, file] of [['--nats-creds', flags.natsCreds], ['--nats-tls-ca', flags.natsTlsCa], ['--nats-tls-cert', flags.natsTlsCert], ['--nats-tls-key', flags.natsTlsKey]] as const) {
      if (file) readable(name, file);
    }
    const o: NatsBackendOptions = { servers };
    if (flags.natsCreds) o.credsFile = flags.natsCreds;
    if (flags.natsToken) o.token = flags.natsToken;
    if (flags.natsUser) o.user = flags.natsUser;
    if (flags.natsPassword !== undefined) o.pass = flags.natsPassword;
    if (flags.natsTlsCa || flags.natsTlsCert) {
      o.tls = {
        ...(flags.natsTlsCa ? { caFile: flags.natsTlsCa } : {}),
        ...(flags.natsTlsCert ? { certFile: flags.natsTlsCert } : {}),
        ...(flags.natsTlsKey ? { keyFile: flags.natsTlsKey } : {}),
      };
    }
    return o;
  },

  connect(options, common) {
    // No I/O here: NatsConnectionManager dials only when the first channel calls connect().
    const connection = new NatsConnectionManager({
      name: `sluice ${hostname()}:${process.pid}`,
      ...options,
      servers: options?.servers ?? DEFAULT_NATS_URL,
      ...(common.logger ? { logger: common.logger } : {}),
    });
    return { factory: createNatsChannelFactory(connection, common), close: () => connection.close(), connection: () => connection };
  },
};

function readable(flag: string, file: string): void {
  try {
    readFileSync(file);
  } catch (err) {
    throw new InvalidOptionError(`${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
