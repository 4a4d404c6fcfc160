/**
 * @module test/http/response-headers
 * The upstream headers a client gets: an allowlist, one short printable
 * value each, never Sluice's own names.
 */
import t from 'tap'
import { allowedResponseHeaders } from '../../src/http/response-headers.js'

t.test('known headers pass, unknown ones and Sluice\'s own names are dropped', async (t) => {
  const out = allowedResponseHeaders({
    'content-type': 'text/event-stream',
    'x-request-id': 'req_123',
    'x-ratelimit-remaining-requests': '99',
    'x-vercel-ai-ui-message-stream': 'v1',
    'x-sluice-request-id': 'forged',
    'x-debug-note': 'jane.doe@acme-corp.com',
    'set-cookie': 'a=b'
  })
  t.same(out, {
    'content-type': 'text/event-stream',
    'x-request-id': 'req_123',
    'x-ratelimit-remaining-requests': '99',
    'x-vercel-ai-ui-message-stream': 'v1'
  })
})

t.test('an allowed name with a repeated, long or non-printable value is dropped', async (t) => {
  const out = allowedResponseHeaders({
    'x-request-id': ['a', 'b'],
    'openai-version': 'x'.repeat(257),
    'request-id': 'ok\u0007',
    'retry-after': '3'
  })
  t.same(out, { 'retry-after': '3' })
})
