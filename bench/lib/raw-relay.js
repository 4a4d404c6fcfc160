// Contender 1 of the end-to-end benches: the raw byte relay, the floor any
// proxy pays (a socket in, an undici request out, the upstream bytes piped to
// the client untouched). Method and flags: see relay-server.js.
import { runRelay } from './relay-server.js'

await runRelay('raw-relay', () => null)
