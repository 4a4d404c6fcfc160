/**
 * Off-thread decoding, in Node: the Worker's side (`serveDecoder`) served on
 * one port of a MessageChannel and the client given the other as its
 * "worker", the same wiring as a browser Worker (structured clone,
 * transferred buffers). The browser's own `worker: true` start is the one
 * thing Node cannot run: there is no global Worker (so the option is ignored).
 */
import t from 'tap'
import type { Test } from 'tap'
import { createStreamClient } from '../../src/client/create-stream-client.js'
import { serveDecoder } from '../../src/client/decoder-host.js'
import type { MessageEventLike, WorkerLike } from '../../src/client/worker-messages.js'
import type { FinishInfo, TextInfo } from '../../src/client/types.js'
import { startDemo, startProxy } from '../proxy/fixtures/harness.js'

const payload = { model: 'sluice-demo-1', stream: true, messages: [{ role: 'user', content: 'hi' }] }

/** A "worker": one port of a channel whose other port serves the decoder. */
function channelWorker (t: Test): WorkerLike & { terminated: () => boolean } {
  const { port1, port2 } = new MessageChannel()
  serveDecoder(port2 as unknown as Parameters<typeof serveDecoder>[0])
  let terminated = false
  const worker = port1 as unknown as WorkerLike
  t.teardown(() => {
    port1.close()
    port2.close()
  })
  return Object.assign(worker, {
    terminate () {
      terminated = true
      port1.close()
    },
    terminated: () => terminated
  })
}

async function run (url: string, worker: WorkerLike | boolean | undefined, answer: string): Promise<{ text: string, spans: TextInfo['spans'], finish: FinishInfo }> {
  const client = createStreamClient({
    url: url + '/v1/chat/completions',
    protocol: 'openai-chat',
    headers: { 'x-demo-answer': answer },
    ...(worker === undefined ? {} : { worker: typeof worker === 'boolean' ? worker : () => worker })
  })
  let text = ''
  const spans: TextInfo['spans'] = []
  const finish = await client.generate(payload, {
    onText (delta, info) {
      for (const span of info.spans) spans.push({ ...span, start: span.start + info.offset, end: span.end + info.offset })
      text += delta
    }
  })
  client.close()
  return { text, spans, finish }
}

t.test('decoding on the worker gives what decoding here gives', async (t) => {
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream)
  for (const answer of ['email', 'abuse', 'haiku']) {
    const local = await run(url, undefined, answer)
    const worker = channelWorker(t)
    const remote = await run(url, worker, answer)
    t.equal(remote.text, local.text, `${answer}: the text`)
    t.same(remote.spans, local.spans, `${answer}: the spans`)
    const { reason, raw, protocol } = local.finish
    t.match(remote.finish, { reason, raw, protocol, frame: { object: 'chat.completion.chunk' } }, `${answer}: the finish`)
    t.ok(worker.terminated(), 'close() ends the worker')
  }
})

t.test('a worker that fails to start leaves decoding on this thread', async (t) => {
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream)
  const listeners: Array<(event: MessageEventLike) => void> = []
  const broken: WorkerLike = {
    postMessage () {},
    addEventListener (type, listener) {
      if (type === 'error') listeners.push(listener)
    }
  }
  setTimeout(() => { for (const l of listeners) l({ data: undefined }) }, 10)
  const result = await run(url, broken, 'email')
  t.match(result.text, /\[EMAIL\]/)
  t.equal(result.finish.reason, 'stop')
})

t.test('worker: true is ignored where there is no Worker (Node)', async (t) => {
  t.equal(typeof (globalThis as { Worker?: unknown }).Worker, 'undefined')
  const { url: upstream } = await startDemo(t)
  const { url } = await startProxy(t, upstream)
  const result = await run(url, true, 'email')
  t.equal(result.finish.reason, 'stop')
  t.equal(result.spans.length, 0, 'the test rules write [EMAIL], which is no shipped marker')
})
