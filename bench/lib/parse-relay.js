// Contender 2 of the end-to-end benches: the parse-and-reserialize relay. It
// does what any SSE-aware proxy must (UTF-8 decode, eventsource-parser,
// JSON.parse and JSON.stringify of every frame, re-serialized as SSE) and
// nothing more: no rules. Sluice's cost over it is the cost of the rules and
// holdback. Non-SSE bodies are piped untouched. Shell: relay-server.js.
import { Transform } from 'node:stream'
import { createParser } from 'eventsource-parser'
import { runRelay } from './relay-server.js'

function createReserializeStream () {
  const decoder = new TextDecoder()
  let out = ''
  const parser = createParser({
    onEvent (event) {
      const data = event.data === '[DONE]' ? event.data : JSON.stringify(JSON.parse(event.data))
      out += (event.event === undefined ? '' : `event: ${event.event}\n`) + `data: ${data}\n\n`
    }
  })
  return new Transform({
    transform (chunk, _enc, done) {
      parser.feed(decoder.decode(chunk, { stream: true }))
      const text = out
      out = ''
      done(null, text.length > 0 ? text : undefined)
    },
    flush (done) {
      parser.feed(decoder.decode())
      done(null, out.length > 0 ? out : undefined)
    }
  })
}

await runRelay('parse-relay', (headers) => {
  const type = String(headers['content-type'] ?? '')
  return type.startsWith('text/event-stream') ? createReserializeStream() : null
})
