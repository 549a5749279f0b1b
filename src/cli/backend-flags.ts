import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DEFAULT_NATS_URL, DEFAULT_REDIS_URL, type NatsBackendOptions, type RedisBackendOptions } from '../channels/durable-backends.js';
import { redisClientOptions } from '../channels/bullmq/index.js';
import { InvalidOptionError } from '../errors.js';
import type { ChannelTemplate } from '../resources/types.js';

/** The flags of `sluice start` that choose and reach the durable channel backends. */
export interface BackendFlags {
  natsUrl?: string;
  natsCreds?: string;
  natsToken?: string;
  natsUser?: string;
  natsPassword?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
  redisUrl?: string;
  redisPassword?: string;
  redisPrefix?: string;
  redisRequireAof?: boolean;
  defaultChannel?: string;
}

/** What `--default-channel` may name, and the template a `Channel` without one then gets. */
export const DEFAULT_CHANNEL_TEMPLATES: Readonly<Record<string, ChannelTemplate>> = {
  InMemoryChannel: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' },
  NatsJetStreamChannel: { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatsJetStreamChannel' },
  RedisChannel: { apiVersion: 'messaging.sluice.dev/v1alpha1', kind: 'RedisChannel' },
};

/**
 * Adds the backend flags to `sluice start`. Each has an environment variable, so that
 * secrets (token, password) need not appear in a process listing.
 */
export function addBackendFlags(command: Command): void {
  const flag = (flags: string, description: string, env: string, defaultValue?: string) => {
    const o = new Option(flags, description).env(env);
    command.addOption(defaultValue === undefined ? o : o.default(defaultValue));
  };
  flag('--nats-url <urls>', 'NATS server(s) of NatsJetStreamChannels, comma-separated; dialled only when such a channel exists', 'SLUICE_NATS_URL', DEFAULT_NATS_URL);
  flag('--nats-creds <file>', 'NATS credentials file (JWT and nkey seed)', 'SLUICE_NATS_CREDS');
  flag('--nats-token <token>', 'NATS authentication token', 'SLUICE_NATS_TOKEN');
  flag('--nats-user <user>', 'NATS user name (with --nats-password)', 'SLUICE_NATS_USER');
  flag('--nats-password <password>', 'NATS password', 'SLUICE_NATS_PASSWORD');
  flag('--nats-tls-ca <file>', 'CA certificate(s) to verify the NATS server with (turns TLS on)', 'SLUICE_NATS_TLS_CA');
  flag('--nats-tls-cert <file>', 'client certificate for NATS TLS (with --nats-tls-key)', 'SLUICE_NATS_TLS_CERT');
  flag('--nats-tls-key <file>', 'client key for NATS TLS', 'SLUICE_NATS_TLS_KEY');
  flag('--redis-url <url>', 'Redis server of RedisChannels (redis:// or rediss:// for TLS); dialled only when such a channel exists', 'SLUICE_REDIS_URL', DEFAULT_REDIS_URL);
  flag('--redis-password <password>', 'Redis password (instead of putting it in --redis-url)', 'SLUICE_REDIS_PASSWORD');
  flag('--redis-prefix <prefix>', 'prefix of every Redis key Sluice writes', 'SLUICE_REDIS_PREFIX', 'sluice');
  // Boolean: commander would turn it on for any value of its variable, even "false", so
  // SLUICE_REDIS_REQUIRE_AOF is read in redisOptions instead.
  command.addOption(
    new Option('--redis-require-aof', 'refuse events (RedisChannels not Ready, ingress 503) unless Redis runs with appendonly yes; by default only a warning is logged (env SLUICE_REDIS_REQUIRE_AOF=true|1|yes)'),
  );
  flag('--default-channel <kind>', `what a Channel without spec.channelTemplate becomes: ${Object.keys(DEFAULT_CHANNEL_TEMPLATES).join(', ')}`, 'SLUICE_DEFAULT_CHANNEL', 'InMemoryChannel');
}

export interface BackendSettings {
  nats: NatsBackendOptions;
  redis: RedisBackendOptions;
  defaultChannelTemplate: ChannelTemplate;
}

/**
 * Turns the flags into backend options, with errors that name the flag. Nothing connects
 * here. An empty value counts as not given: a chart or a shell often sets
 * `SLUICE_NATS_URL=""` for "not configured".
 */
export function backendSettings(given: BackendFlags): BackendSettings {
  const flags = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== '')) as BackendFlags;
  const template = DEFAULT_CHANNEL_TEMPLATES[flags.defaultChannel ?? 'InMemoryChannel'];
  if (!template) throw new InvalidOptionError(`--default-channel: ${JSON.stringify(flags.defaultChannel)} is not one of ${Object.keys(DEFAULT_CHANNEL_TEMPLATES).join(', ')}`);
  return { nats: natsOptions(flags), redis: redisOptions(flags), defaultChannelTemplate: template };
}

function natsOptions(flags: BackendFlags): NatsBackendOptions {
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
}

function redisOptions(flags: BackendFlags): RedisBackendOptions {
  const o: RedisBackendOptions = { url: flags.redisUrl ?? DEFAULT_REDIS_URL };
  if (flags.redisPassword) o.password = flags.redisPassword;
  if (flags.redisPrefix) o.prefix = flags.redisPrefix;
  if (flags.redisRequireAof === true || /^(1|true|yes|on)$/i.test(process.env.SLUICE_REDIS_REQUIRE_AOF ?? '')) o.requireAof = true;
  try {
    redisClientOptions(o);
  } catch (err) {
    throw new InvalidOptionError(`--redis-url/--redis-prefix: ${(err as Error).message}`, { cause: err });
  }
  return o;
}

function readable(flag: string, file: string): void {
  try {
    readFileSync(file);
  } catch (err) {
    throw new InvalidOptionError(`${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}
