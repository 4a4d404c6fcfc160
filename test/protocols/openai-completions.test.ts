import t from 'tap'
import { sanitizeOpenAiCompletionsBody } from '../../src/protocols/openai-completions.js'
import { checkSplitInvariance, clientTexts, expectedTexts, fixture, jsonFrames, parseSse, replay, scanWhole, scannerFactory, testRules } from '../stream/replay.js'

const ruleSet = await testRules()
const texts = (s: string): Map<string, string> => clientTexts('completions', parseSse(s).frames)

t.test('each choice\'s text comes out as its whole-text scan', async (t) => {
  const input = fixture('openai-completions.sse')
  const { output, sanitizer } = replay(ruleSet, input, [])
  t.same([...texts(output)], [...expectedTexts(ruleSet, texts(input.toString('utf8')))])
  t.notOk(output.includes('jane.doe'))
  t.equal(sanitizer.stats().protocol, 'openai-completions')
  t.equal(sanitizer.stats().upstreamFinishReason, 'length')
  t.equal(sanitizer.stats().finishReason, 'length')
})

t.test('the output is the same however the upstream bytes were split', async (t) => {
  checkSplitInvariance(t, ruleSet, ['openai-completions.sse', 'openai-completions-cut.sse'])
})

t.test('changed chunks drop their logprobs, unchanged ones keep them byte for byte', async (t) => {
  const input = fixture('openai-completions.sse')
  const upstream = new Set(parseSse(input.toString('utf8')).frames.map((f) => f.data))
  for (const frame of parseSse(replay(ruleSet, input, []).output).frames) {
    if (frame.data === '[DONE]') continue
    const chunk = JSON.parse(frame.data)
    if (upstream.has(frame.data)) continue
    t.equal(chunk.choices[0].logprobs, null, `changed: ${JSON.stringify(chunk.choices[0].text)}`)
  }
})

t.test('the finishing chunk comes after all text, then [DONE]', async (t) => {
  const frames = jsonFrames(parseSse(replay(ruleSet, fixture('openai-completions.sse'), []).output).frames) as Array<Record<string, any> | '[DONE]'>
  t.equal(frames.at(-1), '[DONE]')
  const finish = frames.at(-2) as Record<string, any>
  t.equal(finish.choices[0].finish_reason, 'length')
  t.equal(frames.filter((f) => f !== '[DONE]' && f.choices[0].finish_reason !== null).length, 1)
})

t.test('a cut ends with a content_filter choice and [DONE]', async (t) => {
  const input = fixture('openai-completions-cut.sse')
  const { output, sanitizer } = replay(ruleSet, input, [])
  const frames = jsonFrames(parseSse(output).frames) as Array<Record<string, any> | '[DONE]'>
  t.equal(frames.at(-1), '[DONE]')
  const last = frames.at(-2) as Record<string, any>
  t.match(last.choices, [{ text: '', index: 0, logprobs: null, finish_reason: 'content_filter', content_filter_results: {} }])
  t.equal(last.id, 'cmpl-C1c0mp1et10ns000000000')
  t.equal(last.object, 'text_completion')
  t.equal(texts(output).get('0:text'), scanWhole(ruleSet, [...texts(input.toString('utf8')).values()][0] as string).text)
  t.equal(sanitizer.stats().finishReason, 'content_filter')
})

// Non-streamed bodies (`stream: false`): sanitizeOpenAiCompletionsBody.
const newScanner = scannerFactory(ruleSet)
const bodyText = 'Reach jane.doe@acme.io or (415) 555-2671.'
const bodyClean = scanWhole(ruleSet, bodyText).text

t.test('body: choices[].text', async (t) => {
  const r = sanitizeOpenAiCompletionsBody({ object: 'text_completion', choices: [{ text: bodyText, index: 0, logprobs: null, finish_reason: 'stop' }] }, newScanner)
  t.equal((r.body as any).choices[0].text, bodyClean)
  t.equal(r.protocol, 'openai-completions')
})
