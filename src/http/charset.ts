/**
 * @module http/charset
 * Turns a response body's bytes into the text a client will read, so the
 * scanner sees the same characters: a UTF-16 body read as UTF-8 is NUL-
 * spaced noise that matches no rule, while the client, which honours the
 * charset, reads the e-mail address in it. Sluice sends what it scanned as
 * UTF-8 and labels it so (`charset=utf-8`), whatever came in.
 *
 * Decoding follows the WHATWG Encoding Standard's "decode" (§6): a byte
 * order mark wins over the declared charset and is removed (that is what
 * `fetch().json()`, browsers and most clients do); else the declared
 * charset, by its WHATWG label; else UTF-8. A charset TextDecoder does not
 * know is refused (`SLUICE_UNSUPPORTED_ENCODING`).
 */
import { Transform } from 'node:stream'
import type { TransformCallback } from 'node:stream'
import { TextDecoder } from 'node:util'
import { UnsupportedEncodingError } from '../errors.js'

/** The encoding a byte order mark at the start of `bytes` announces. */
function bomEncoding (bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8'
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le'
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be'
  return undefined
}

/** A decoder for a declared charset label; throws the coded error for a label TextDecoder does not know. */
function decoderFor (label: string): TextDecoder {
  try {
    // Not fatal: invalid bytes become U+FFFD, as in the client's own decoder.
    return new TextDecoder(label)
  } catch {
    throw new UnsupportedEncodingError('charset', label.slice(0, 64))
  }
}

/** Whether a declared charset (or none) means UTF-8. Throws for a charset that cannot be decoded. */
export function isUtf8Charset (label: string | undefined): boolean {
  return label === undefined || label === 'utf-8' || decoderFor(label).encoding === 'utf-8'
}

/**
 * The text of a whole body: BOM first, then the declared charset, then UTF-8.
 * @example
 * decodeBodyText(Buffer.from('\ufeff{"a":1}'), undefined) // '{"a":1}'
 */
export function decodeBodyText (bytes: Uint8Array, charset: string | undefined): string {
  const fromBom = bomEncoding(bytes)
  // TextDecoder removes the BOM of its own encoding (`ignoreBOM` false).
  return decoderFor(fromBom ?? charset ?? 'utf-8').decode(bytes)
}

/**
 * A Transform from a stream in `charset` to UTF-8 bytes, for event streams
 * and NDJSON that declare another charset. Multi-byte sequences split
 * across chunks are kept for the next one (`stream: true`).
 */
export function createCharsetTranscoder (charset: string): Transform {
  const decoder = decoderFor(charset)
  return new Transform({
    transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const text = decoder.decode(chunk, { stream: true })
      callback(null, text === '' ? undefined : Buffer.from(text, 'utf8'))
    },
    flush (callback: TransformCallback) {
      const text = decoder.decode()
      callback(null, text === '' ? undefined : Buffer.from(text, 'utf8'))
    }
  })
}
