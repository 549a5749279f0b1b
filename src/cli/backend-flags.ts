import { Option, type Command } from 'commander';
import type { BackendFlag } from '../channels/backend-module.js';
import { CHANNEL_BACKENDS, type ChannelBackendsOptions } from '../channels/durable-backends.js';
import { InvalidOptionError } from '../errors.js';
import type { ChannelTemplate } from '../resources/types.js';

/**
 * The flags of `sluice start` that choose and reach the durable channel backends, as
 * commander parses them (camelCase: `natsUrl`, `redisRequireAof`); each backend module
 * reads its own.
 */
export interface BackendFlags {
  defaultChannel?: string;
  [flag: string]: unknown;
}

/** What `--default-channel` may name, and the template a `Channel` without one then gets. */
export const DEFAULT_CHANNEL_TEMPLATES: Readonly<Record<string, ChannelTemplate>> = {
  InMemoryChannel: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' },
  ...Object.fromEntries(CHANNEL_BACKENDS.map((b) => [b.kind, b.template])),
};

const DEFAULT_CHANNEL_FLAG: BackendFlag = {
  flags: '--default-channel <kind>',
  description: `what a Channel without spec.channelTemplate becomes: ${Object.keys(DEFAULT_CHANNEL_TEMPLATES).join(', ')}`,
  env: 'SLUICE_DEFAULT_CHANNEL',
  default: 'InMemoryChannel',
};

/**
 * Adds every backend's flags to `sluice start`, then `--default-channel`. Each has an
 * environment variable, so that secrets (token, password) need not appear in a process
 * listing.
 */
export function addBackendFlags(command: Command): void {
  for (const f of [...CHANNEL_BACKENDS.flatMap((b) => b.flags), DEFAULT_CHANNEL_FLAG]) {
    const o = new Option(f.flags, f.description);
    if (f.env !== undefined) o.env(f.env);
    if (f.default !== undefined) o.default(f.default);
    command.addOption(o);
  }
}

/** Each backend's options by its name (`nats`, `redis`), and the default channel template. */
export type BackendSettings = Required<ChannelBackendsOptions> & { defaultChannelTemplate: ChannelTemplate };

/**
 * Turns the flags into backend options, with errors that name the flag. Nothing connects
 * here. An empty value counts as not given: a chart or a shell often sets
 * `SLUICE_NATS_URL=""` for "not configured".
 */
export function backendSettings(given: BackendFlags): BackendSettings {
  const flags = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== '')) as BackendFlags;
  const template = DEFAULT_CHANNEL_TEMPLATES[flags.defaultChannel ?? 'InMemoryChannel'];
  if (!template) throw new InvalidOptionError(`--default-channel: ${JSON.stringify(flags.defaultChannel)} is not one of ${Object.keys(DEFAULT_CHANNEL_TEMPLATES).join(', ')}`);
  const options = Object.fromEntries(CHANNEL_BACKENDS.map((b) => [b.name, b.options(flags)]));
  return { ...options, defaultChannelTemplate: template } as BackendSettings;
}
