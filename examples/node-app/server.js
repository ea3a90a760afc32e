// A tiny app for the runpack demo: answers with the version in version.txt.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { URL } from 'node:url';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT || 8080);

createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', version }));
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`Hello from the runpack example app, version ${version}\n`);
}).listen(port, () => console.log(`listening on ${port}, version ${version}`));
