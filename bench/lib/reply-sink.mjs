// A replying subscriber for benchmarks, run as its own process: answers each event with
// 200 and a reply event in binary mode (type bench.reply), carrying the load generator's
// send time on, so the reply's delivery measures the whole chain.
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    const headers = {
      'ce-specversion': '1.0',
      'ce-id': `r-${req.headers['ce-id']}`,
      'ce-source': '/bench/replier',
      'ce-type': 'bench.reply',
      'content-type': 'application/json',
    };
    if (req.headers['ce-benchsent']) headers['ce-benchsent'] = req.headers['ce-benchsent'];
    res.writeHead(200, headers);
    res.end('{"ok":true}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log('replier ready'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
