/**
 * @module test/canary/protocols
 * The generator table: one entry per answer shape the hostile upstream can
 * speak, each built from small templates that follow the real shapes in
 * test/fixtures/streams/*.sse. Adding a protocol is adding one entry to
 * `protocols` (the property test draws from the table, the positions only
 * use the paths an entry declares).
 */
import { Raw } from './json-text.js'
import type { Json, Path } from './json-text.js'

/** One frame of a streamed answer. `kind` tells the positions where they may act. */
export interface Frame {
  kind: 'meta' | 'text' | 'tool' | 'finish' | 'end' | 'other'
  event?: string
  id?: string
  comments?: string[]
  data: Json
  /** Written over several `data:` lines. */
  dataLines?: boolean
}

/** What an answer says, before any protocol shapes it. */
export interface Answer {
  /** The text, in the pieces it streams in. */
  pieces: string[]
  /** A tool call, its arguments (JSON text) in the pieces they stream in. */
  tool?: { name: string, argPieces: string[] }
}

export interface ProtocolEntry {
  name: string
  framing: 'sse' | 'ndjson'
  /** The proxy route a client of this protocol calls. */
  route: '/v1/chat/completions' | '/v1/completions' | '/v1/responses' | '/v1/messages'
  /** The request body a client sends (the proxy checks its shape). */
  request: (stream: boolean) => Record<string, unknown>
  /** Whether it has tool calls (the tool-argument position needs one). */
  tools: boolean
  /** A streamed answer. */
  stream: (a: Answer) => Frame[]
  /** A frame carrying `text` as more answer text (text continued after a finish). */
  textFrame: (text: string) => Frame
  /** Where the text is in a text frame's data. */
  textPath: Path
  /** Objects of a text frame where an unknown key can go. */
  containers: Path[]
  /** String fields of the frames of `kind` that carry metadata (ids, model names). */
  metadata: Array<{ kind: Frame['kind'], path: Path }>
  /** In-band error frame(s). */
  errorFrames: (message: string) => Frame[]
  /** An event of a type the protocol does not define. */
  unknownEvent: (text: string) => Frame
  /** The non-streamed answer, and the same paths in it. */
  body: (a: Answer) => Json
  bodyTextPath: Path
  bodyContainers: Path[]
  bodyMetadata: Path[]
  errorBody: (message: string) => Json
}

const chatId = 'chatcmpl-CanaryXq7Lm2Vt9Rk4BnPzHw'
const created = 1754000000
const chatModel = 'gpt-4o-mini-2024-07-18'
const fingerprint = 'fp_560af6e559'

function chatEntry (framing: 'sse' | 'ndjson'): ProtocolEntry {
  const chunk = (choice: Record<string, Json>, extra: Record<string, Json> = {}): Json => ({
    id: chatId,
    object: 'chat.completion.chunk',
    created,
    model: chatModel,
    service_tier: 'default',
    system_fingerprint: fingerprint,
    choices: [{ index: 0, logprobs: null, finish_reason: null, ...choice }],
    ...extra
  })
  return {
    name: framing === 'sse' ? 'openai-chat-sse' : 'openai-chat-ndjson',
    framing,
    route: '/v1/chat/completions',
    request: (stream) => ({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'Who should I write to?' }] }),
    tools: true,
    stream: (a) => {
      const frames: Frame[] = [{ kind: 'meta', data: chunk({ delta: { role: 'assistant', content: '', refusal: null } }) }]
      for (const p of a.pieces) frames.push({ kind: 'text', data: chunk({ delta: { content: p } }) })
      if (a.tool !== undefined) {
        frames.push({ kind: 'tool', data: chunk({ delta: { tool_calls: [{ index: 0, id: 'call_Yx8dK2mQ', type: 'function', function: { name: a.tool.name, arguments: '' } }] } }) })
        for (const p of a.tool.argPieces) frames.push({ kind: 'tool', data: chunk({ delta: { tool_calls: [{ index: 0, function: { arguments: p } }] } }) })
      }
      frames.push({ kind: 'finish', data: chunk({ delta: {}, finish_reason: a.tool === undefined ? 'stop' : 'tool_calls' }) })
      if (framing === 'sse') frames.push({ kind: 'end', data: new Raw('[DONE]') })
      return frames
    },
    textFrame: (text) => ({ kind: 'text', data: chunk({ delta: { content: text } }) }),
    textPath: ['choices', 0, 'delta', 'content'],
    containers: [[], ['choices', 0], ['choices', 0, 'delta']],
    metadata: [{ kind: 'text', path: ['system_fingerprint'] }, { kind: 'text', path: ['model'] }, { kind: 'meta', path: ['id'] }],
    errorFrames: (message) => [{ kind: 'other', data: { error: { message, type: 'server_error', param: null, code: 'internal_error' } } }],
    unknownEvent: (text) => ({ kind: 'other', event: 'x_debug', data: { object: 'chat.completion.debug', note: text } }),
    body: (a) => ({
      id: chatId,
      object: 'chat.completion',
      created,
      model: chatModel,
      system_fingerprint: fingerprint,
      choices: [{
        index: 0,
        message: {
          role: 'assistant',
          content: a.pieces.join(''),
          refusal: null,
          ...(a.tool === undefined ? {} : { tool_calls: [{ id: 'call_Yx8dK2mQ', type: 'function', function: { name: a.tool.name, arguments: a.tool.argPieces.join('') } }] })
        },
        logprobs: null,
        finish_reason: a.tool === undefined ? 'stop' : 'tool_calls'
      }],
      usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 }
    }),
    bodyTextPath: ['choices', 0, 'message', 'content'],
    bodyContainers: [[], ['choices', 0], ['choices', 0, 'message']],
    bodyMetadata: [['id'], ['model'], ['system_fingerprint']],
    errorBody: (message) => ({ error: { message, type: 'invalid_request_error', param: null, code: null } })
  }
}

const completions: ProtocolEntry = ((): ProtocolEntry => {
  const chunk = (text: string, finish: string | null): Json => ({
    id: 'cmpl-CanaryXq7Lm2Vt9Rk4BnPz',
    object: 'text_completion',
    created,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    model: 'gpt-3.5-turbo-instruct'
  })
  return {
    name: 'openai-completions-sse',
    framing: 'sse',
    route: '/v1/completions',
    request: (stream) => ({ model: 'gpt-3.5-turbo-instruct', stream, prompt: 'Who should I write to?' }),
    tools: false,
    stream: (a) => [
      ...a.pieces.map((p): Frame => ({ kind: 'text', data: chunk(p, null) })),
      { kind: 'finish', data: chunk('', 'stop') },
      { kind: 'end', data: new Raw('[DONE]') }
    ],
    textFrame: (text) => ({ kind: 'text', data: chunk(text, null) }),
    textPath: ['choices', 0, 'text'],
    containers: [[], ['choices', 0]],
    metadata: [{ kind: 'text', path: ['model'] }, { kind: 'text', path: ['id'] }],
    errorFrames: (message) => [{ kind: 'other', data: { error: { message, type: 'server_error', param: null, code: null } } }],
    unknownEvent: (text) => ({ kind: 'other', event: 'x_debug', data: { object: 'text_completion.debug', note: text } }),
    body: (a) => ({
      id: 'cmpl-CanaryXq7Lm2Vt9Rk4BnPz',
      object: 'text_completion',
      created,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ text: a.pieces.join(''), index: 0, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 6, completion_tokens: 30, total_tokens: 36 }
    }),
    bodyTextPath: ['choices', 0, 'text'],
    bodyContainers: [[], ['choices', 0]],
    bodyMetadata: [['id'], ['model']],
    errorBody: (message) => ({ error: { message, type: 'invalid_request_error', param: null, code: null } })
  }
})()

const responses: ProtocolEntry = ((): ProtocolEntry => {
  const respId = 'resp_68a1b2c3d4e5f60718293a4b5c6d7e8f'
  const model = 'gpt-4.1-2025-04-14'
  const msgId = 'msg_68a1b2c3d4e5f6071829aaaa'
  const fcId = 'fc_68a1b2c3d4e5f6071829bbbb'
  const ev = (kind: Frame['kind'], type: string, fields: Record<string, Json>): Frame => ({ kind, event: type, data: { type, sequence_number: 0, ...fields } })
  const response = (status: string, output: Json[]): Json => ({ id: respId, object: 'response', created_at: created, status, error: null, model, output, usage: null })
  const messageItem = (text: string, status: string): Json => ({ id: msgId, type: 'message', status, role: 'assistant', content: [{ type: 'output_text', annotations: [], text }] })
  const fcItem = (name: string, args: string, status: string): Json => ({ id: fcId, type: 'function_call', status, arguments: args, call_id: 'call_Zr5tY7uI', name })
  const delta = (text: string): Frame => ev('text', 'response.output_text.delta', { item_id: msgId, output_index: 0, content_index: 0, delta: text })
  return {
    name: 'openai-responses-sse',
    framing: 'sse',
    route: '/v1/responses',
    request: (stream) => ({ model: 'gpt-4.1', stream, input: 'Who should I write to?' }),
    tools: true,
    stream: (a) => {
      const text = a.pieces.join('')
      const frames: Frame[] = [
        ev('meta', 'response.created', { response: response('in_progress', []) }),
        ev('meta', 'response.output_item.added', { output_index: 0, item: { id: msgId, type: 'message', status: 'in_progress', content: [], role: 'assistant' } }),
        ev('meta', 'response.content_part.added', { item_id: msgId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text: '' } }),
        ...a.pieces.map(delta),
        ev('finish', 'response.output_text.done', { item_id: msgId, output_index: 0, content_index: 0, text }),
        ev('other', 'response.content_part.done', { item_id: msgId, output_index: 0, content_index: 0, part: { type: 'output_text', annotations: [], text } }),
        ev('other', 'response.output_item.done', { output_index: 0, item: messageItem(text, 'completed') })
      ]
      const output: Json[] = [messageItem(text, 'completed')]
      if (a.tool !== undefined) {
        const args = a.tool.argPieces.join('')
        frames.push(ev('tool', 'response.output_item.added', { output_index: 1, item: fcItem(a.tool.name, '', 'in_progress') }))
        for (const p of a.tool.argPieces) frames.push(ev('tool', 'response.function_call_arguments.delta', { item_id: fcId, output_index: 1, delta: p }))
        frames.push(ev('tool', 'response.function_call_arguments.done', { item_id: fcId, output_index: 1, arguments: args }))
        frames.push(ev('tool', 'response.output_item.done', { output_index: 1, item: fcItem(a.tool.name, args, 'completed') }))
        output.push(fcItem(a.tool.name, args, 'completed'))
      }
      frames.push(ev('end', 'response.completed', { response: response('completed', output) }))
      frames.forEach((f, i) => { (f.data as Record<string, Json>).sequence_number = i })
      return frames
    },
    textFrame: delta,
    textPath: ['delta'],
    containers: [[]],
    metadata: [{ kind: 'meta', path: ['response', 'model'] }, { kind: 'meta', path: ['response', 'id'] }, { kind: 'text', path: ['item_id'] }],
    errorFrames: (message): Frame[] => [
      { kind: 'other', event: 'error', data: { type: 'error', code: 'server_error', message, param: null, sequence_number: 99 } },
      { kind: 'other', event: 'response.failed', data: { type: 'response.failed', sequence_number: 100, response: { id: respId, object: 'response', status: 'failed', error: { code: 'server_error', message }, model, output: [] } } }
    ],
    unknownEvent: (text) => ({ kind: 'other', event: 'response.reasoning_note.delta', data: { type: 'response.reasoning_note.delta', sequence_number: 50, item_id: msgId, output_index: 0, delta: text } }),
    body: (a) => ({
      ...(response('completed', [
        messageItem(a.pieces.join(''), 'completed'),
        ...(a.tool === undefined ? [] : [fcItem(a.tool.name, a.tool.argPieces.join(''), 'completed')])
      ]) as Record<string, Json>),
      usage: { input_tokens: 12, output_tokens: 30, total_tokens: 42 }
    }),
    bodyTextPath: ['output', 0, 'content', 0, 'text'],
    bodyContainers: [[], ['output', 0], ['output', 0, 'content', 0]],
    bodyMetadata: [['id'], ['model']],
    errorBody: (message) => ({ error: { message, type: 'invalid_request_error', param: null, code: null } })
  }
})()

const anthropic: ProtocolEntry = ((): ProtocolEntry => {
  const msgId = 'msg_01XFDUDYJgAACzvnptvVoYEL'
  const model = 'claude-sonnet-4-20250514'
  const ev = (kind: Frame['kind'], type: string, fields: Record<string, Json> = {}): Frame => ({ kind, event: type, data: { type, ...fields } })
  const delta = (text: string): Frame => ev('text', 'content_block_delta', { index: 0, delta: { type: 'text_delta', text } })
  return {
    name: 'anthropic-messages-sse',
    framing: 'sse',
    route: '/v1/messages',
    request: (stream) => ({ model: 'claude-sonnet-4', max_tokens: 256, stream, messages: [{ role: 'user', content: 'Who should I write to?' }] }),
    tools: true,
    stream: (a) => {
      const frames: Frame[] = [
        ev('meta', 'message_start', { message: { id: msgId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } }),
        ev('meta', 'content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ev('other', 'ping'),
        ...a.pieces.map(delta),
        ev('finish', 'content_block_stop', { index: 0 })
      ]
      if (a.tool !== undefined) {
        frames.push(ev('tool', 'content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: a.tool.name, input: {} } }))
        for (const p of a.tool.argPieces) frames.push(ev('tool', 'content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: p } }))
        frames.push(ev('tool', 'content_block_stop', { index: 1 }))
      }
      frames.push(ev('other', 'message_delta', { delta: { stop_reason: a.tool === undefined ? 'end_turn' : 'tool_use', stop_sequence: null }, usage: { output_tokens: 30 } }))
      frames.push(ev('end', 'message_stop'))
      return frames
    },
    textFrame: delta,
    textPath: ['delta', 'text'],
    containers: [[], ['delta']],
    metadata: [{ kind: 'meta', path: ['message', 'id'] }, { kind: 'meta', path: ['message', 'model'] }],
    errorFrames: (message) => [ev('other', 'error', { error: { type: 'overloaded_error', message } })],
    unknownEvent: (text) => ev('other', 'content_block_note', { index: 0, note: { type: 'note', text } }),
    body: (a) => ({
      id: msgId,
      type: 'message',
      role: 'assistant',
      model,
      content: [
        { type: 'text', text: a.pieces.join('') } as Json,
        // `input` is an object: the argument text goes in as it was written (escapes kept).
        ...(a.tool === undefined ? [] : [{ type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: a.tool.name, input: new Raw(a.tool.argPieces.join('')) }])
      ],
      stop_reason: a.tool === undefined ? 'end_turn' : 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 30 }
    }),
    bodyTextPath: ['content', 0, 'text'],
    bodyContainers: [[], ['content', 0]],
    bodyMetadata: [['id'], ['model']],
    errorBody: (message) => ({ type: 'error', error: { type: 'invalid_request_error', message } })
  }
})()

/** A shape no codec knows: what a new or self-hosted provider may send. */
function unknownEntry (framing: 'sse' | 'ndjson'): ProtocolEntry {
  const chunk = (payload: Record<string, Json>, kind = 'chunk'): Json => ({ kind, trace: 'tr-7f3a', payload })
  return {
    name: framing === 'sse' ? 'unknown-shape-sse' : 'unknown-shape-ndjson',
    framing,
    route: '/v1/chat/completions',
    request: (stream) => ({ model: 'house-model-1', stream, messages: [{ role: 'user', content: 'Who should I write to?' }] }),
    tools: true,
    stream: (a) => {
      const frames: Frame[] = [{ kind: 'meta', data: chunk({ model: 'house-model-1' }, 'start') }]
      for (const p of a.pieces) frames.push({ kind: 'text', data: chunk({ text: p }) })
      if (a.tool !== undefined) {
        for (const p of a.tool.argPieces) frames.push({ kind: 'tool', data: chunk({ call: { name: a.tool.name, args: p } }) })
      }
      frames.push({ kind: 'finish', data: chunk({ reason: 'stop' }, 'end') })
      return frames
    },
    textFrame: (text) => ({ kind: 'text', data: chunk({ text }) }),
    textPath: ['payload', 'text'],
    containers: [[], ['payload']],
    metadata: [{ kind: 'meta', path: ['payload', 'model'] }, { kind: 'text', path: ['trace'] }],
    errorFrames: (message) => [{ kind: 'other', data: { kind: 'error', error: { message } } }],
    unknownEvent: (text) => ({ kind: 'other', event: 'aside', data: { kind: 'aside', payload: { text } } }),
    body: (a) => ({
      result: { text: a.pieces.join(''), ...(a.tool === undefined ? {} : { call: { name: a.tool.name, args: a.tool.argPieces.join('') } }) },
      trace: 'tr-7f3a',
      model: 'house-model-1'
    }),
    bodyTextPath: ['result', 'text'],
    bodyContainers: [[], ['result']],
    bodyMetadata: [['trace'], ['model']],
    errorBody: (message) => ({ detail: message })
  }
}

/** Every protocol the property test draws from. Add an entry here to cover a new one. */
export const protocols: readonly ProtocolEntry[] = [
  chatEntry('sse'),
  chatEntry('ndjson'),
  completions,
  responses,
  anthropic,
  unknownEntry('sse'),
  unknownEntry('ndjson')
]

export function protocolNamed (name: string): ProtocolEntry {
  const entry = protocols.find((p) => p.name === name)
  if (entry === undefined) throw new Error(`no protocol entry ${name}`)
  return entry
}
