import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { SluiceError } from '../errors.js';
import { registerStart } from './start.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Entry of the `sluice` command. Errors are printed as one clear line; no stack traces for user mistakes. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('sluice')
    .description('Sluice: an event broker with Knative Eventing\'s model, in one process')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStart(program);
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
