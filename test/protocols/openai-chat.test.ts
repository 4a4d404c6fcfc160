import t from 'tap'
import fc from 'fast-check'
import { sanitizeOpenAiChatBody } from '../../src/protocols/openai-chat.js'
import { createRuleSetFromSources } from '../../src/rules/load-rules.js'
import {
  checkSplitInvariance,
  buildChatStream, clientTexts, expectedTexts, fixture, jsonFrames, parseNdjson, parseSse,
  replay, replayBytes, scanWhole, scannerFactory, testRules, tokenize
} from '../stream/replay.js'

const enc = (s: string): Buffer => Buffer.from(s, 'utf8')
const ruleSet = await testRules()

function texts (output: string): Map<string, string> {
  return clientTexts('chat', parseSse(output).frames)
}
function inputTexts (input: Buffer): Map<string, string> {
  return clientTexts('chat', parseSse(input.toString('utf8')).frames)
}

t.test('each channel comes out as the whole-text scan of that channel', async (t) => {
  for (const name of ['openai-chat.sse', 'openai-chat-tools.sse', 'openai-chat-n2.sse']) {
    const input = fixture(name)
    const { output, sanitizer } = replay(ruleSet, input, [])
    const expected = expectedTexts(ruleSet, inputTexts(input))
    t.same([...texts(output)], [...expected], name)
    t.notOk(output.includes('jane.doe') || output.includes('415-555') || output.includes('(415) 555'), `${name}: no personal data left`)
    t.equal(sanitizer.state(), 'ended')
    t.equal(sanitizer.stats().protocol, 'openai-chat')
    t.equal(sanitizer.stats().malformed, 0)
  }
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['openai-chat.sse', 'openai-chat-tools.sse', 'openai-chat-n2.sse', 'openai-chat-cut.sse'])
})

t.test('every frame is valid JSON, finish chunks follow their text, usage and [DONE] come last', async (t) => {
  const input = fixture('openai-chat.sse')
  const { output } = replay(ruleSet, input, [])
  const frames = jsonFrames(parseSse(output).frames)
  t.equal(frames.at(-1), '[DONE]')
  const usage = parseSse(output).frames.at(-2)?.data
  t.equal(usage, parseSse(input.toString('utf8')).frames.at(-2)?.data, 'usage chunk passed through byte for byte')
  const finishAt = frames.findIndex((f) => f !== '[DONE]' && f.choices?.[0]?.finish_reason === 'stop')
  t.equal(finishAt, frames.length - 3, 'finish chunk right before usage and [DONE]')
  const lastText = frames.findLastIndex((f) => f !== '[DONE]' && typeof f.choices?.[0]?.delta?.content === 'string' && f.choices[0].delta.content !== '')
  t.ok(lastText < finishAt, 'all text before the finish chunk')
  for (const f of frames) {
    if (f === '[DONE]') continue
    t.equal(f.id, 'chatcmpl-C1a2B3c4D5e6F7g8H9i0')
    t.equal(f.model, 'gpt-4o-mini-2024-07-18')
    t.equal(f.created, 1754000000)
  }
})

t.test('text held at the finish goes out in a chunk before the finishing chunk', async (t) => {
  const input = enc(buildChatStream(['Write to ', 'jane', '.doe@acme', '.io']))
  const { output } = replay(ruleSet, input, [])
  const out = parseSse(output).frames
  const upstream = parseSse(input.toString('utf8')).frames
  const frames = jsonFrames(out)
  const finishAt = frames.findIndex((f) => f !== '[DONE]' && f.choices?.[0]?.finish_reason === 'stop')
  const flushed = frames[finishAt - 1] as Record<string, any>
  t.match(flushed.choices[0].delta.content, /^\[email:[0-9a-f]+\]$/, 'the whole e-mail, redacted, in the flush chunk')
  t.equal(flushed.choices[0].finish_reason, null)
  t.equal(flushed.id, 'chatcmpl-gen', 'the flush chunk copies the envelope')
  t.equal(out[finishAt]?.data, upstream.at(-2)?.data, 'the finishing chunk itself is untouched')
  t.equal(texts(output).get('0:content'), scanWhole(ruleSet, 'Write to jane.doe@acme.io').text)
})

t.test('text of a finishing chunk is released together with what was held, in that chunk', async (t) => {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const input = enc(
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'mail jane.doe' }, finish_reason: null }] })}\n\n` +
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: '@acme.io' }, finish_reason: 'stop' }] })}\n\n` +
    'data: [DONE]\n\n')
  const frames = jsonFrames(parseSse(replay(ruleSet, input, []).output).frames) as Array<Record<string, any>>
  t.equal(frames.length, 3)
  t.equal(frames[0]?.choices[0].delta.content, 'mail ')
  t.match(frames[1]?.choices[0].delta.content, /^\[email:[0-9a-f]+\]$/)
  t.equal(frames[1]?.choices[0].finish_reason, 'stop')
})

t.test('keeps role, tool call ids, types and names; scans arguments per tool call', async (t) => {
  const input = fixture('openai-chat-tools.sse')
  const { output, findings } = replay(ruleSet, input, [])
  const frames = jsonFrames(parseSse(output).frames) as Array<Record<string, any>>
  const first = frames[0]?.choices[0].delta
  t.same(first, { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_Yx8dK2mQ', type: 'function', function: { name: 'send_email', arguments: '' } }], refusal: null })
  const second = frames.find((f) => f.choices?.[0]?.delta?.tool_calls?.[0]?.id === 'call_Pq4rS7tU')
  t.ok(second, 'the second call header is kept')
  t.equal(frames.at(-2)?.choices[0].finish_reason, 'tool_calls')
  const args = texts(output)
  t.match(args.get('0:tool:0'), /^\{"to":"\[email:[0-9a-f]+\]","body":"Call me at \[phone:[0-9a-f]+\]"\}$/)
  t.equal(args.get('0:tool:1'), '{"q":"café ☕"}')
  t.ok(findings.every((f) => f.context.field === 'tool_arguments' && f.context.part === 0))
  t.same(findings.map((f) => f.context.channel), ['0:tool:0', '0:tool:0'])
})

t.test('choices are scanned apart: text of one never completes a match in another', async (t) => {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const chunk = (index: number, content: string): string => `data: ${JSON.stringify({ ...base, choices: [{ index, delta: { content }, logprobs: null, finish_reason: null }] })}\n\n`
  const input = enc(chunk(0, 'card 4111 1111') + chunk(1, ' 1111 1111 end') + chunk(0, ' ok') + 'data: [DONE]\n\n')
  const { output, findings } = replay(ruleSet, input, [])
  t.same(Object.fromEntries(texts(output)), { '0:content': 'card 4111 1111 ok', '1:content': ' 1111 1111 end' })
  t.same(findings, [])
  t.same(scanWhole(ruleSet, 'card 4111 1111 1111 1111 end').findings.length, 1, 'joined, it would be a card')
})

t.test('n = 2: findings name their choice, and each choice finishes in order', async (t) => {
  const { output, findings } = replay(ruleSet, fixture('openai-chat-n2.sse'), [])
  t.ok(findings.some((f) => f.context.choice === 0 && f.finding.ruleId === 'pii.email'))
  t.ok(findings.some((f) => f.context.choice === 1 && f.finding.ruleId === 'pii.phone_intl'))
  const frames = jsonFrames(parseSse(output).frames) as Array<Record<string, any> | '[DONE]'>
  const finishes = frames.flatMap((f) => (f === '[DONE]' ? [] : (f.choices ?? []).filter((c: any) => c.finish_reason !== null).map((c: any) => `${c.index}:${c.finish_reason}`)))
  t.same(finishes, ['1:stop', '0:length'])
})

t.test('a cut ends with a content_filter chunk and [DONE], after the text before the match', async (t) => {
  const input = fixture('openai-chat-cut.sse')
  const cuts: string[] = []
  const { output, sanitizer, findings } = replay(ruleSet, input, [], { onCut: (f) => cuts.push(f.ruleId) })
  const frames = jsonFrames(parseSse(output).frames) as Array<Record<string, any> | '[DONE]'>
  t.equal(frames.at(-1), '[DONE]')
  const last = frames.at(-2) as Record<string, any>
  t.same(last.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'content_filter', content_filter_results: { abuse: { filtered: true, severity: 'critical' } } }], 'the block signal names the category and severity')
  t.same([last.id, last.object, last.created, last.model, last.system_fingerprint], ['chatcmpl-C1cut00000000000000000', 'chat.completion.chunk', 1754000000, 'gpt-4o-mini-2024-07-18', 'fp_560af6e559'])
  const whole = scanWhole(ruleSet, [...inputTexts(input).values()][0] as string)
  t.ok(whole.cut, 'the reference cuts too')
  t.equal(texts(output).get('0:content'), whole.text, 'exactly the text before the match')
  t.notOk(output.includes('missiles') || output.includes('dawn') || output.includes('bob'), 'nothing after the cut, and no rule id that could spell it')
  t.same(cuts, ['test.cut_missiles'])
  t.equal(findings.filter((f) => f.finding.action === 'cut').length, 1, 'the cut finding reported once')
  t.equal(sanitizer.state(), 'cut')
  t.equal(sanitizer.stats().finishReason, 'content_filter')
  t.equal(sanitizer.stats().cut?.ruleId, 'test.cut_missiles')
  t.equal(sanitizer.write(enc('data: [DONE]\n\n')), '', 'input after a cut is ignored')
  t.equal(sanitizer.end(), '')
})

t.test('a cut closes every unfinished choice', async (t) => {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const chunk = (index: number, content: string, finish: string | null = null): string => `data: ${JSON.stringify({ ...base, choices: [{ index, delta: { content }, logprobs: null, finish_reason: finish }] })}\n\n`
  const input = enc(chunk(0, 'first answer. ') + chunk(2, 'done. ', 'stop') + chunk(1, 'second: launch the missiles') + chunk(0, 'more') + 'data: [DONE]\n\n')
  const frames = jsonFrames(parseSse(replay(ruleSet, input, []).output).frames) as Array<Record<string, any> | '[DONE]'>
  t.equal(frames.at(-1), '[DONE]')
  t.same((frames.at(-2) as Record<string, any>).choices.map((c: any) => [c.index, c.finish_reason]), [[0, 'content_filter'], [1, 'content_filter']])
})

t.test('clean frames whose text is released unchanged pass byte for byte', async (t) => {
  // Whether a scanner holds text back depends on the rules (the shipped
  // toxicity rules hold any letter that may start an obfuscated word), so
  // this uses a rule that cannot start at a space or a comma.
  const emailOnly = createRuleSetFromSources([{ id: 'email', category: 'pii', description: 'test', pattern: '[a-z]{1,20}@[a-z]{1,20}\\.io', action: 'redact' }])
  const input = enc(buildChatStream(['Hello, ', 'how ', 'are ', 'you ', 'today? ', 'Fine, ', 'thanks! ']))
  const { output, findings } = replay(emailOnly, input, [])
  t.equal(output, input.toString('utf8'))
  t.same(findings, [])
})

t.test('clean text comes out whole even when frames are regrouped', async (t) => {
  const input = enc(buildChatStream(['The', ' quick', ' brown', ' fox', ' jumps', '.']))
  const { output } = replay(ruleSet, input, [])
  t.equal(texts(output).get('0:content'), 'The quick brown fox jumps.')
})

t.test('a changed choice loses its logprobs and the chunk its obfuscation padding', async (t) => {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const logprobs = { content: [{ token: ' jane', logprob: -0.1, bytes: [32, 106, 97, 110, 101], top_logprobs: [] }], refusal: null }
  const input = enc(
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'Hi. ' }, logprobs, finish_reason: null }], obfuscation: 'abc' })}\n\n` +
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'mail jane' }, logprobs, finish_reason: null }], obfuscation: 'abc' })}\n\n` +
    'data: [DONE]\n\n')
  const frames = parseSse(replay(ruleSet, input, []).output).frames
  const first = JSON.parse(frames[0]?.data ?? '{}')
  t.equal(first.obfuscation, 'abc', 'unchanged chunk keeps its padding')
  t.equal(first.choices[0].delta.content, 'Hi. ')
  t.ok(first.choices[0].logprobs !== null, 'and its logprobs, scanned like any other string')
  const changed = JSON.parse(frames[1]?.data ?? '{}')
  t.equal(changed.choices[0].logprobs, null)
  t.notOk('obfuscation' in changed)
})

t.test('a malformed frame is dropped, counted and reported, and the stream goes on', async (t) => {
  const good = buildChatStream(['Hi ', 'there. '])
  const [head, ...rest] = good.split('\n\n')
  const input = enc([head, 'data: {"choices":[{"delta":{"content":"sk-secret-in-a-broken-frame"', ...rest].join('\n\n'))
  const { output, malformed, sanitizer } = replay(ruleSet, input, [])
  t.equal(malformed.length, 1)
  t.equal((malformed[0] as Error & { code?: string }).code, 'SLUICE_MALFORMED_FRAME')
  t.notOk(malformed[0]?.message.includes('sk-secret'), 'the report never quotes the frame')
  t.notOk(output.includes('sk-secret'))
  t.equal(sanitizer.stats().malformed, 1)
  t.equal(texts(output).get('0:content'), 'Hi there. ')
  t.equal(jsonFrames(parseSse(output).frames).at(-1), '[DONE]')
})

t.test('an error object in the stream passes through, scanned whole', async (t) => {
  const error = 'data: {"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}\n\n'
  const input = enc(buildChatStream(['Hi. ']).replace('data: [DONE]\n\n', error))
  const { output } = replay(ruleSet, input, [])
  t.ok(output.endsWith(error))
})

t.test('an e-mail in a mid-stream error object is redacted', async (t) => {
  const error = 'data: {"error":{"message":"quota of jane.doe@acme.io exceeded","type":"server_error","param":null,"code":null}}\n\n'
  const input = enc(buildChatStream(['Hi. ']).replace('data: [DONE]\n\n', error))
  const { output } = replay(ruleSet, input, [])
  t.notOk(output.includes('jane.doe@acme.io'))
  t.match(JSON.parse(parseSse(output).frames.at(-1)?.data ?? '{}').error.message, /^quota of \[email:[0-9a-f]+\] exceeded$/)
})

t.test('input ending without [DONE] still flushes what was held', async (t) => {
  const base = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm' }
  const input = enc(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: 'mail jane.doe@acme.io' }, finish_reason: null }] })}\n\n`)
  const { output } = replay(ruleSet, input, [])
  t.match(texts(output).get('0:content'), /^mail \[email:[0-9a-f]+\]$/)
  t.notOk(output.includes('[DONE]'), 'no [DONE] is invented')
})

t.test('over NDJSON: the same chunks, no [DONE], a cut ends with a content_filter line', async (t) => {
  const input = fixture('openai-chat.ndjson')
  const { output, sanitizer } = replay(ruleSet, input, [], { contentType: 'application/x-ndjson' })
  t.equal(sanitizer.stats().protocol, 'ndjson')
  const frames = parseNdjson(output)
  t.same([...clientTexts('chat', frames)], [...expectedTexts(ruleSet, clientTexts('chat', parseNdjson(input.toString('utf8'))))])
  t.notOk(output.includes('[DONE]'))
  t.equal(replayBytes(ruleSet, input, { contentType: 'application/x-ndjson' }).output, output, 'one byte at a time')
  const cutInput = enc(input.toString('utf8').replace('" Her"', '" launch the missiles"'))
  const cut = parseNdjson(replay(ruleSet, cutInput, [], { protocol: 'ndjson' }).output)
  t.equal(JSON.parse(cut.at(-1)?.data ?? '{}').choices[0].finish_reason, 'content_filter')
})

t.test('generated streams: any tokenization gives the whole-text scan (fast-check)', async (t) => {
  const text = 'Hi! Reach jane.doe@acme.io or +44 20 7183 8750, card 4111-1111-1111-1111. Café ☕ 🎉 done. Thanks'
  const expected = scanWhole(ruleSet, text).text
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 30 }), fc.boolean(), (cuts, crlf) => {
    const input = enc(buildChatStream(tokenize(text, cuts), crlf ? { eol: '\r\n' } : {}))
    const { output } = replay(ruleSet, input, cuts.map((c) => c * 3))
    return texts(output).get('0:content') === expected
  }), { numRuns: 150 })
  t.pass('150 tokenizations')
})

// Non-streamed bodies (`stream: false`): sanitizeOpenAiChatBody.
const newScanner = scannerFactory(ruleSet)
const bodyText = 'Reach jane.doe@acme.io or (415) 555-2671.'
const bodyClean = scanWhole(ruleSet, bodyText).text

t.test('body: content, refusal and tool call arguments, on a copy', async (t) => {
  const body = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o',
    choices: [{
      index: 0,
      message: { role: 'assistant', content: bodyText, refusal: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'send', arguments: '{"to":"jane.doe@acme.io"}' } }] },
      logprobs: { content: [] },
      finish_reason: 'tool_calls'
    }],
    usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }
  }
  const before = structuredClone(body)
  const seen: string[] = []
  const r = sanitizeOpenAiChatBody(body, newScanner, { onFinding: (f, ctx) => seen.push(`${ctx.channel}:${f.ruleId}`) })
  t.same(body, before, 'the input is not modified')
  t.equal(r.changed, true)
  t.equal(r.protocol, 'openai-chat')
  const out = r.body as typeof body
  t.equal(out.choices[0]?.message.content, bodyClean)
  t.match(out.choices[0]?.message.tool_calls[0]?.function.arguments, /^\{"to":"\[email:[0-9a-f]+\]"\}$/)
  t.equal(out.choices[0]?.message.tool_calls[0]?.id, 'call_1')
  t.equal(out.choices[0]?.logprobs, null)
  t.equal(out.choices[0]?.finish_reason, 'tool_calls')
  t.same(out.usage, body.usage)
  t.same(seen, ['0:content:pii.email', '0:content:pii.phone_nanp', '0:tool:0:pii.email'])
  t.equal(r.findings.length, 3)
})

t.test('body: a clean body is returned as is', async (t) => {
  const body = { object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'All good here.' }, finish_reason: 'stop' }] }
  const r = sanitizeOpenAiChatBody(body, newScanner)
  t.equal(r.changed, false)
  t.equal(r.body, body)
})

t.test('body: inPlace sanitizes the very object it is given, with the same result as a copy', async (t) => {
  const make = (): { object: string, choices: Array<{ index: number, message: { role: string, content: string }, logprobs: unknown, finish_reason: string }> } =>
    ({ object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: bodyText }, logprobs: { content: [] }, finish_reason: 'stop' }] })
  const copied = sanitizeOpenAiChatBody(make(), newScanner)
  const body = make()
  const r = sanitizeOpenAiChatBody(body, newScanner, { inPlace: true })
  t.equal(r.body, body, 'no copy was made')
  t.equal(body.choices[0]?.message.content, bodyClean, 'the given object carries the sanitized text')
  t.equal(body.choices[0]?.logprobs, null)
  t.same(r.body, copied.body)
  t.equal(r.changed, true)
})

t.test('body: a cut truncates at the match, empties later text and says content_filter', async (t) => {
  const body = {
    object: 'chat.completion',
    choices: [
      { index: 0, message: { role: 'assistant', content: 'Plan: launch the missiles at dawn.' }, finish_reason: 'stop' },
      { index: 1, message: { role: 'assistant', content: 'Another answer.' }, finish_reason: 'stop' }
    ]
  }
  const r = sanitizeOpenAiChatBody(body, newScanner)
  const out = r.body as typeof body
  t.equal(r.cut?.ruleId, 'test.cut_missiles')
  t.equal(out.choices[0]?.message.content, 'Plan: ')
  t.equal(out.choices[1]?.message.content, '')
  t.same(out.choices.map((c) => c.finish_reason), ['content_filter', 'content_filter'])
})
