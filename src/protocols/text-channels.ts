/**
 * @module protocols/text-channels
 * One scanner per independent stream of text in a response (a choice's
 * content, a tool call's arguments, a content block…), created on first
 * use. Text of one choice must never complete a match begun in another, and
 * each channel's output must equal the whole-text scan of that channel
 * alone, however the upstream split it.
 *
 * A cut on any channel ends the whole response: from then on every scan
 * and finish releases nothing, and what other channels still held back is
 * dropped rather than flushed (it may be the start of what the cut was
 * about, and a response being cut is not worth completing).
 *
 * A channel lives as long as the stream. `finish` releases what it held
 * (the protocol's finish frame must come after its text), but an upstream
 * may go on writing to the same choice or block afterwards — a hostile one
 * does, to split `jane.doe@` | finish | `acme.com` or an insult around the
 * finish so that neither half matches. Text after a finish is therefore
 * scanned by a new scanner primed with the channel's last input (up to
 * kMaxContext characters, the same text the client already has): a match
 * spanning the finish is found, its new part redacted, a cut rule cuts.
 * The primed scanner re-releases that context; those characters are
 * stripped from its output as long as they come back unchanged.
 *
 * State is bounded: at most `maxChannels` channels per stream, and at most
 * `maxHeld` characters held over all of them; past either the stream fails
 * (StreamLimitError, sent in-band by the stream sanitizer), because an
 * upstream opening thousands of choices per megabyte would otherwise cost
 * unbounded memory in one request.
 */
import { StreamLimitError } from '../errors.js'
import type { RuleAction } from '../rules/types.js'
import type { Finding, Scanner } from '../scanner/types.js'
import { rememberClean } from '../scanner/clean-texts.js'
import { createJsonArgumentsScanner } from './json-arguments.js'
import type { ChannelInfo, ChannelScanner, FindingContext } from './types.js'

export interface TextChannelsOptions {
  /** Makes the scanner of a new channel. */
  newScanner: () => Scanner
  /**
   * Keep every channel's released text (the Responses API repeats it in
   * `*.done` events). A function is asked when a channel opens, so `auto`
   * can decide once it knows the protocol.
   */
  accumulate?: boolean | (() => boolean)
  onFinding?: ((finding: Finding, context: FindingContext) => void) | undefined
  onCut?: ((finding: Finding, context: FindingContext) => void) | undefined
  /** Called once, with the first non-empty released text. */
  onFirstText?: () => void
  /** Most channels one stream may open (default 1024). */
  maxChannels?: number
  /** Most characters held back at once over all channels (default 1 Mi). */
  maxHeld?: number
  /**
   * Texts that scanned clean whole, with no finding, under these rules: ids,
   * model names, keys and enum values repeat in every frame and every
   * stream, so `scanOnce` remembers them. Share one set per rule set across
   * streams (a new rule set needs a new set).
   */
  cleanTexts?: Set<string>
}

/** Input characters a channel keeps as context for text written after its finish. */
const kMaxContext = 1024
const kDefaultMaxChannels = 1024
const kDefaultMaxHeld = 1024 * 1024

export interface ChannelStats {
  charsIn: number
  charsOut: number
  findings: Record<RuleAction, number>
  /** Most characters held back at once, summed over channels (the memory the holdback costs). */
  maxHeld: number
}

export interface TextChannels extends ChannelScanner {
  readonly stats: ChannelStats
}

interface Channel {
  info: ChannelInfo
  scanner: Scanner
  ended: boolean
  /** `scanner.held` after the last call. */
  held: number
  accumulate: boolean
  released: string[]
  /** Findings ending before this offset were reported by an earlier scanner of this channel (the primed context). */
  skipBefore: number
  /** The channel's latest input, newest last, about kMaxContext characters (see the module header). */
  recent: string[]
  recentChars: number
  /** Characters of primed context the current scanner will release again, to strip from its output. */
  replay: string
}

function remember (channel: Channel, text: string): void {
  channel.recent.push(text)
  channel.recentChars += text.length
  if (channel.recentChars > 2 * kMaxContext) {
    const joined = channel.recent.join('').slice(-kMaxContext)
    channel.recent = [joined]
    channel.recentChars = joined.length
  }
}

/** Drops the front of `text` that repeats the primed context the client already has. */
function stripReplay (channel: Channel, text: string): string {
  if (channel.replay === '' || text === '') return text
  let n = 0
  const max = Math.min(text.length, channel.replay.length)
  while (n < max && text.charCodeAt(n) === channel.replay.charCodeAt(n)) n++
  // A difference means a redaction now covers part of the context: from
  // there on the output is new and goes out as it is.
  channel.replay = n < max ? '' : channel.replay.slice(n)
  return text.slice(n)
}

/**
 * Creates the channels of one response.
 * @example
 * const channels = createTextChannels({ newScanner: () => createScanner(ruleSet) })
 * const info = { key: '0:content', choice: 0, field: 'content' } as const
 * channels.scan(info, 'Mail me at ali') + channels.scan(info, 'ce@example.com') + channels.finish(info.key)
 */
export function createTextChannels (options: TextChannelsOptions): TextChannels {
  const { newScanner, accumulate = false, onFinding, onCut, onFirstText } = options
  const maxChannels = options.maxChannels ?? kDefaultMaxChannels
  const maxHeld = options.maxHeld ?? kDefaultMaxHeld
  const cleanTexts = options.cleanTexts ?? new Set<string>()
  const channels = new Map<string, Channel>()
  const stats: ChannelStats = { charsIn: 0, charsOut: 0, findings: { redact: 0, cut: 0, flag: 0 }, maxHeld: 0 }
  let cut: Finding | undefined
  let held = 0
  let sawText = false

  function contextOf (info: ChannelInfo): FindingContext {
    return info.part === undefined
      ? { channel: info.key, choice: info.choice, field: info.field }
      : { channel: info.key, choice: info.choice, field: info.field, part: info.part }
  }

  function report (info: ChannelInfo, result: { findings: Finding[], cut?: Finding }, skipBefore: number): void {
    for (const finding of result.findings) {
      if (finding.start + finding.length <= skipBefore) continue
      stats.findings[finding.action]++
      onFinding?.(finding, contextOf(info))
    }
    if (result.cut !== undefined && cut === undefined) {
      cut = result.cut
      // The scanner reports the cut among its findings; count it once.
      if (!result.findings.includes(result.cut)) {
        stats.findings.cut++
        onFinding?.(result.cut, contextOf(info))
      }
      onCut?.(result.cut, contextOf(info))
    }
  }

  function released (text: string): void {
    if (text.length === 0) return
    stats.charsOut += text.length
    if (!sawText) {
      sawText = true
      onFirstText?.()
    }
  }

  function collect (channel: Channel, result: { text: string, findings: Finding[], cut?: Finding }): string {
    const nowHeld = channel.ended ? 0 : channel.scanner.held
    held += nowHeld - channel.held
    channel.held = nowHeld
    if (held > stats.maxHeld) stats.maxHeld = held
    if (held > maxHeld) throw new StreamLimitError(`more than ${maxHeld} characters held back`)
    report(channel.info, result, channel.skipBefore)
    const text = stripReplay(channel, result.text)
    if (text.length > 0) {
      if (channel.accumulate) channel.released.push(text)
      released(text)
    }
    return text
  }

  /** Tool arguments are JSON text that clients parse: scanned as the decoded strings they will read. */
  function scannerFor (info: ChannelInfo): Scanner {
    return info.field === 'tool_arguments' ? createJsonArgumentsScanner(newScanner) : newScanner()
  }

  /** A channel written after its finish: a new scanner primed with its last input (see the module header). */
  function resume (channel: Channel): void {
    const context = channel.recent.join('').slice(-kMaxContext)
    channel.recent = context === '' ? [] : [context]
    channel.recentChars = context.length
    channel.scanner = scannerFor(channel.info)
    channel.ended = false
    // The context was scanned and released before: what the primed scanner
    // releases of it now is dropped, what it holds comes back later (replay).
    channel.scanner.write(context)
    channel.replay = context.slice(context.length - channel.scanner.held)
    channel.skipBefore = context.length
    channel.held = 0
  }

  return {
    scanOnce (info, text, skipBefore = 0) {
      if (cut !== undefined || text.length === 0) return ''
      if (skipBefore === 0 && cleanTexts.has(text)) return text
      const scanner = newScanner()
      const first = scanner.write(text)
      const last = scanner.end()
      const found = scanner.cut
      const findings = [...first.findings, ...last.findings]
      report(info, found === undefined ? { findings } : { findings, cut: found }, skipBefore)
      const out = first.text + last.text
      if (skipBefore === 0) rememberClean(cleanTexts, text, out, findings)
      // Metadata, keys and snapshots are not text the client reads as it
      // streams: they count neither in the text statistics nor as a first token.
      return out
    },
    scan (info, text) {
      if (cut !== undefined || text.length === 0) return ''
      let channel = channels.get(info.key)
      if (channel === undefined) {
        if (channels.size >= maxChannels) throw new StreamLimitError(`more than ${maxChannels} text channels`)
        const keep = typeof accumulate === 'function' ? accumulate() : accumulate
        channel = { info, scanner: scannerFor(info), ended: false, held: 0, accumulate: keep, released: [], recent: [], recentChars: 0, replay: '', skipBefore: 0 }
        channels.set(info.key, channel)
      } else if (channel.ended) {
        resume(channel)
      }
      stats.charsIn += text.length
      remember(channel, text)
      return collect(channel, channel.scanner.write(text))
    },
    finish (key) {
      const channel = channels.get(key)
      if (channel === undefined || channel.ended) return ''
      channel.ended = true
      if (cut !== undefined) {
        held -= channel.held
        channel.held = 0
        return ''
      }
      return collect(channel, channel.scanner.end())
    },
    openChannels () {
      const open: ChannelInfo[] = []
      // The generic JSON path's channels are its own to flush (generic-json.ts).
      for (const channel of channels.values()) if (!channel.ended && !channel.info.key.startsWith('json:')) open.push(channel.info)
      return open
    },
    knownClean (text) {
      return cleanTexts.has(text)
    },
    has (key) {
      return channels.has(key)
    },
    released (key) {
      const channel = channels.get(key)
      if (channel === undefined || !channel.accumulate) return undefined
      if (channel.released.length > 1) channel.released = [channel.released.join('')]
      return channel.released[0] ?? ''
    },
    cutFinding () {
      return cut
    },
    stats
  }
}
