// A minimal HTTP sink for benchmarks, run as its own process: answers 202 at once and
// records, per request, the delay since the `ce-benchsent` the load generator stamped
// (epoch milliseconds with a fraction, from performance.timeOrigin + performance.now()).
// GET /stats returns {count, latencies} and resets.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const port = Number(process.argv[2]);
let latencies = [];
let count = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    const body = JSON.stringify({ count, latencies });
    latencies = [];
    count = 0;
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(body);
  }
  req.on('data', () => {});
  req.on('end', () => {
    count++;
    const sent = Number(req.headers['ce-benchsent'] ?? req.headers['x-bench-sent']);
    if (sent) latencies.push(performance.timeOrigin + performance.now() - sent);
    res.statusCode = 202;
    res.end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log('sink ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
