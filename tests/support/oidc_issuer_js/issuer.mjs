// An independent OIDC issuer for Dockit's federation tests: oauth2-mock-server serves
// discovery and the JWKS and signs every token. This file only starts it on loopback and
// adds a control port for the tests (not part of the issuer's own API):
//   POST /mint   {"claims": {...}, "expiresIn": 300, "kid": "..."} -> {"token": "..."}
//   POST /rotate {"alg": "RS256"} -> {"kid": "..."}  (the new key joins the JWKS)
// Usage: node issuer.mjs ISSUER_PORT CONTROL_PORT
import { createServer } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';

const [issuerPort, controlPort] = process.argv.slice(2).map(Number);
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(issuerPort, '127.0.0.1');
server.issuer.url = `http://127.0.0.1:${issuerPort}`;

async function handle(path, body) {
  if (path === '/mint') {
    const { claims = {}, expiresIn, kid } = body;
    const token = await server.issuer.buildToken({
      kid,
      expiresIn,
      scopesOrTransform: (_header, payload) => Object.assign(payload, claims),
    });
    return { token };
  }
  if (path === '/rotate') {
    const key = await server.issuer.keys.generate(body.alg ?? 'RS256');
    return { kid: key.kid };
  }
  return null;
}

const control = createServer((req, res) => {
  let raw = '';
  req.on('data', (chunk) => { raw += chunk; });
  req.on('end', async () => {
    try {
      const answer = await handle(req.url, raw ? JSON.parse(raw) : {});
      res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer ?? { error: 'unknown path' }));
    } catch (error) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    }
  });
});
control.listen(controlPort, '127.0.0.1');

const stop = async () => { control.close(); await server.stop(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
