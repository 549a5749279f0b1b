import { Option, type Command } from 'commander';
import { AdminClient } from './admin-client.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:9090';

/** `--server` and `--token`, accepted before or after any command that talks to a running sluice. */
export function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option('--server <url>', 'admin URL of the running sluice').env('SLUICE_SERVER').default(DEFAULT_SERVER))
    .addOption(new Option('--token <token>', 'bearer token of the admin API (sluice start --admin-token)').env('SLUICE_ADMIN_TOKEN'))
    .configureHelp({ showGlobalOptions: true });
}

/** The admin client for a command, from the global options. */
export function adminClientFor(cmd: Command): AdminClient {
  const o = cmd.optsWithGlobals<{ server?: string; token?: string }>();
  return new AdminClient({ server: o.server || DEFAULT_SERVER, ...(o.token ? { token: o.token } : {}) });
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
