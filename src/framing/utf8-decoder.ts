/**
 * @module framing/utf8-decoder
 * Incremental UTF-8 decoding of network reads. A multi-byte character split
 * across two reads is held until its last byte arrives, never replaced by
 * U+FFFD (WHATWG Encoding, "decode" with `stream: true`). Invalid bytes
 * become U+FFFD, as in every browser: the stream survives them. A leading
 * BOM is dropped (`ignoreBOM: false`), as SSE requires (HTML §9.2.6).
 */

export interface Utf8Decoder {
  /** Decodes the next read; returns only complete characters. */
  write(bytes: Uint8Array): string
  /** Ends the input: an unfinished character at the very end becomes U+FFFD. */
  end(): string
}

/**
 * Creates a decoder for one stream.
 * @example
 * const decoder = createUtf8Decoder()
 * decoder.write(Buffer.from([0xe2, 0x82])) // ''
 * decoder.write(Buffer.from([0xac]))       // '€'
 */
export function createUtf8Decoder (): Utf8Decoder {
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false })
  return {
    write (bytes) {
      return bytes.length === 0 ? '' : decoder.decode(bytes, { stream: true })
    },
    end () {
      return decoder.decode()
    }
  }
}
