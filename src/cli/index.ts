import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { SluiceError } from '../errors.js';
import { addGlobalOptions } from './global-options.js';
import { registerApply } from './apply.js';
import { registerDelete } from './delete.js';
import { registerGet } from './get.js';
import { registerDescribe } from './describe.js';
import { registerValidate } from './validate.js';
import { registerSend } from './send.js';
import { registerTail } from './tail.js';
import { registerDeadLetters } from './deadletters.js';
import { registerKubeconfig } from './kubeconfig.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Entry of the `sluice` command. Errors are printed as one clear line; no stack traces for user mistakes. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('sluice')
    .description('Sluice: an event broker with Knative Eventing\'s model, in one process')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  addGlobalOptions(program);
  // `start` loads the whole broker (fastify, NATS, BullMQ, the Kubernetes client), which the
  // client commands do not need: it is loaded only when named.
  if (argv.slice(2).includes('start')) (await import('./start.js')).registerStart(program);
  else program.command('start').description('run the broker with the resources in the given YAML files or folders (sluice start --help)');
  for (const register of [registerApply, registerDelete, registerGet, registerDescribe, registerValidate, registerSend, registerTail, registerDeadLetters, registerKubeconfig]) register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof SluiceError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
