import t from 'tap'
import { createBrotliDecompress, createGunzip } from 'node:zlib'
import type { Transform } from 'node:stream'
import { createEventCompressor, negotiateEventEncoding } from '../../src/http/event-compression.js'
import type { EventEncoding } from '../../src/http/event-compression.js'

t.test('negotiates br or gzip from Accept-Encoding', async (t) => {
  t.equal(negotiateEventEncoding('gzip, deflate, br'), 'br')
  t.equal(negotiateEventEncoding('gzip'), 'gzip')
  t.equal(negotiateEventEncoding('br;q=0.5, gzip;q=0.8'), 'gzip')
  t.equal(negotiateEventEncoding('identity'), undefined)
  t.equal(negotiateEventEncoding('*'), 'br')
  t.equal(negotiateEventEncoding('*, br;q=0'), 'gzip')
  t.equal(negotiateEventEncoding('gzip;q=0'), undefined)
  t.equal(negotiateEventEncoding(undefined), undefined)
  t.equal(negotiateEventEncoding('br, gzip', ['gzip']), 'gzip', 'only what is allowed')
  t.equal(negotiateEventEncoding('x-gzip'), 'gzip')
})

/** Resolves with what the decoder has produced once it produced `length` characters. */
function decodedUpTo (decoder: Transform, state: { text: string }, length: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`event not decodable: have ${JSON.stringify(state.text)}`)), 2000)
    const check = (): void => {
      if (state.text.length >= length) {
        clearTimeout(timer)
        decoder.off('data', check)
        resolve()
      }
    }
    decoder.on('data', check)
    check()
  })
}

for (const encoding of ['gzip', 'br'] as EventEncoding[]) {
  t.test(`${encoding}: every event decodes as soon as it is written, before the next one`, async (t) => {
    const compressor = createEventCompressor(encoding)
    const decoder = encoding === 'br' ? createBrotliDecompress() : createGunzip()
    const state = { text: '' }
    decoder.setEncoding('utf8')
    decoder.on('data', (s: string) => { state.text += s })
    let compressed = 0
    compressor.on('data', (b: Buffer) => { compressed += b.length; decoder.write(b) })
    let expected = ''
    for (let i = 0; i < 40; i++) {
      const event = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"token ${i} "}}]}\n\n`
      expected += event
      compressor.write(event)
      await decodedUpTo(decoder, state, expected.length)
      t.equal(state.text, expected, `event ${i} whole, nothing after it`)
    }
    compressor.end()
    await new Promise((resolve) => compressor.on('end', resolve))
    t.ok(compressed < expected.length / 2, `compressed ${compressed} of ${expected.length} bytes`)
  })
}
