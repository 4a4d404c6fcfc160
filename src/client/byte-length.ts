/**
 * @module client/byte-length
 * UTF-8 length of a string without encoding it: the event-size caps are in
 * bytes, as the proxy's are, so a cap does not depend on how the input was
 * split or on which script the text is in.
 */

/** Bytes `text` takes in UTF-8 (a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8Length (text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      bytes += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: 2 units, 4 bytes.
      bytes += 2
      i++
    } else {
      bytes += 2
    }
  }
  return bytes
}
