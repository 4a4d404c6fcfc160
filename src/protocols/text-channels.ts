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
 */
import type { RuleAction } from '../rules/types.js'
import type { Finding, Scanner } from '../scanner/types.js'
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
  onFinding?: (finding: Finding, context: FindingContext) => void
  onCut?: (finding: Finding, context: FindingContext) => void
  /** Called once, with the first non-empty released text. */
  onFirstText?: () => void
}

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

  function collect (channel: Channel, result: { text: string, findings: Finding[], cut?: Finding }): string {
    const nowHeld = channel.ended ? 0 : channel.scanner.held
    held += nowHeld - channel.held
    channel.held = nowHeld
    if (held > stats.maxHeld) stats.maxHeld = held
    for (const finding of result.findings) {
      stats.findings[finding.action]++
      onFinding?.(finding, contextOf(channel.info))
    }
    if (result.cut !== undefined && cut === undefined) {
      cut = result.cut
      // The scanner reports the cut among its findings; count it once.
      if (!result.findings.includes(result.cut)) {
        stats.findings.cut++
        onFinding?.(result.cut, contextOf(channel.info))
      }
      onCut?.(result.cut, contextOf(channel.info))
    }
    const text = result.text
    if (text.length > 0) {
      stats.charsOut += text.length
      if (channel.accumulate) channel.released.push(text)
      if (!sawText) {
        sawText = true
        onFirstText?.()
      }
    }
    return text
  }

  return {
    scan (info, text) {
      if (cut !== undefined || text.length === 0) return ''
      let channel = channels.get(info.key)
      if (channel === undefined || channel.ended) {
        // A channel written again after it ended starts afresh (upstream
        // should not do this); its released text keeps accumulating.
        const keep = typeof accumulate === 'function' ? accumulate() : accumulate
        channel = { info, scanner: newScanner(), ended: false, held: 0, accumulate: keep, released: channel?.released ?? [] }
        channels.set(info.key, channel)
      }
      stats.charsIn += text.length
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
      for (const channel of channels.values()) if (!channel.ended) open.push(channel.info)
      return open
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
    get cut () {
      return cut
    },
    stats
  }
}
