// Executable entry used by bin/sluice.js (compiled) and by tests (through tsx).
import { main } from './index.js';

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
