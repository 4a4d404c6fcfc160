/**
 * @module playground/sse
 * A small reader of server-sent events for `fetch` bodies (EventSource can
 * only GET, and the playground posts its sample text): text in, one
 * callback per complete event out. Lines end with LF, CRLF or CR, a CR at
 * the end of one chunk may pair with an LF at the start of the next, and
 * the fragments of an unfinished line are kept until it ends (as the HTML
 * standard's event-stream parser does).
 */

/**
 * @param {(event: { event: string, data: string }) => void} onEvent
 * @returns {{ feed: (text: string) => void }}
 * @example
 * const reader = createSseReader(({ event, data }) => console.log(event, JSON.parse(data)))
 * reader.feed('event: write\ndata: {"seq":0}\n\n')
 */
export function createSseReader (onEvent) {
  let pending = ''
  let skipLf = false
  let event = ''
  let data = []

  function line (text) {
    if (text === '') {
      if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n') })
      event = ''
      data = []
      return
    }
    if (text.startsWith(':')) return
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }

  return {
    feed (text) {
      let from = 0
      if (skipLf && text.startsWith('\n')) from = 1
      skipLf = false
      for (let i = from; i < text.length; i++) {
        const c = text[i]
        if (c !== '\n' && c !== '\r') continue
        line(pending + text.slice(from, i))
        pending = ''
        if (c === '\r') {
          if (i + 1 === text.length) skipLf = true
          else if (text[i + 1] === '\n') i++
        }
        from = i + 1
      }
      pending += text.slice(from)
    }
  }
}
