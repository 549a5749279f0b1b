import { SluiceServer } from './src/server/sluice-server.js';
import { silentLogger } from './src/observability/logger.js';
const s = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1' });
await s.listen();
await s.liveConfig.start({ paths: [] });
console.log(s.adminUrl);
setInterval(() => {}, 1000);
